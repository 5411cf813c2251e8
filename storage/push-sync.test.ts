// Push sync over a real binlog and synclog on disk, with mirrors whose key copies are recorded (and can be held or
// failed): batching and dedup, the persisted position and resuming after a stop mid-batch, lag while a mirror is
// down and its catch-up when it returns, records acknowledged by mirrored writes skipped, and the retention
// (segments kept until every mirror applied them; a mirror away too long is marked needsPull and stops holding them).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { nodeDisk } from '../common/disk.ts';
import { Binlog, type BinlogRecord } from './binlog.ts';
import { MirrorPeers, unitKey } from './mirror-peers.ts';
import { PushSync } from './push-sync.ts';
import { Synclog } from './synclog.ts';
import { tempDir } from './testing/harness.ts';

const T = { timeout: 30_000 };
const A = '0000000a';
const B = '0000000b';
const C = '0000000c';

/** A mirror as push sync sees it: the keys copied to it, in order; copies can be held or made to fail. */
class FakeMirror {
  copied: string[] = [];
  failing: Error | undefined;
  hold: Promise<void> | undefined;
  /** Resolved when a copy starts while `hold` is set. */
  onHeld: (() => void) | undefined;
  async copy(bucket: string, key: Buffer): Promise<void> {
    if (this.hold) {
      this.onHeld?.();
      await this.hold;
    }
    if (this.failing) throw this.failing;
    this.copied.push(`${bucket}/${key.toString()}`);
  }
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let counter = 0n;
function rec(key: string, op: BinlogRecord['op'] = 'insert', size = 100): BinlogRecord {
  counter++;
  return { op, bucket: 'b', key: Buffer.from(key), opver: { counter, nodeId: 10 }, size };
}

async function setup(
  opts: { maxFileBytes?: number; now?: () => number; retainMs?: number; retainBytes?: number } = {},
) {
  const t = await tempDir('quire-push-sync-');
  cleanups.push(t.remove);
  const binlog = await Binlog.open({
    dir: join(t.dir, 'binlog'),
    durability: 'none',
    ...(opts.maxFileBytes ? { maxFileBytes: opts.maxFileBytes } : {}),
  });
  cleanups.push(() => binlog.close());
  const mirrors = new Map<string, FakeMirror>();
  const make = async () => {
    const peers = new MirrorPeers<FakeMirror>({
      selfId: A,
      connect: (url) => {
        const m = mirrors.get(url) ?? new FakeMirror();
        mirrors.set(url, m);
        return m;
      },
      disconnect: () => undefined,
    });
    const synclog = await Synclog.open(nodeDisk, join(t.dir, 'synclog'));
    const sync = new PushSync<FakeMirror>({
      binlog,
      synclog,
      peers,
      copyKey: ({ to, bucket, key }) => to.copy(bucket, key),
      batchRecords: 4,
      tickMs: 60_000,
      minBackoffMs: 5,
      maxBackoffMs: 20,
      retainMs: opts.retainMs ?? 3_600_000,
      retainBytes: opts.retainBytes ?? 1 << 30,
      ...(opts.now ? { now: opts.now } : {}),
    });
    return { peers, synclog, sync };
  };
  return { dir: t.dir, binlog, mirrors, make };
}

/** Resolves when `check` holds, looking again after each round of `sync` (never a timer). */
async function until(sync: PushSync<FakeMirror>, check: () => boolean) {
  for (;;) {
    const next = sync.changed();
    if (check()) return;
    await next;
  }
}

describe('push sync', () => {
  test(
    'ships each key once per batch, uploads in progress too, persists the position, lag 0',
    T,
    async () => {
      const s = await setup();
      for (const k of ['x', 'y', 'x', 'x', 'z']) await s.binlog.append(rec(k));
      await s.binlog.append({ ...rec('u', 'upload-create', 0), uploadId: 'up1' });
      await s.binlog.append({ ...rec('u', 'upload-part', 50), uploadId: 'up1', partNumber: 1 });
      const { peers, synclog, sync } = await s.make();
      peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
      sync.start();
      await sync.caughtUp(B);
      const m = s.mirrors.get('b')!;
      // Batches of 4 records: [x y x x] then [z u u]: x once in the first batch; the upload's key once in the
      // second (copyKey carries its uploads and parts).
      assert.deepEqual(m.copied, ['b/x', 'b/y', 'b/z', 'b/u']);
      assert.deepEqual(synclog.get(B)?.at, s.binlog.confirmed);
      assert.deepEqual(sync.report(), [{ nodeId: B, lagOps: 0, lagBytes: 0 }]);
      await sync.stop();
    },
  );

  test('a mirror down: lag grows in records and bytes; back up, push sync catches it up', T, async () => {
    const s = await setup();
    const { peers, sync } = await s.make();
    peers.update([{ nodeId: B, url: 'b', state: 'suspect' }]);
    sync.start();
    for (let i = 0; i < 10; i++) await s.binlog.append(rec(`k${i}`, 'insert', 1000));
    sync.poke();
    const lag = () => sync.report().find((r) => r.nodeId === B);
    await until(sync, () => lag() !== undefined);
    // Behind: it may lack keys (gateways route around it) until a round delivers everything.
    assert.deepEqual(lag(), { nodeId: B, lagOps: 10, lagBytes: 10_000, behind: true });
    await s.binlog.append(rec('k10', 'insert', 5));
    assert.deepEqual(
      lag(),
      { nodeId: B, lagOps: 11, lagBytes: 10_005, behind: true },
      'each record adds to the lag',
    );
    assert.deepEqual(s.mirrors.get('b')!.copied, []);
    peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
    await sync.caughtUp(B);
    assert.equal(s.mirrors.get('b')!.copied.length, 11);
    assert.deepEqual(sync.report(), [{ nodeId: B, lagOps: 0, lagBytes: 0 }]);
    // A write it misses later (left behind by a mirrored write) makes it behind again until the next round.
    peers.get(B)!.noteMissed();
    assert.equal(sync.report()[0]?.behind, true);
    sync.poke();
    await until(sync, () => sync.report()[0]?.behind === undefined);
    await sync.stop();
  });

  test(
    'a failing mirror is retried with backoff, then caught up; the position never passes a failed batch',
    T,
    async () => {
      const s = await setup();
      const { peers, synclog, sync } = await s.make();
      peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
      const m = s.mirrors.get('b')!;
      m.failing = new Error('connection refused');
      sync.start();
      await until(sync, () => synclog.get(B) !== undefined);
      const start = synclog.get(B)!.at;
      for (let i = 0; i < 6; i++) await s.binlog.append(rec(`f${i}`));
      sync.poke();
      await until(sync, () => (sync.counters(B)?.failures ?? 0) >= 2);
      assert.deepEqual(synclog.get(B)?.at, start, 'a failed batch does not move the position');
      assert.equal(sync.report()[0]!.lagOps, 6);
      assert.equal(peers.get(B)!.responsive, false, 'mirrored writes skip it meanwhile');
      m.failing = undefined;
      await sync.caughtUp(B);
      assert.deepEqual(m.copied, ['b/f0', 'b/f1', 'b/f2', 'b/f3', 'b/f4', 'b/f5']);
      assert.equal(peers.get(B)!.responsive, true);
      assert.equal(sync.report()[0]!.lagOps, 0);
      await sync.stop();
    },
  );

  test(
    'stopped mid-batch, a restarted push sync resumes from the persisted position: no record lost',
    T,
    async () => {
      const s = await setup();
      for (let i = 0; i < 10; i++) await s.binlog.append(rec(`r${i}`));
      const first = await s.make();
      first.peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
      const m = s.mirrors.get('b')!;
      // Hold the copies of the third batch (records 8, 9): the first two batches are acknowledged and persisted.
      let copies = 0;
      const gate = { open: undefined as undefined | (() => void) };
      const realCopy = m.copy.bind(m);
      let reached!: () => void;
      const atThird = new Promise<void>((r) => {
        reached = r;
      });
      m.copy = async (bucket, key) => {
        if (++copies > 8) {
          reached();
          await new Promise<void>((r) => {
            gate.open = r;
          });
          throw new Error('killed');
        }
        return realCopy(bucket, key);
      };
      first.sync.start();
      await atThird;
      const persisted = first.synclog.get(B)!.at;
      // "Kill": this push sync never finishes its batch; its persisted position is what a restart reads.
      const stopping = first.sync.stop();
      gate.open?.();
      await stopping;
      m.copy = realCopy;
      m.copied = [];
      const second = await s.make();
      assert.deepEqual(second.synclog.get(B)?.at, persisted, 'the restart reads the position written last');
      second.peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
      second.sync.start();
      await second.sync.caughtUp(B);
      assert.deepEqual(m.copied, ['b/r8', 'b/r9']);
      await second.sync.stop();
    },
  );

  test(
    'voided records (ops that failed after their record was written) are passed over to the end',
    T,
    async () => {
      const s = await setup();
      await s.binlog.append(rec('live'));
      const { peers, synclog, sync } = await s.make();
      peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
      sync.start();
      await sync.caughtUp(B);
      // Only a voided record left to pass: the round finds nothing live, and the position still reaches the end.
      const failed = s.binlog.begin(rec('failed'));
      await failed.durable;
      await s.binlog.voidRecord(failed);
      sync.poke();
      await sync.caughtUp(B);
      assert.deepEqual(synclog.get(B)?.at, s.binlog.confirmed);
      assert.deepEqual(s.mirrors.get('b')!.copied, ['b/live']);
      assert.deepEqual(sync.report(), [{ nodeId: B, lagOps: 0, lagBytes: 0 }]);
      await sync.stop();
    },
  );

  test('records a mirror acknowledged synchronously are not shipped again', T, async () => {
    const s = await setup();
    const { peers, sync } = await s.make();
    peers.update([{ nodeId: B, url: 'b', state: 'up' }]);
    const mirror = peers.get(B)!;
    const r1 = rec('acked');
    const r2 = rec('not-acked');
    await s.binlog.append(r1);
    await s.binlog.append(r2);
    mirror.noteAcked(unitKey(r1.bucket, r1.key, r1.opver.counter, r1.opver.nodeId), r1.size);
    // The acknowledged record is not lag any more.
    sync.start();
    await sync.caughtUp(B);
    assert.deepEqual(s.mirrors.get('b')!.copied, ['b/not-acked']);
    assert.deepEqual(sync.counters(B), { shipped: 1, skipped: 1, failures: 0 });
    // An acknowledgement arriving after push sync passed the record notes nothing (it would undercount the lag).
    mirror.noteAcked(unitKey(r2.bucket, r2.key, r2.opver.counter, r2.opver.nodeId), r2.size);
    assert.deepEqual(mirror.ahead, { records: 0, bytes: 0 });
    await sync.stop();
  });

  test('retention: segments are kept until every mirror applied them', T, async () => {
    const s = await setup({ maxFileBytes: 200 });
    const { peers, sync } = await s.make();
    peers.update([
      { nodeId: B, url: 'b', state: 'up' },
      { nodeId: C, url: 'c', state: 'suspect' },
    ]);
    sync.start();
    for (let i = 0; i < 20; i++) await s.binlog.append(rec(`s${i}`));
    sync.poke();
    await sync.caughtUp(B);
    const segments = async () =>
      (await nodeDisk.readdir(join(s.dir, 'binlog'))).filter((n) => n.endsWith('.log')).length;
    const all = await segments();
    assert.ok(all > 3, `several segments (${all})`);
    // C applied nothing: the floor is its position, at the start: nothing may go.
    assert.deepEqual(sync.floor(), { file: 1, offset: 0 });
    await s.binlog.prune(sync.floor()!);
    assert.equal(await segments(), all);
    peers.update([
      { nodeId: B, url: 'b', state: 'up' },
      { nodeId: C, url: 'c', state: 'up' },
    ]);
    await sync.caughtUp(C);
    assert.deepEqual(sync.floor(), s.binlog.confirmed);
    await s.binlog.prune(sync.floor()!);
    const left = await segments();
    assert.ok(
      left <= 2 && left < all,
      `every mirror applied them: only the last segments are left (${left})`,
    );
    await sync.stop();
  });

  test('a mirror away past the retention is marked needsPull and no longer holds the binlog', T, async () => {
    let now = 1_000_000;
    const s = await setup({ maxFileBytes: 200, now: () => now, retainMs: 60_000 });
    const { peers, synclog, sync } = await s.make();
    peers.update([
      { nodeId: B, url: 'b', state: 'up' },
      { nodeId: C, url: 'c', state: 'suspect' },
    ]);
    sync.start();
    for (let i = 0; i < 10; i++) await s.binlog.append(rec(`n${i}`));
    sync.poke();
    await sync.caughtUp(B);
    await until(sync, () => synclog.get(C)?.awaySinceMs === 1_000_000);
    assert.equal(sync.report().find((r) => r.nodeId === C)?.needsPull, undefined);
    assert.deepEqual(sync.floor(), { file: 1, offset: 0 }, 'C, away within the retention, holds the binlog');
    now += 61_000;
    sync.poke();
    await until(sync, () => synclog.get(C)?.needsPull === true);
    assert.equal(sync.report().find((r) => r.nodeId === C)?.needsPull, true);
    assert.deepEqual(sync.floor(), synclog.get(B)!.at, 'only B holds the binlog now');
    assert.equal(sync.position(C), undefined, 'no position to resume from');
    await sync.stop();
    // After a restart the mark is reported from the first heartbeat (before any count of the binlog).
    const again = await s.make();
    again.sync.start();
    assert.deepEqual(
      again.sync.report().find((r) => r.nodeId === C),
      { nodeId: C, lagOps: 0, lagBytes: 0, needsPull: true, behind: true },
    );
    // A recovery pull brings C back and tells push sync where it started: needsPull is cleared.
    await again.sync.join(C, s.binlog.confirmed);
    assert.equal(again.synclog.get(C)?.needsPull, undefined);
    assert.deepEqual(again.sync.position(C), s.binlog.confirmed);
    await again.sync.stop();
  });

  test('a mirror away holding more binlog than retainBytes is marked needsPull', T, async () => {
    const s = await setup({ maxFileBytes: 200, retainBytes: 300 });
    const { peers, synclog, sync } = await s.make();
    peers.update([{ nodeId: C, url: 'c', state: 'suspect' }]);
    sync.start();
    for (let i = 0; i < 20; i++) await s.binlog.append(rec(`m${i}`));
    sync.poke();
    peers.update([{ nodeId: C, url: 'c', state: 'recovering' }]);
    s.mirrors.get('c')!.failing = new Error('refused');
    await until(sync, () => synclog.get(C)?.needsPull === true);
    await sync.stop();
  });
});
