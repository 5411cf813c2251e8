// Push sync: per mirror, a loop that reads this node's binlog from that mirror's synclog position (synclog.ts),
// takes up to `batchRecords` records (uploads in progress and their parts included), keeps each key once (a key's newest states are what the mirror needs;
// records the mirror already acknowledged in a mirrored write are skipped), brings the mirror up to this node
// for each key with `copyKey` (every state newer than the mirror's, tombstones included; the mirror applies a
// state only if it is newer, so replays and any order are harmless), and only then advances and persists the
// position. It can be killed at any point and resumes from the last persisted position.
//
// It runs when woken (a write push sync must ship, a mirror that came back) and on a tick; a mirror that cannot be
// reached is retried with backoff. Lag, per mirror: the binlog records (and their object bytes) between its
// position and the end, less what it acknowledged synchronously — reported with heartbeats (`report`).
//
// Retention: the binlog keeps every segment from the lowest position of the mirrors (Checkpoints floor, via
// `floor`), so a segment is removed only when every mirror applied it (and the index checkpoint covers it). A
// mirror away longer than `retainMs`, or one for which more than `retainBytes` of binlog would have to be kept, is
// marked needsPull: it no longer holds the binlog back, and a recovery pull must bring it back (`join` then sets
// where push sync resumes from).
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { SyncReport } from '../common/cluster-wire.ts';
import type { Binlog, BinlogPosition, BinlogRecord } from './binlog.ts';
import { type Mirror, type MirrorPeers, unitKey } from './mirror-peers.ts';
import type { Synclog } from './synclog.ts';

export interface PushSyncLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Brings `to` up to this node for one key (storage/replica-ship.ts copyKey with the local node as `from`). */
export type CopyKeyTo<P> = (args: {
  to: P;
  bucket: string;
  key: Buffer;
  signal: AbortSignal;
}) => Promise<unknown>;

export interface PushSyncOptions<P> {
  binlog: Pick<Binlog, 'readFrom' | 'confirmed' | 'confirmedCount' | 'oldest' | 'bytesFrom'>;
  synclog: Synclog;
  peers: MirrorPeers<P>;
  copyKey: CopyKeyTo<P>;
  /** Records read per batch (at most). Default 1000. */
  batchRecords?: number;
  /** Keys copied at once. Default 16 (a client's connections; applies on the mirror share its group commits). */
  concurrency?: number;
  /** A key copy that takes longer fails the batch (the mirror is then retried with backoff). Default 120 s. */
  copyTimeoutMs?: number;
  /** Without a wake, each loop looks again after this long (advances positions of mirrors fed by mirrored writes). */
  tickMs?: number;
  /** Backoff while a mirror fails: from `minBackoffMs`, doubling, to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Retention: a mirror away longer than this, or that would need more binlog than `retainBytes`, needs a pull. */
  retainMs: number;
  retainBytes: number;
  /** Wall clock for the retention's age (injectable). */
  now?: () => number;
  log?: PushSyncLog;
}

interface Lane {
  nodeId: string;
  /** The binlog's `confirmedCount` at this mirror's position (undefined until counted). */
  base: { records: number; bytes: number } | undefined;
  /** Pending wake for the loop (resolved by wake/poke). */
  wake: (() => void) | undefined;
  poked: boolean;
  running: Promise<void>;
  backoffMs: number;
  failing: boolean;
  /** Records shipped and skipped (acknowledged synchronously) since start, for tests and metrics. */
  shipped: number;
  skipped: number;
  failures: number;
}

export class PushSync<P> {
  private readonly lanes = new Map<string, Lane>();
  /** `changed` callers, told after every round of any mirror. */
  private waiters: Array<() => void> = [];
  private stopped = false;
  private readonly stopCtl = new AbortController();
  private readonly o: Required<Omit<PushSyncOptions<P>, 'log'>> & { log?: PushSyncLog };

  constructor(opts: PushSyncOptions<P>) {
    this.o = {
      batchRecords: 1000,
      concurrency: 16,
      copyTimeoutMs: 120_000,
      tickMs: 1000,
      minBackoffMs: 100,
      maxBackoffMs: 5000,
      now: Date.now,
      ...opts,
    };
    // Every key copy in flight listens for a stop.
    setMaxListeners(0, this.stopCtl.signal);
    opts.peers.onChange(() => this.onMembers());
  }

  /** Starts a loop for every mirror known (from the synclog, and as the tracker reports members). */
  start(): void {
    for (const id of this.o.synclog.ids()) this.lane(id);
    this.onMembers();
  }

  /** New records to ship (a write of an async bucket, or with a mirror left behind): every idle loop runs now. */
  poke(): void {
    for (const lane of this.lanes.values()) {
      lane.poked = true;
      if (!lane.failing) this.wakeLane(lane);
    }
  }

  /** Where this node's binlog ends now: a recovery pull records it before it starts (then `join`). */
  get end(): BinlogPosition {
    return this.o.binlog.confirmed;
  }

  /** Where the oldest binlog segment still kept starts. */
  oldest(): Promise<BinlogPosition> {
    return this.o.binlog.oldest();
  }

  /** What `nodeId` has applied of this node's binlog (durably recorded); undefined: never seen, or needs a pull. */
  position(nodeId: string): BinlogPosition | undefined {
    const e = this.o.synclog.get(nodeId);
    return e && !e.needsPull ? e.at : undefined;
  }

  /**
   * Push sync to `nodeId` resumes from `at` (a recovery pull began there: it holds everything before), and a
   * needsPull mark is cleared.
   */
  async join(nodeId: string, at: BinlogPosition): Promise<void> {
    await this.o.synclog.set(nodeId, { at });
    const lane = this.lane(nodeId);
    lane.base = undefined;
    lane.backoffMs = 0;
    this.wakeLane(lane);
  }

  /** The lowest position a mirror still needs (Checkpoints' retention floor); undefined: none. */
  floor(): BinlogPosition | undefined {
    let low: BinlogPosition | undefined;
    for (const id of this.o.synclog.ids()) {
      const e = this.o.synclog.get(id)!;
      if (e.needsPull) continue;
      if (!low || before(e.at, low)) low = e.at;
    }
    return low;
  }

  /** Per mirror, what it lacks of this node's binlog (heartbeat `sync`). */
  report(): SyncReport[] {
    const now = this.o.binlog.confirmedCount;
    const out: SyncReport[] = [];
    for (const lane of this.lanes.values()) {
      const entry = this.o.synclog.get(lane.nodeId);
      const ahead = this.o.peers.get(lane.nodeId)?.ahead ?? { records: 0, bytes: 0 };
      // Not counted yet (the loop's first round reads the binlog from the position): nothing to say yet, but a
      // mirror that needs a pull is said so.
      const base = lane.base ?? (entry?.needsPull ? now : undefined);
      if (!base) continue;
      out.push({
        nodeId: lane.nodeId,
        lagOps: Math.max(0, now.records - base.records - ahead.records),
        lagBytes: Math.max(0, now.bytes - base.bytes - ahead.bytes),
        ...(entry?.needsPull ? { needsPull: true } : {}),
        ...(this.o.peers.get(lane.nodeId)?.behind !== false ? { behind: true } : {}),
      });
    }
    return out;
  }

  /** Keys shipped, records skipped (acknowledged synchronously) and failed rounds per mirror since start. */
  counters(nodeId: string): { shipped: number; skipped: number; failures: number } | undefined {
    const l = this.lanes.get(nodeId);
    return l && { shipped: l.shipped, skipped: l.skipped, failures: l.failures };
  }

  /** Resolves after the next round of any mirror's loop (tests wait on it instead of a timer). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once `nodeId` has applied everything confirmed in the binlog now; rejects when `signal` aborts. */
  async caughtUp(nodeId: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const target = this.o.binlog.confirmed;
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(opts.signal?.reason ?? new Error('aborted'));
      if (opts.signal?.aborted) fail();
      else opts.signal?.addEventListener('abort', fail, { once: true });
    });
    aborted.catch(() => undefined);
    for (;;) {
      const next = this.changed();
      const e = this.o.synclog.get(nodeId);
      if (e && !e.needsPull && !before(e.at, target)) return;
      if (this.stopped) throw new Error('push sync stopped');
      await Promise.race([next, aborted]);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopCtl.abort();
    for (const lane of this.lanes.values()) this.wakeLane(lane);
    await Promise.all([...this.lanes.values()].map((l) => l.running));
    this.notify();
  }

  private onMembers(): void {
    for (const m of this.o.peers.all()) {
      const lane = this.lane(m.nodeId);
      // A mirror that came back is tried at once, not after the backoff it had earned.
      if (m.reachable) {
        lane.backoffMs = 0;
        this.wakeLane(lane);
      }
    }
  }

  private lane(nodeId: string): Lane {
    let lane = this.lanes.get(nodeId);
    if (lane) return lane;
    lane = {
      nodeId,
      base: undefined,
      wake: undefined,
      poked: true,
      running: Promise.resolve(),
      backoffMs: 0,
      failing: false,
      shipped: 0,
      skipped: 0,
      failures: 0,
    };
    this.lanes.set(nodeId, lane);
    if (!this.stopped) lane.running = this.run(lane);
    return lane;
  }

  private wakeLane(lane: Lane): void {
    const w = lane.wake;
    lane.wake = undefined;
    w?.();
  }

  /** Waits for a wake, or `ms` (a tick or a backoff). */
  private async sleep(lane: Lane, ms: number): Promise<void> {
    if (this.stopped) return;
    const woken = new Promise<void>((resolve) => {
      lane.wake = resolve;
    });
    const ctl = new AbortController();
    await Promise.race([woken, delay(ms, undefined, { signal: ctl.signal }).catch(() => undefined)]);
    ctl.abort();
    lane.wake = undefined;
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async run(lane: Lane): Promise<void> {
    while (!this.stopped) {
      try {
        const idle = await this.step(lane);
        this.notify();
        if (idle === 'busy') continue;
        await this.sleep(lane, idle === 'backoff' ? lane.backoffMs : this.o.tickMs);
      } catch (err) {
        // Something local failed (reading the binlog, writing the synclog): try again later.
        this.o.log?.warn({ mirror: lane.nodeId, err: (err as Error).message }, 'push sync: step failed');
        lane.backoffMs = nextBackoff(lane.backoffMs, this.o);
        this.notify();
        await this.sleep(lane, lane.backoffMs);
      }
    }
  }

  /** One round for one mirror: 'busy' (more to ship), 'idle' (caught up or nothing to do), 'backoff' (failing). */
  private async step(lane: Lane): Promise<'busy' | 'idle' | 'backoff'> {
    const o = this.o;
    let entry = o.synclog.get(lane.nodeId);
    if (!entry) {
      // A mirror seen for the first time: everything kept is shipped to it (replays are harmless).
      await o.synclog.set(lane.nodeId, { at: await o.binlog.oldest() });
      entry = o.synclog.get(lane.nodeId)!;
    }
    if (entry.needsPull) return 'idle';
    if (before(entry.at, await o.binlog.oldest())) {
      await this.markNeedsPull(lane, 'its position is in a binlog segment already removed');
      return 'idle';
    }
    if (!lane.base) lane.base = await this.countFrom(entry.at);
    // A join during this round moves the position: its count is then redone, not advanced from this one.
    const base = lane.base;
    const mirror = o.peers.get(lane.nodeId);
    if (!mirror?.reachable) {
      await this.away(lane, entry.awaySinceMs ?? o.now());
      return 'idle';
    }
    // Misses noted before this point are of records already confirmed: a round that reaches `until` with no new
    // miss meanwhile has delivered them all.
    const missesAtStart = mirror.misses;
    const until = o.binlog.confirmed;
    const untilCount = o.binlog.confirmedCount;
    // A poke from here on is for records this round may not see: it makes the loop look again.
    lane.poked = false;
    const batch = await this.readBatch(entry.at, until);
    if (batch.records.length === 0) {
      // Unless a join moved the position meanwhile, everything up to `until` is delivered.
      if (lane.base === base) {
        lane.base = untilCount;
        if (mirror.misses === missesAtStart) mirror.behind = false;
      }
      // Past any voided records up to the end: the position reaches it (caughtUp compares positions).
      return this.succeeded(lane, mirror, batch.next, 'idle');
    }
    const keys = new Map<string, { bucket: string; key: Buffer }>();
    for (const r of batch.records) {
      if (mirror.takeAcked(unitKey(r.bucket, r.key, r.opver.counter, r.opver.nodeId))) {
        lane.skipped++;
        continue;
      }
      keys.set(`${r.bucket}\0${r.key.toString('latin1')}`, { bucket: r.bucket, key: r.key });
    }
    try {
      await eachLimited([...keys.values()], o.concurrency, (k) => this.copyOne(mirror, k.bucket, k.key));
    } catch (err) {
      if (this.stopped) return 'idle';
      if (!lane.failing)
        o.log?.warn(
          { mirror: lane.nodeId, err: (err as Error).message },
          'push sync: mirror unreachable; retrying with backoff',
        );
      lane.failing = true;
      lane.failures++;
      mirror.responsive = false;
      lane.backoffMs = nextBackoff(lane.backoffMs, o);
      await this.away(lane, entry.awaySinceMs ?? o.now());
      return 'backoff';
    }
    lane.shipped += keys.size;
    if (lane.base === base) {
      lane.base = { records: base.records + batch.count, bytes: base.bytes + batch.bytes };
      if (batch.complete && mirror.misses === missesAtStart) mirror.behind = false;
    }
    return this.succeeded(lane, mirror, batch.next, batch.complete ? 'idle' : 'busy');
  }

  private async succeeded(
    lane: Lane,
    mirror: Mirror<P>,
    at: BinlogPosition,
    result: 'busy' | 'idle',
  ): Promise<'busy' | 'idle'> {
    const entry = this.o.synclog.get(lane.nodeId);
    if (!entry || before(entry.at, at) || entry.awaySinceMs !== undefined)
      await this.o.synclog.set(lane.nodeId, { at });
    if (lane.failing) this.o.log?.info({ mirror: lane.nodeId }, 'push sync: mirror reachable again');
    lane.failing = false;
    lane.backoffMs = 0;
    mirror.responsive = true;
    // Poked meanwhile: look again at once.
    if (result === 'idle' && lane.poked) return 'busy';
    return result;
  }

  /** The mirror cannot be reached: note since when, and mark it for a pull once away past the retention. */
  private async away(lane: Lane, sinceMs: number): Promise<void> {
    const o = this.o;
    const entry = o.synclog.get(lane.nodeId);
    if (!entry || entry.needsPull) return;
    if (entry.awaySinceMs === undefined) await o.synclog.set(lane.nodeId, { ...entry, awaySinceMs: sinceMs });
    if (o.now() - sinceMs > o.retainMs)
      return this.markNeedsPull(lane, `away for more than ${Math.round(o.retainMs / 1000)} s`);
    if ((await o.binlog.bytesFrom(entry.at)) > o.retainBytes)
      return this.markNeedsPull(
        lane,
        `more than ${o.retainBytes} bytes of binlog would have to be kept for it`,
      );
  }

  private async markNeedsPull(lane: Lane, why: string): Promise<void> {
    const entry = this.o.synclog.get(lane.nodeId);
    if (!entry || entry.needsPull) return;
    await this.o.synclog.set(lane.nodeId, { ...entry, needsPull: true });
    this.o.log?.warn(
      { mirror: lane.nodeId },
      `push sync: mirror needs a recovery pull (${why}); the binlog is no longer kept for it`,
    );
  }

  private async copyOne(mirror: Mirror<P>, bucket: string, key: Buffer): Promise<void> {
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    this.stopCtl.signal.addEventListener('abort', stop);
    const timer = setTimeout(() => ctl.abort(), this.o.copyTimeoutMs);
    try {
      const call = this.o.copyKey({ to: mirror.peer, bucket, key, signal: ctl.signal });
      const aborted = new Promise<never>((_, reject) => {
        ctl.signal.addEventListener('abort', () => reject(new Error('key copy timed out or stopped')));
      });
      call.catch(() => undefined);
      await Promise.race([call, aborted]);
    } finally {
      clearTimeout(timer);
      this.stopCtl.signal.removeEventListener('abort', stop);
    }
  }

  /** The binlog's confirmedCount at `at`: what it is now, less the live records from `at` to the end. */
  private async countFrom(at: BinlogPosition): Promise<{ records: number; bytes: number }> {
    const until = this.o.binlog.confirmed;
    const now = this.o.binlog.confirmedCount;
    let records = 0;
    let bytes = 0;
    for await (const r of this.o.binlog.readFrom(at, { until })) {
      records++;
      bytes += r.record.size;
    }
    return { records: now.records - records, bytes: now.bytes - bytes };
  }

  private async readBatch(
    at: BinlogPosition,
    until: BinlogPosition,
  ): Promise<{
    records: BinlogRecord[];
    next: BinlogPosition;
    count: number;
    bytes: number;
    complete: boolean;
  }> {
    const records: BinlogRecord[] = [];
    let next = at;
    let bytes = 0;
    let complete = true;
    for await (const r of this.o.binlog.readFrom(at, { until })) {
      if (records.length >= this.o.batchRecords) {
        complete = false;
        break;
      }
      records.push(r.record);
      bytes += r.record.size;
      next = r.next;
    }
    // Nothing live left before `until` (voided records at the end): the position may still move up to it.
    if (complete) next = until;
    return { records, next, count: records.length, bytes, complete };
  }
}

function before(a: BinlogPosition, b: BinlogPosition): boolean {
  return a.file < b.file || (a.file === b.file && a.offset < b.offset);
}

function nextBackoff(ms: number, o: { minBackoffMs: number; maxBackoffMs: number }): number {
  return Math.min(o.maxBackoffMs, Math.max(o.minBackoffMs, ms * 2));
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
