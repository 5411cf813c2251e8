// Recovery pull: a storage node whose store is empty (a fresh data directory, a replaced disk, or a new member
// added to a syncgroup) fills itself from a live mirror before it serves anything.
//
// Every step is driven by the tracker's heartbeat replies, which list the syncgroup's other members with their
// state, object counts and push-sync reports (`onMembers`):
//   deciding     the store is empty and no pull began here (no recovery.json): pick the live ('up') member holding
//                the most objects; none holds any → nothing to pull, serve; only silent members → wait for them.
//   pulling      first, before any key is copied, recovery.json records per live member where its push sync toward
//                this node must start (`syncPosition`): the source's binlog end (everything before is in its store,
//                which the scan reads), and for another member what the source has applied of its binlog; each
//                member's push sync ships to this node from there on at once. Then
//                `scanKeys` pages of the source, `copyKey` source → local for each key (recovery-pull-keys.ts), the
//                cursor kept in recovery.json every few hundred keys or seconds; a kill resumes after it. Mirrored
//                writes and push sync reach the node meanwhile and are applied as they come (apply-if-newer).
//   catching-up  the scan reached the end: each member's push sync is told to ship to this node from the recorded
//                position (`joinPushSync`, kept if push sync is past it already), and answers once this node has
//                applied its whole binlog as it stood then (or after a bounded wait: asked again at the next beat).
//                Writes after that reach the node by mirroring and push sync like any member's.
//   serving      recovery.json says done; the node answers user calls. A live member reporting that this node
//                stayed away past its binlog retention (`needsPull`) sends it back to pulling. So does a member
//                that left this node behind (`behind`, `needsPull`) and has been silent for `resyncAfterMs`: its
//                push sync, the only way its missed writes reach this node, is gone with it, while a member it did
//                not leave behind holds them (a syncgroup of three or more). The pull copies from such a current
//                member; once done, the node reports those silent members in `resynced`, and gateways and the
//                tracker stop counting their last reports (`reportStands`) while they stay silent.
// Until serving, the node reports phase 'recovering' with its progress (the registry's state 'recovering', which
// gateways do not route to), and its storage HTTP server refuses every user call with NodeRecoveringError
// (retryable) while it accepts what mirroring and push sync send (`gate`).
import { setTimeout as delay } from 'node:timers/promises';
import type { NodeView, RecoveryReport } from '../common/cluster-wire.ts';
import type { Disk } from '../common/disk.ts';
import type { NodeStats } from './api.ts';
import type { BinlogPosition } from './binlog-record.ts';
import { NodeRecoveringError } from './errors.ts';
import {
  type KeyRef,
  loadRecoveryState,
  type RecoveryState,
  saveRecoveryState,
} from './recovery-pull-file.ts';
import { type KeyCopied, PullAborted, type PullSource, pullKeys } from './recovery-pull-keys.ts';
import type { ScannedKey } from './replica-scan.ts';

type ResyncedFrom = NonNullable<RecoveryState['resyncFor']>[number];

/** A member as the pull uses it (a StorageClient over HTTP). */
export interface PullPeer extends PullSource {
  stats(): Promise<NodeStats>;
  /**
   * Where push sync toward a node pulling from `toward` must start in this member's binlog; with `forNode`, push
   * sync toward that node starts there now (PushSyncControl).
   */
  syncPosition(toward: string, forNode?: string): Promise<BinlogPosition>;
  /** Push sync of this member ships to `nodeId` from `at` on, and says whether it caught up (PushSyncControl). */
  joinPushSync(nodeId: string, at: BinlogPosition, waitMs: number): Promise<JoinResult>;
}

export interface JoinResult {
  /** `nodeId` has applied every record of the member's binlog that was confirmed when the call came. */
  caughtUp: boolean;
  /** The member no longer keeps the binlog from `at` (it was removed): only a new pull can bring the node up. */
  needsPull?: boolean;
}

/** What a member's push sync offers a recovery pull (storage/push-sync.ts), behind the two internal calls. */
export interface PushSyncControl {
  /**
   * This node's binlog end when `toward` is this node; else what `toward` has applied of this node's binlog. With
   * `forNode` (a node beginning a pull), push sync toward it is set there at once: it ships the writes made during
   * the pull as they come, instead of the whole binlog kept (a mirror it never saw) or nothing (one marked for a
   * pull), and the binlog from there is kept for it.
   */
  position(toward: string, forNode?: string): Promise<BinlogPosition>;
  /**
   * Ships this node's binlog to `nodeId` from `at` on (a position push sync already passed is kept), then waits at
   * most `waitMs` for it to apply everything confirmed now.
   */
  join(nodeId: string, at: BinlogPosition, waitMs: number): Promise<JoinResult>;
}

export interface RecoveryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RecoveryPullOptions<P extends PullPeer = PullPeer> {
  dataDir: string;
  disk: Disk;
  /** This node's id (8 hex digits), as the tracker and its mirrors know it. */
  nodeId: string;
  /** The local node's stats: a node holding no object and no recovery.json pulls. */
  localStats: () => Promise<NodeStats>;
  /** A client for the member whose storage API answers at `url`. */
  connect: (url: string) => P;
  /**
   * Brings the local node up to `from` for one key (storage/replica-ship.ts copyKey); `scanned`: what the scan's
   * page brought of the key (replica-scan.ts prefetchedEnd answers from it), absent when the source offers none.
   */
  copyKey: (from: P, ref: KeyRef, scanned?: ScannedKey) => Promise<KeyCopied>;
  log: RecoveryLog;
  /** Keys copied at once (default 32). */
  concurrency?: number;
  /** Keys per scanKeys page (default 512). */
  pageSize?: number;
  /** Object bytes copied per second at most (0 or absent: as fast as the disks and network go). */
  bytesPerSecond?: number;
  /** recovery.json is rewritten after this many keys (default 256) or this many ms (default 2000), whichever first. */
  saveEveryKeys?: number;
  saveEveryMs?: number;
  /** A progress line every this many ms (default 5000). */
  logEveryMs?: number;
  /** Wall-clock ms (start times, rates). */
  now?: () => number;
  /** How long one joinPushSync call waits for push sync to catch this node up (default 10 s; asked again after). */
  joinWaitMs?: number;
  /** After each durable write of recovery.json, with what it holds (tests pause on it). */
  onSaved?: (state: RecoveryState) => void;
  /**
   * How long a member that left this node behind must be silent before this node pulls what it missed from a
   * current member (default 30 s: past a restart, or a pause the tracker already calls suspect).
   */
  resyncAfterMs?: number;
}

export type RecoveryStep = 'serving' | 'deciding' | 'pulling' | 'catching-up';

/**
 * The storage calls a recovering node still answers: its stats, and what mirroring and push sync send it
 * (`copyKey` asks the target's states to send only what it lacks; a partial answer only means more is sent).
 */
const WHILE_RECOVERING = new Set([
  'stats',
  'replicaStates',
  'applyReplica',
  'uploadStates',
  'applyUpload',
  'dropBucket',
]);

const JOIN_WAIT_MS = 10_000;
const RESYNC_AFTER_MS = 30_000;

/** Whether `reporter` reports that member `nodeId` lacks some of its writes (gateways then route around it). */
function leftBehindBy(reporter: NodeView, nodeId: string): boolean {
  return (
    reporter.sync?.some((r) => r.nodeId === nodeId && (r.behind === true || r.needsPull === true)) ?? false
  );
}

export class RecoveryPull<P extends PullPeer = PullPeer> {
  private step: RecoveryStep;
  private state: RecoveryState | undefined;
  private members: readonly NodeView[] = [];
  private membersAtMs = 0;
  /** When this node last began serving (0: it served from the start). */
  private servingSinceMs = 0;
  private pull: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private saving: Promise<void> = Promise.resolve();
  private lastSaveMs = 0;
  private keysSinceSave = 0;
  private lastLogMs = 0;
  private lastWaitLogMs = 0;
  private advancing = false;
  /** This run's copying, for the rate: started when the scan (re)started. */
  private run = { startMs: 0, objects: 0, bytes: 0 };
  /** Bytes copied in this run, counted as each copy ends (the throttle). */
  private paced = 0;
  private servingNow!: () => void;
  private stopped = false;
  /** Resolves when the node serves (at once for a node that never needed a pull). */
  readonly serving: Promise<void>;

  private constructor(
    private readonly opts: RecoveryPullOptions<P>,
    state: RecoveryState | undefined,
    step: RecoveryStep,
  ) {
    this.state = state;
    this.step = step;
    this.serving = new Promise((done) => {
      this.servingNow = done;
    });
    if (step === 'serving') this.servingNow();
  }

  /** Reads recovery.json and the local store: serving, resuming a pull, or deciding whether one is needed. */
  static async open<P extends PullPeer>(opts: RecoveryPullOptions<P>): Promise<RecoveryPull<P>> {
    const state = await loadRecoveryState(opts.dataDir);
    if (state && !state.done) {
      opts.log.info(
        { source: state.sourceNodeId, objects: state.objects, bytes: state.bytes, pulled: state.pulled },
        state.pulled
          ? 'recovery pull: resuming the catch-up (the scan was finished)'
          : 'recovery pull: resuming after the persisted cursor',
      );
      return new RecoveryPull(opts, state, state.pulled ? 'catching-up' : 'pulling');
    }
    // A node that finished a pull and later lost its store (another disk swap) pulls again.
    const stats = await opts.localStats();
    if (stats.objects === 0) return new RecoveryPull(opts, undefined, 'deciding');
    return new RecoveryPull(opts, state, 'serving'); // a finished pull's state: what it resynced
  }

  get phase(): RecoveryStep {
    return this.step;
  }

  /** What the heartbeat says about recovery (once serving: the silent members whose missed writes it pulled). */
  report(): { phase?: 'recovering'; recovery?: RecoveryReport; resynced?: ResyncedFrom[] } {
    if (this.step === 'serving') {
      const resynced = this.state?.done ? this.state.resyncFor : undefined;
      return resynced?.length ? { resynced } : {};
    }
    const s = this.state;
    if (!s) return { phase: 'recovering' };
    const eta = this.etaSeconds();
    return {
      phase: 'recovering',
      recovery: {
        fromNodeId: s.sourceNodeId,
        startedMs: s.startedMs,
        objects: s.objects,
        bytes: s.bytes,
        ...(s.totalObjects !== undefined ? { totalObjects: s.totalObjects } : {}),
        ...(s.totalBytes !== undefined ? { totalBytes: s.totalBytes } : {}),
        ...(eta !== undefined ? { etaSeconds: eta } : {}),
      },
    };
  }

  /** For the storage HTTP server: refuses a user call while the node is not serving. */
  gate(method: string): void {
    if (this.step !== 'serving' && !WHILE_RECOVERING.has(method)) throw new NodeRecoveringError();
  }

  /**
   * The syncgroup's other members, from a heartbeat reply: moves the pull along. Resolves when this step is taken
   * (a scan it starts goes on in the background). Never rejects.
   */
  onMembers(members: readonly NodeView[]): Promise<void> {
    this.members = members;
    this.membersAtMs = this.now();
    if (this.stopped) return Promise.resolve();
    return this.advance().catch((err: unknown) =>
      this.opts.log.warn({ err: (err as Error).message }, 'recovery pull: step failed; retrying'),
    );
  }

  /** Resolves when the scan running now ends (at once when none runs); never rejects. */
  scanEnded(): Promise<void> {
    return (this.pull ?? Promise.resolve()).catch(() => undefined);
  }

  /** Stops a pull in progress (the cursor is kept); a later start resumes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.pull?.catch(() => undefined);
    if (this.state && !this.state.done) this.save();
    await this.saving;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async advance(): Promise<void> {
    if (this.advancing) return;
    this.advancing = true;
    try {
      if (this.step === 'serving') {
        await this.checkNeedsPull();
        if (this.step === 'serving') return;
      }
      if (this.step === 'deciding') await this.decide();
      if (this.step === 'pulling' && !this.pull) await this.startScan();
      if (this.step === 'catching-up') await this.catchUp();
    } finally {
      this.advancing = false;
    }
  }

  /**
   * A serving node that a live member stopped keeping binlog for (away past the retention) pulls again; so does one
   * a silent member left behind (see the file comment).
   */
  private async checkNeedsPull(): Promise<void> {
    const me = this.opts.nodeId;
    // Only reports sent after this node began serving: one from before its pull's join may still carry the mark.
    const marked = this.members.find(
      (m) =>
        m.state === 'up' &&
        this.reportedAt(m) > this.servingSinceMs &&
        m.sync?.some((r) => r.nodeId === me && r.needsPull),
    );
    if (!marked) return this.checkLeftBehind();
    this.opts.log.warn(
      { by: marked.nodeId },
      'recovery pull: a mirror no longer keeps its binlog for this node (away past the retention); pulling again',
    );
    const source = this.bestSource();
    if (source) await this.begin(source);
  }

  /** Members that left this node behind and stayed silent: pull what they had from a member they did not. */
  private async checkLeftBehind(): Promise<void> {
    const me = this.opts.nodeId;
    const s = this.state?.done ? this.state : undefined;
    // A member heard again (or gone from the list) reports for itself again: no longer covered.
    const covered = (s?.resyncFor ?? []).filter((r) =>
      this.members.some((m) => m.nodeId === r.nodeId && m.state === 'suspect' && m.startedMs === r.startedMs),
    );
    if (s && covered.length !== (s.resyncFor?.length ?? 0)) {
      s.resyncFor = covered;
      this.save();
    }
    const afterMs = this.opts.resyncAfterMs ?? RESYNC_AFTER_MS;
    const silent = this.members.filter(
      (m) =>
        m.state === 'suspect' &&
        m.silentMs >= afterMs &&
        leftBehindBy(m, me) &&
        !covered.some((r) => r.nodeId === m.nodeId && r.startedMs === m.startedMs),
    );
    if (silent.length === 0) return;
    const ids = silent.map((m) => m.nodeId);
    const source = this.members
      .filter((m) => m.state === 'up' && !silent.some((x) => leftBehindBy(x, m.nodeId)))
      .sort((a, b) => b.objects - a.objects)[0];
    if (!source) {
      this.waitLog(
        { silent: ids },
        'recovery pull: a silent member left this node behind and no live member holds its writes; waiting',
      );
      return;
    }
    this.opts.log.warn(
      { silent: ids, source: source.nodeId },
      'recovery pull: a member that left this node behind is silent; pulling what it missed from a current member',
    );
    await this.begin(source, [
      ...covered,
      ...silent.map((m) => ({ nodeId: m.nodeId, startedMs: m.startedMs })),
    ]);
  }

  private bestSource(exclude?: string): NodeView | undefined {
    return this.members
      .filter((m) => m.state === 'up' && m.objects > 0 && m.nodeId !== exclude)
      .sort((a, b) => b.objects - a.objects)[0];
  }

  /** An empty node with no pull begun: is there anything to pull, and from whom? */
  private async decide(): Promise<void> {
    const source = this.bestSource();
    if (source) return this.begin(source);
    if (this.members.some((m) => m.state === 'up') || !this.members.some((m) => m.state === 'suspect')) {
      // The live members hold nothing (or there are none): there is nothing to pull. No file is written: the
      // store is still empty at the next start, and the same question is asked again.
      this.opts.log.info({ members: this.members.length }, 'recovery pull: no mirror holds data; serving');
      return this.finish();
    }
    this.waitLog({ suspect: this.members.map((m) => m.nodeId) }, 'recovery pull: waiting for a live mirror');
  }

  /**
   * Starts a pull from `source` at its first key: records where each live member's push sync toward this node
   * must start, before any key is copied (a member that does not answer is left out: push sync ships a mirror it
   * never saw everything its binlog still holds).
   */
  private async begin(source: NodeView, resyncFor = this.state?.resyncFor): Promise<void> {
    const peer = this.opts.connect(source.url);
    const joinAt: Record<string, BinlogPosition> = {
      [source.nodeId]: await peer.syncPosition(source.nodeId, this.opts.nodeId),
    };
    for (const m of this.members) {
      if (m.state !== 'up' || m.nodeId === source.nodeId) continue;
      const at = await this.opts
        .connect(m.url)
        .syncPosition(source.nodeId, this.opts.nodeId)
        .catch(() => undefined);
      if (at) joinAt[m.nodeId] = at;
    }
    const totals = await peer.stats().then(
      (s) => ({ totalObjects: s.objects, totalBytes: s.volumes.reduce((n, v) => n + v.liveBytes, 0) }),
      () => ({}),
    );
    this.state = {
      sourceNodeId: source.nodeId,
      startedMs: this.now(),
      objects: 0,
      bytes: 0,
      ...totals,
      joinAt,
      pulled: false,
      joined: false,
      done: false,
      ...(resyncFor?.length ? { resyncFor } : {}),
    };
    this.save();
    await this.saving;
    this.step = 'pulling';
    this.opts.log.info(
      { source: source.nodeId, sourceUrl: source.url, ...totals },
      'recovery pull: pulling from a live mirror',
    );
  }

  /** Starts (or resumes after the cursor) the scan of the source, or picks another source if it is not up. */
  private async startScan(): Promise<void> {
    const s = this.state!;
    const source = this.members.find((m) => m.nodeId === s.sourceNodeId);
    if (source?.state !== 'up') {
      // The source is silent: another live member with data takes over, from its first key (keys already copied
      // answer 'stale'), with push-sync positions taken toward it.
      const other = this.bestSource(s.sourceNodeId);
      if (!other) {
        this.waitLog({ source: s.sourceNodeId }, 'recovery pull: waiting for the source mirror to be up');
        return;
      }
      this.opts.log.warn(
        { from: s.sourceNodeId, to: other.nodeId },
        'recovery pull: the source mirror is not up; pulling from another one, from its first key',
      );
      await this.begin(other);
      return this.startScan();
    }
    const peer = this.opts.connect(source.url);
    this.run = { startMs: this.now(), objects: 0, bytes: 0 };
    this.paced = 0;
    this.opts.log.info(
      { source: source.nodeId, after: s.cursor ? cursorText(s.cursor) : null },
      s.cursor ? 'recovery pull: resuming the scan after the cursor' : 'recovery pull: scanning the source',
    );
    this.pull = pullKeys({
      source: peer,
      copy: (ref, scanned) => this.opts.copyKey(peer, ref, scanned),
      pace: (copied) => this.pace(copied.bytes),
      ...(s.cursor ? { after: s.cursor } : {}),
      ...(this.opts.concurrency !== undefined ? { concurrency: this.opts.concurrency } : {}),
      ...(this.opts.pageSize !== undefined ? { pageSize: this.opts.pageSize } : {}),
      signal: this.abort.signal,
      onCursor: (cursor, copied) => this.copied(cursor, copied),
    })
      .then(
        () => {
          s.pulled = true;
          this.save();
          this.step = 'catching-up';
          this.logProgress('recovery pull: scan complete; joining push sync');
        },
        (err: unknown) => {
          if (err instanceof PullAborted || this.stopped) return;
          // The next heartbeat reply resumes after the cursor (from this source if it is still up).
          this.save();
          this.opts.log.warn(
            { err: (err as Error).message, source: source.nodeId },
            'recovery pull: copying from the source failed; resuming after the cursor',
          );
        },
      )
      .finally(() => {
        this.pull = undefined;
      });
  }

  /**
   * Tells each member's push sync where to start for this node and waits (bounded) for it to catch this node up;
   * done once the source (and every other live member that answers) has.
   */
  private async catchUp(): Promise<void> {
    const s = this.state!;
    const me = this.opts.nodeId;
    const source = this.members.find((m) => m.nodeId === s.sourceNodeId);
    if (source?.state !== 'up') {
      this.waitLog({ source: s.sourceNodeId }, 'recovery pull: waiting for the source mirror to be up');
      return;
    }
    let caughtUp = true;
    for (const [nodeId, at] of Object.entries(s.joinAt)) {
      const m = this.members.find((x) => x.nodeId === nodeId);
      if (m?.state !== 'up') continue;
      const isSource = nodeId === s.sourceNodeId;
      // The source must answer; another member that does not ships everything it keeps (a mirror it never saw).
      const r = await this.opts
        .connect(m.url)
        .joinPushSync(me, at, this.opts.joinWaitMs ?? JOIN_WAIT_MS)
        .catch((err: unknown) => {
          if (isSource) throw err;
          return { caughtUp: true } as JoinResult;
        });
      if (r.needsPull) {
        this.opts.log.warn(
          { member: nodeId },
          'recovery pull: a member no longer keeps the binlog this node needs; pulling again',
        );
        const next = this.bestSource();
        if (next) await this.begin(next);
        return;
      }
      if (!r.caughtUp) caughtUp = false;
    }
    if (!s.joined) {
      s.joined = true;
      this.save();
      this.opts.log.info(
        { joinAt: s.joinAt },
        'recovery pull: push sync ships to this node from the recorded positions',
      );
    }
    if (!caughtUp) {
      const lag = source.sync?.find((r) => r.nodeId === me);
      this.waitLog(
        { source: s.sourceNodeId, lagOps: lag?.lagOps ?? null, lagBytes: lag?.lagBytes ?? null },
        'recovery pull: waiting for push sync to catch this node up',
      );
      return;
    }
    s.done = true;
    this.save();
    await this.saving;
    this.logProgress('recovery pull: done; the node is caught up and serving');
    this.finish();
  }

  /**
   * Throttle, after each key (pullKeys' `pace`): waits until the bytes copied in this run are within
   * `bytesPerSecond` of its start. A large object is copied at full speed and the keys after it wait.
   */
  private async pace(bytes: number): Promise<void> {
    const rate = this.opts.bytesPerSecond ?? 0;
    if (rate <= 0) return;
    this.paced += bytes;
    const waitMs = this.run.startMs + (this.paced / rate) * 1000 - this.now();
    // The cursor as it stands is kept before a long wait: a kill during it resumes after every key copied so far.
    if (waitMs >= 500 && this.keysSinceSave > 0) this.save();
    if (waitMs > 0)
      await delay(Math.min(waitMs, 10_000), undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** When `m` sent the heartbeat its view comes from (this node's clock). */
  private reportedAt(m: NodeView): number {
    return this.membersAtMs - m.silentMs;
  }

  private finish(): void {
    this.servingSinceMs = this.now();
    this.step = 'serving';
    this.servingNow();
  }

  private copied(cursor: KeyRef, copied: KeyCopied): void {
    const s = this.state!;
    s.cursor = cursor;
    s.objects++;
    s.bytes += copied.bytes;
    this.run.objects++;
    this.run.bytes += copied.bytes;
    const now = this.now();
    const saveEveryKeys = this.opts.saveEveryKeys ?? 256;
    const saveEveryMs = this.opts.saveEveryMs ?? 2000;
    if (++this.keysSinceSave >= saveEveryKeys || now - this.lastSaveMs >= saveEveryMs) this.save();
    if (now - this.lastLogMs >= (this.opts.logEveryMs ?? 5000)) this.logProgress('recovery pull: progress');
  }

  /** Writes recovery.json as it is now, after the writes before it (one at a time, in order). */
  private save(): void {
    const snapshot = { ...this.state! };
    this.keysSinceSave = 0;
    this.lastSaveMs = this.now();
    this.saving = this.saving
      .then(async () => {
        await saveRecoveryState(this.opts.disk, this.opts.dataDir, snapshot);
        this.opts.onSaved?.(snapshot);
      })
      .catch((err: unknown) =>
        this.opts.log.warn({ err: (err as Error).message }, 'recovery pull: could not write recovery.json'),
      );
  }

  /** Bytes (or, without a byte total, keys) per second of this run. */
  private rates(): { objectsPerSecond: number; bytesPerSecond: number } {
    const seconds = Math.max(0.001, (this.now() - this.run.startMs) / 1000);
    return { objectsPerSecond: this.run.objects / seconds, bytesPerSecond: this.run.bytes / seconds };
  }

  /**
   * Seconds left at this run's rate, by bytes and by keys, the smaller: right after a resume the keys redone are
   * 'stale' (no bytes), which would make a bytes-only estimate absurd.
   */
  private etaSeconds(): number | undefined {
    const s = this.state;
    if (!s || this.step !== 'pulling' || this.run.objects === 0) return undefined;
    const r = this.rates();
    const etas: number[] = [];
    if (s.totalBytes && r.bytesPerSecond > 0)
      etas.push(Math.max(0, s.totalBytes - s.bytes) / r.bytesPerSecond);
    if (s.totalObjects && r.objectsPerSecond > 0)
      etas.push(Math.max(0, s.totalObjects - s.objects) / r.objectsPerSecond);
    return etas.length > 0 ? Math.round(Math.min(...etas)) : undefined;
  }

  private logProgress(msg: string): void {
    const s = this.state!;
    this.lastLogMs = this.now();
    const r = this.rates();
    const eta = this.etaSeconds();
    this.opts.log.info(
      {
        source: s.sourceNodeId,
        objects: s.objects,
        totalObjects: s.totalObjects ?? null,
        bytes: s.bytes,
        totalBytes: s.totalBytes ?? null,
        mbPerSecond: Number((r.bytesPerSecond / 1e6).toFixed(1)),
        objectsPerSecond: Math.round(r.objectsPerSecond),
        etaSeconds: eta ?? null,
      },
      msg,
    );
  }

  /** A waiting line at most every 10 s (the question is asked at every heartbeat). */
  private waitLog(obj: object, msg: string): void {
    const now = this.now();
    if (now - this.lastWaitLogMs < 10_000) return;
    this.lastWaitLogMs = now;
    this.opts.log.info(obj, msg);
  }
}

function cursorText(c: KeyRef): string {
  return `${c.bucket}/${c.key.toString('utf8')}`;
}
