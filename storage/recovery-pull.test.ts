// The recovery pull's steps and its cursor: what an empty node decides from its syncgroup's members, that the scan
// waits for push sync to cover the node, that the persisted cursor is the finished prefix of the scan (keys finish
// out of order), that a node killed mid-pull resumes after it, and that it serves only once caught up.
// Keys and copies here are an in-memory source and store, so every step is paused and observed exactly; the same
// logic over two real storage nodes is in recovery-pull-nodes.test.ts.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type NodeView, reportStands } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import type { NodeStats } from './api.ts';
import { NodeRecoveringError, WrongPartitionError } from './errors.ts';
import { type JoinResult, type PullPeer, RecoveryPull } from './recovery-pull.ts';
import { type KeyRef, loadRecoveryState, RECOVERY_FILE, type RecoveryState } from './recovery-pull-file.ts';
import { type JoinablePushSync, pushSyncControl } from './recovery-pull-join.ts';
import { pullKeys } from './recovery-pull-keys.ts';
import { tempDir } from './testing/harness.ts';

const T = { timeout: 30_000 };
const ME = '0000000c';
const SOURCE = '0000000a';
const OTHER = '0000000b';

const ref = (i: number): KeyRef => ({ bucket: 'b', key: Buffer.from(`k${String(i).padStart(3, '0')}`) });
const name = (r: KeyRef) => `${r.bucket}/${r.key.toString()}`;

function stats(objects: number): NodeStats {
  return {
    nodeId: 1,
    objects,
    uploads: 0,
    volumes: [
      {
        volumeId: 'v1',
        liveBytes: objects * 100,
        holeBytes: 0,
        diskBytes: 0,
        liveEntries: objects,
        freeBytes: 1e9,
        full: false,
      },
    ],
  };
}

/**
 * An in-memory member `id` holding `n` keys; its binlog ends at offset n (another's position: 1000 + n). Joins are
 * recorded and answer `join` (caught up unless told otherwise).
 */
function source(n: number, id = SOURCE) {
  const keys = Array.from({ length: n }, (_, i) => ref(i));
  const peer = {
    scans: 0,
    joins: [] as string[],
    join: { caughtUp: true } as JoinResult,
    asked: [] as string[],
    async syncPosition(toward: string, forNode?: string) {
      peer.asked.push(`${toward} for ${forNode}`);
      return { file: 1, offset: toward === id ? n : 1000 + n };
    },
    async joinPushSync(nodeId: string, at: { file: number; offset: number }, waitMs: number) {
      assert.ok(waitMs > 0);
      peer.joins.push(`${nodeId}@${at.file}:${at.offset}`);
      return peer.join;
    },
    async scanKeys({ after, limit }: { after?: KeyRef; limit: number }) {
      peer.scans++;
      const from = after ? keys.findIndex((k) => name(k) > name(after)) : 0;
      return from < 0 ? [] : keys.slice(from, from + limit);
    },
    async stats() {
      return stats(n);
    },
  };
  return peer;
}

/** A store that copies keys, each copy held until released when its key is in `held`. */
function store(initial: Iterable<string> = []) {
  const keys = new Set(initial);
  const held = new Map<string, { gate: Promise<void>; reach: () => void }>();
  const calls: string[] = [];
  let copiedCount = 0;
  const waiters: Array<{ n: number; done: () => void }> = [];
  return {
    keys,
    calls,
    /** The copy of `r` waits until `release()`; `reached` resolves when it started. */
    hold(r: KeyRef) {
      let release!: () => void;
      let reach!: () => void;
      const gate = new Promise<void>((done) => {
        release = done;
      });
      const reached = new Promise<void>((done) => {
        reach = done;
      });
      held.set(name(r), { gate, reach });
      return { release, reached };
    },
    /** Resolves once `n` copies have finished. */
    copiedAtLeast(n: number): Promise<void> {
      if (copiedCount >= n) return Promise.resolve();
      return new Promise((done) => waiters.push({ n, done }));
    },
    async copy(_from: PullPeer, r: KeyRef) {
      const k = name(r);
      calls.push(k);
      const h = held.get(k);
      if (h) {
        h.reach();
        await h.gate;
      }
      const applied = keys.has(k) ? 0 : 1;
      keys.add(k);
      copiedCount++;
      for (const w of [...waiters])
        if (copiedCount >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done();
        }
      return { applied, bytes: applied * 100 };
    },
  };
}

function member(
  nodeId: string,
  state: NodeView['state'],
  objects: number,
  extra: Partial<NodeView> = {},
): NodeView {
  return {
    nodeId,
    syncgroup: 'a',
    url: `http://127.0.0.1:1/${nodeId}`,
    startedMs: 0,
    objects,
    volumes: [],
    state,
    silentMs: 0,
    ...extra,
  };
}

const quiet = { info: () => undefined, warn: () => undefined };

/** Every puller a test opened: stopped after it (pending writes of recovery.json end before its dir goes). */
const opened: RecoveryPull[] = [];

async function stopAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((p) => p.stop()));
}

interface Harness {
  puller: RecoveryPull;
  saved: RecoveryState[];
  clock: { ms: number };
  savedWith(pred: (s: RecoveryState) => boolean): Promise<RecoveryState>;
}

/** A pull in `dir` into `local`; `peer` answers for the source, `others` for other members by node id. */
async function open(
  dir: string,
  peer: PullPeer,
  local: ReturnType<typeof store>,
  others: Record<string, PullPeer> = {},
  extra: { concurrency?: number; pageSize?: number; bytesPerSecond?: number; realClock?: boolean } = {},
): Promise<Harness> {
  const saved: RecoveryState[] = [];
  const waiters: Array<{ pred: (s: RecoveryState) => boolean; done: (s: RecoveryState) => void }> = [];
  const clock = { ms: 1_000_000 };
  const puller = await RecoveryPull.open({
    dataDir: dir,
    disk: nodeDisk,
    nodeId: ME,
    localStats: async () => stats(local.keys.size),
    connect: (url) => others[url.split('/').pop()!] ?? peer,
    copyKey: (from, r) => local.copy(from, r),
    log: quiet,
    concurrency: extra.concurrency ?? 4,
    pageSize: extra.pageSize ?? 8,
    ...(extra.bytesPerSecond ? { bytesPerSecond: extra.bytesPerSecond } : {}),
    saveEveryKeys: 1,
    now: extra.realClock ? Date.now : () => clock.ms,
    onSaved: (s) => {
      saved.push(s);
      for (const w of [...waiters])
        if (w.pred(s)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(s);
        }
    },
  });
  opened.push(puller);
  return {
    puller,
    saved,
    clock,
    savedWith: (pred) => {
      const hit = saved.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((done) => waiters.push({ pred, done }));
    },
  };
}

const covered = (lagOps = 0, silentMs = 0) =>
  member(SOURCE, 'up', 40, { silentMs, sync: [{ nodeId: ME, lagOps, lagBytes: lagOps * 100 }] });

describe('recovery pull', () => {
  test('pullKeys: the cursor is the last key of the finished prefix, however keys finish', T, async () => {
    const peer = source(30);
    const local = store();
    const slow = local.hold(ref(5));
    const cursors: string[] = [];
    const done = pullKeys({
      source: peer,
      copy: (r) => local.copy(peer, r),
      concurrency: 4,
      pageSize: 7,
      onCursor: (c) => cursors.push(name(c)),
    });
    await slow.reached;
    // Every other key finishes while key 5 is held: the cursor stays at key 4.
    await local.copiedAtLeast(29);
    assert.deepEqual(
      cursors,
      [0, 1, 2, 3, 4].map((i) => name(ref(i))),
    );
    slow.release();
    await done;
    assert.deepEqual(
      cursors,
      Array.from({ length: 30 }, (_, i) => name(ref(i))),
    );
    assert.equal(local.keys.size, 30);
  });

  test(
    'pullKeys with scanStates pages: each key copied with its page entry (not on a retry); the next page fetched while this one is half done',
    T,
    async () => {
      const peer = source(20);
      const fetched: string[] = [];
      let copiedWhenFetched: number[] = [];
      const local = store();
      const scanning = {
        scanKeys: () => Promise.reject(new Error('scanStates is offered: never asked')),
        async scanStates(opts: { after?: KeyRef; limit: number }) {
          fetched.push(opts.after ? name(opts.after) : '(start)');
          copiedWhenFetched.push(local.keys.size);
          const refs = await peer.scanKeys(opts);
          return refs.map((r) => ({ ...r, states: [], uploads: [], bodies: [] }));
        },
      };
      copiedWhenFetched = [];
      const got: Array<{ key: string; scanned: boolean }> = [];
      let failedOnce = false;
      await pullKeys({
        source: scanning,
        copy: async (r, scanned) => {
          got.push({ key: name(r), scanned: scanned !== undefined });
          assert.ok(!scanned || name(scanned) === name(r), 'its own entry');
          if (name(r) === name(ref(3)) && !failedOnce) {
            failedOnce = true;
            throw new Error('a transient failure');
          }
          return local.copy(peer, r);
        },
        concurrency: 1,
        pageSize: 8,
        onCursor: () => undefined,
      });
      assert.equal(local.keys.size, 20);
      assert.deepEqual(fetched, ['(start)', name(ref(7)), name(ref(15))]);
      // One worker: page 2 is asked for when page 1 is half handed out, long before page 1 is all copied.
      assert.deepEqual(copiedWhenFetched, [0, 3, 11]);
      const k3 = got.filter((g) => g.key === name(ref(3)));
      assert.deepEqual(k3, [
        { key: name(ref(3)), scanned: true },
        { key: name(ref(3)), scanned: false },
      ]);
      assert.ok(got.filter((g) => g.key !== name(ref(3))).every((g) => g.scanned));
    },
  );

  test('an empty node whose live mirrors hold nothing serves at once, and writes no file', T, async () => {
    const t = await tempDir();
    try {
      const h = await open(t.dir, source(0), store());
      assert.equal(h.puller.phase, 'deciding');
      assert.deepEqual(h.puller.report(), { phase: 'recovering' });
      assert.throws(() => h.puller.gate('headObject'), NodeRecoveringError);
      await h.puller.onMembers([member(SOURCE, 'up', 0), member(OTHER, 'suspect', 12)]);
      assert.equal(h.puller.phase, 'serving');
      await h.puller.serving;
      assert.deepEqual(h.puller.report(), {});
      h.puller.gate('headObject');
      await assert.rejects(readFile(join(t.dir, RECOVERY_FILE)), { code: 'ENOENT' });
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test('an empty node with only silent mirrors waits for one (it may hold data)', T, async () => {
    const t = await tempDir();
    try {
      const h = await open(t.dir, source(3), store());
      await h.puller.onMembers([member(SOURCE, 'suspect', 0)]);
      assert.equal(h.puller.phase, 'deciding');
      // Members that are themselves only deciding hold nothing to wait for.
      await h.puller.onMembers([member(SOURCE, 'recovering', 0)]);
      assert.equal(h.puller.phase, 'serving');
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test('a node holding data and no recovery.json serves (a restart, not an empty node)', T, async () => {
    const t = await tempDir();
    try {
      const h = await open(t.dir, source(3), store(['b/x']));
      assert.equal(h.puller.phase, 'serving');
      h.puller.gate('putObject');
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test(
    'while recovering: user calls are refused (retryable, distinct); stats and replica applies pass',
    T,
    async () => {
      const t = await tempDir();
      try {
        const h = await open(t.dir, source(3), store());
        for (const call of ['putObject', 'headObject', 'openObject', 'stream', 'listObjects', 'scanKeys']) {
          assert.throws(
            () => h.puller.gate(call),
            (err: unknown) => {
              assert.ok(err instanceof NodeRecoveringError);
              assert.ok(
                err instanceof WrongPartitionError,
                'a gateway refreshes its view and routes elsewhere',
              );
              return true;
            },
          );
        }
        for (const call of ['stats', 'replicaStates', 'applyReplica', 'dropBucket']) h.puller.gate(call);
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test(
    'pull: push-sync positions recorded first, every key copied, push sync joined, serving once it caught up',
    T,
    async () => {
      const t = await tempDir();
      try {
        const peer = source(40);
        const local = store();
        const h = await open(t.dir, peer, local);
        await h.puller.onMembers([member(SOURCE, 'up', 40), member(OTHER, 'suspect', 40)]);
        const first = h.saved[0]!;
        assert.deepEqual(
          { ...first, startedMs: 0 },
          {
            sourceNodeId: SOURCE,
            startedMs: 0,
            objects: 0,
            bytes: 0,
            totalObjects: 40,
            totalBytes: 4000,
            joinAt: { [SOURCE]: { file: 1, offset: 40 } },
            pulled: false,
            joined: false,
            done: false,
          },
          'written before the first key is copied',
        );
        assert.equal(h.puller.phase, 'pulling');
        assert.deepEqual(
          peer.asked,
          [`${SOURCE} for ${ME}`],
          'push sync toward this node starts with the pull',
        );
        assert.equal(h.puller.report().recovery?.fromNodeId, SOURCE);
        await h.puller.scanEnded();
        assert.equal(h.puller.phase, 'catching-up');
        assert.equal(local.keys.size, 40);
        assert.deepEqual(peer.joins, []);
        // Push sync has not caught the node up yet: still recovering, asked again at the next beat.
        peer.join = { caughtUp: false };
        await h.puller.onMembers([covered(7)]);
        assert.deepEqual(
          peer.joins,
          [`${ME}@1:40`],
          'the source ships to this node from where the pull began',
        );
        await h.savedWith((x) => x.joined);
        assert.equal(h.puller.phase, 'catching-up');
        assert.equal(h.puller.report().phase, 'recovering');
        assert.throws(() => h.puller.gate('openObject'), NodeRecoveringError);
        // A source that is not up is not asked.
        await h.puller.onMembers([member(SOURCE, 'suspect', 40), member(OTHER, 'up', 40)]);
        assert.equal(peer.joins.length, 1);
        peer.join = { caughtUp: true };
        await h.puller.onMembers([covered(0)]);
        assert.equal(h.puller.phase, 'serving');
        await h.puller.serving;
        h.puller.gate('openObject');
        const last = await loadRecoveryState(t.dir);
        assert.equal(last?.done, true);
        assert.equal(last?.objects, 40);
        assert.equal(last?.bytes, 4000);
        assert.deepEqual(peer.joins, [`${ME}@1:40`, `${ME}@1:40`]);
        // Restarted later, holding data and marked done: an ordinary node.
        const again = await open(t.dir, peer, local);
        assert.equal(again.puller.phase, 'serving');
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test('a third member: each live member ships to it from what the source had of its binlog', T, async () => {
    const t = await tempDir();
    try {
      const peer = source(10);
      const otherPeer = source(9, OTHER);
      const h = await open(t.dir, peer, store(), { [OTHER]: otherPeer });
      const other = member(OTHER, 'up', 9);
      await h.puller.onMembers([covered(), other]);
      assert.deepEqual(h.saved[0]?.joinAt, {
        [SOURCE]: { file: 1, offset: 10 },
        [OTHER]: { file: 1, offset: 1009 },
      });
      await h.puller.scanEnded();
      // The other member has not caught the node up: not done.
      otherPeer.join = { caughtUp: false };
      await h.puller.onMembers([covered(), other]);
      assert.deepEqual(peer.joins, [`${ME}@1:10`]);
      assert.deepEqual(otherPeer.joins, [`${ME}@1:1009`]);
      assert.equal(h.puller.phase, 'catching-up');
      otherPeer.join = { caughtUp: true };
      await h.puller.onMembers([covered(), other]);
      assert.equal(h.puller.phase, 'serving');
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test(
    'a member that lost the binlog the node needs (needsPull at the join) sends it back to pulling',
    T,
    async () => {
      const t = await tempDir();
      try {
        const peer = source(6);
        const h = await open(t.dir, peer, store());
        await h.puller.onMembers([covered()]);
        await h.puller.scanEnded();
        peer.join = { caughtUp: false, needsPull: true };
        const before = h.saved.length;
        await h.puller.onMembers([covered()]);
        assert.equal(h.puller.phase, 'pulling');
        const restarted = h.saved.slice(before).find((s) => !s.pulled && s.objects === 0);
        assert.ok(restarted, 'a new pull began (recovery.json written anew)');
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test('a serving node a mirror stopped keeping binlog for (needsPull) pulls again', T, async () => {
    const t = await tempDir();
    try {
      const peer = source(5);
      const h = await open(t.dir, peer, store(['b/k000']));
      assert.equal(h.puller.phase, 'serving');
      await h.puller.onMembers([covered()]);
      assert.equal(h.puller.phase, 'serving');
      await h.puller.onMembers([
        member(SOURCE, 'up', 5, { sync: [{ nodeId: ME, lagOps: 9, lagBytes: 0, needsPull: true }] }),
      ]);
      assert.equal(h.puller.phase, 'pulling');
      assert.throws(() => h.puller.gate('headObject'), NodeRecoveringError);
      await h.puller.stop();
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test(
    'a member that left the node behind and stays silent: the node pulls its missed writes from a current member',
    T,
    async () => {
      const t = await tempDir();
      try {
        const peer = source(5);
        const local = store(['b/k000', 'b/k001']);
        const h = await open(t.dir, peer, local);
        // OTHER, a third member, left this node behind (a mirrored write timed out), then died.
        const silent = (silentMs: number, state: NodeView['state'] = 'suspect') =>
          member(OTHER, state, 5, {
            startedMs: 7,
            silentMs,
            sync: [{ nodeId: ME, lagOps: 3, lagBytes: 300, behind: true }],
          });
        await h.puller.onMembers([silent(12_000), covered()]);
        assert.equal(h.puller.phase, 'serving', 'silent for less than resyncAfterMs: it may be back');
        // The only live member was left behind too: it does not hold those writes either.
        const behindToo = member(OTHER, 'suspect', 5, {
          startedMs: 7,
          silentMs: 40_000,
          sync: [
            { nodeId: ME, lagOps: 3, lagBytes: 300, behind: true },
            { nodeId: SOURCE, lagOps: 1, lagBytes: 100, behind: true },
          ],
        });
        await h.puller.onMembers([behindToo, covered()]);
        assert.equal(h.puller.phase, 'serving', 'no current member to pull from: waits');
        await h.puller.onMembers([silent(40_000), covered()]);
        assert.equal(h.puller.phase, 'pulling');
        assert.throws(() => h.puller.gate('headObject'), NodeRecoveringError, 'serves nothing meanwhile');
        assert.deepEqual(h.saved.at(-1)?.resyncFor, [{ nodeId: OTHER, startedMs: 7 }]);
        await h.puller.scanEnded();
        assert.equal(local.keys.size, 5, 'every key of the current member compared and copied');
        await h.puller.onMembers([silent(42_000), covered()]);
        assert.equal(h.puller.phase, 'serving');
        assert.deepEqual(h.puller.report(), { resynced: [{ nodeId: OTHER, startedMs: 7 }] });
        // Its last report no longer stands for gateways and the tracker; the node does not pull again for it.
        assert.equal(reportStands(silent(44_000), { resynced: h.puller.report().resynced }), false);
        const saves = h.saved.length;
        await h.puller.onMembers([silent(44_000), covered()]);
        assert.equal(h.puller.phase, 'serving');
        assert.equal(h.saved.length, saves);
        // After a restart too: recovery.json keeps it.
        await h.puller.stop();
        const again = await open(t.dir, peer, local);
        assert.deepEqual(again.puller.report(), { resynced: [{ nodeId: OTHER, startedMs: 7 }] });
        // Heard again: it reports for itself (and its push sync ships what it still has for this node).
        await again.puller.onMembers([silent(0, 'up'), covered()]);
        assert.deepEqual(again.puller.report(), {});
        assert.equal(reportStands(silent(0, 'up'), { resynced: [{ nodeId: OTHER, startedMs: 7 }] }), true);
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test(
    'killed mid-pull (recovery.json as on disk at that moment): resumes after the cursor, copies nothing before it',
    T,
    async () => {
      const t = await tempDir();
      try {
        const peer = source(40);
        const local = store();
        const slow = local.hold(ref(9));
        const h = await open(t.dir, peer, local);
        await h.puller.onMembers([covered()]);
        assert.equal(h.puller.phase, 'pulling');
        await slow.reached;
        await local.copiedAtLeast(39);
        await h.savedWith((s) => s.objects === 9);
        // The "kill": the data directory as it is now, while key 9 is still being copied and keys 10..39 are done.
        const crashed = join(t.dir, 'after-kill');
        await mkdir(crashed);
        await copyFile(join(t.dir, RECOVERY_FILE), join(crashed, RECOVERY_FILE));
        const onDisk = await loadRecoveryState(crashed);
        assert.equal(onDisk?.cursor && name(onDisk.cursor), name(ref(8)));
        assert.equal(onDisk?.objects, 9);

        const restarted = store(local.keys);
        const h2 = await open(crashed, peer, restarted);
        assert.equal(h2.puller.phase, 'pulling');
        await h2.puller.onMembers([covered()]);
        await h2.puller.scanEnded();
        assert.deepEqual(
          [...restarted.calls].sort(),
          Array.from({ length: 31 }, (_, i) => name(ref(i + 9))),
          'exactly the keys after the cursor are copied again',
        );
        assert.equal(restarted.keys.size, 40);
        await h2.puller.onMembers([covered()]);
        assert.deepEqual(peer.joins, [`${ME}@1:40`], 'the position recorded before the kill');
        assert.equal(h2.puller.phase, 'serving');
        const last = await loadRecoveryState(crashed);
        assert.equal(last?.objects, 40);
        assert.equal(last?.done, true);
        slow.release();
        await h.puller.stop();
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test(
    'a stop mid-pull keeps the cursor; the next start resumes; a silent source is replaced by another',
    T,
    async () => {
      const t = await tempDir();
      try {
        const peer = source(20);
        const local = store();
        const slow = local.hold(ref(4));
        const h = await open(t.dir, peer, local, {}, { concurrency: 1 });
        await h.puller.onMembers([covered()]);
        await slow.reached;
        const stopped = h.puller.stop();
        slow.release();
        await stopped;
        const kept = await loadRecoveryState(t.dir);
        assert.equal(kept?.cursor && name(kept.cursor), name(ref(4)));
        assert.equal(kept?.done, false);

        // Restarted while the source is silent: another live member with data takes over from the first key.
        const scansBefore = peer.scans;
        const otherPeer = source(20, OTHER);
        const h2 = await open(t.dir, peer, store(local.keys), { [OTHER]: otherPeer }, { concurrency: 1 });
        assert.equal(h2.puller.phase, 'pulling');
        const other = member(OTHER, 'up', 20, { sync: [{ nodeId: ME, lagOps: 0, lagBytes: 0 }] });
        await h2.puller.onMembers([member(SOURCE, 'suspect', 20), other]);
        assert.equal(h2.puller.report().recovery?.fromNodeId, OTHER);
        await h2.puller.scanEnded();
        assert.equal(h2.puller.phase, 'catching-up');
        assert.ok(otherPeer.scans > 0);
        assert.equal(peer.scans, scansBefore, 'the silent source is not asked again');
        assert.deepEqual(
          (await loadRecoveryState(t.dir))?.joinAt,
          { [OTHER]: { file: 1, offset: 20 } },
          'push-sync positions taken toward the new source',
        );
        await h2.puller.stop();
      } finally {
        await stopAll();
        await t.remove();
      }
    },
  );

  test('the throttle holds the copy rate to bytesPerSecond', T, async () => {
    const t = await tempDir();
    try {
      // 20 keys of 100 bytes at 1,000 bytes/s: at least ~2 s, however fast the copies are.
      const h = await open(t.dir, source(20), store(), {}, { bytesPerSecond: 1000, realClock: true });
      const started = Date.now();
      await h.puller.onMembers([covered()]);
      await h.puller.scanEnded();
      assert.equal(h.puller.phase, 'catching-up');
      assert.ok(Date.now() - started >= 1800, `took only ${Date.now() - started} ms`);
    } finally {
      await stopAll();
      await t.remove();
    }
  });

  test('a damaged recovery.json is one clear error, not a silent restart', T, async () => {
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, RECOVERY_FILE), '{"sourceNodeId": 3');
      await assert.rejects(open(t.dir, source(1), store()), /recovery\.json is damaged; remove it/);
    } finally {
      await stopAll();
      await t.remove();
    }
  });
});

describe('recovery pull: the member side of the join', () => {
  /** A push sync whose mirrors' positions are set by hand; `caughtUp` resolves when `settle()` is called. */
  function fakeSync() {
    const positions = new Map<string, { file: number; offset: number }>();
    const needs = new Set<string>();
    const joins: string[] = [];
    let settle!: () => void;
    const settled = new Promise<void>((done) => {
      settle = done;
    });
    const sync: JoinablePushSync = {
      end: { file: 3, offset: 900 },
      oldest: async () => ({ file: 2, offset: 0 }),
      position: (id) => (needs.has(id) ? undefined : positions.get(id)),
      join: async (id, at) => {
        joins.push(`${id}@${at.file}:${at.offset}`);
        positions.set(id, at);
        needs.delete(id);
      },
      caughtUp: () => settled,
      report: () => [...needs].map((nodeId) => ({ nodeId, lagOps: 1, lagBytes: 0, needsPull: true })),
    };
    return { sync, positions, needs, joins, settle };
  }

  test(
    'positions: the source gives its binlog end, another member what the source applied of its binlog',
    T,
    async () => {
      const f = fakeSync();
      const control = pushSyncControl(SOURCE, f.sync);
      assert.deepEqual(await control.position(SOURCE), { file: 3, offset: 900 });
      assert.deepEqual(f.joins, []);
      // A node beginning a pull: push sync toward it starts there now, even if it was further (a new store).
      f.positions.set(ME, { file: 3, offset: 950 });
      assert.deepEqual(await control.position(SOURCE, ME), { file: 3, offset: 900 });
      assert.deepEqual(f.joins, [`${ME}@3:900`]);
      f.positions.set(OTHER, { file: 3, offset: 10 });
      const asOther = pushSyncControl(ME, f.sync);
      assert.deepEqual(await asOther.position(OTHER), { file: 3, offset: 10 });
      // Never seen: everything it keeps.
      assert.deepEqual(await asOther.position('0000000f'), { file: 2, offset: 0 });
    },
  );

  test(
    'join: a position already passed is kept, an earlier one (or none) set; answers caught up or not',
    T,
    async () => {
      const f = fakeSync();
      const control = pushSyncControl(SOURCE, f.sync);
      f.positions.set(ME, { file: 3, offset: 500 });
      // Push sync shipped past the recorded position during the pull: kept. Not caught up within the wait.
      assert.deepEqual(await control.join(ME, { file: 3, offset: 100 }, 20), { caughtUp: false });
      assert.deepEqual(f.joins, []);
      // Behind the recorded position (or never seen): set there.
      assert.deepEqual(await control.join(OTHER, { file: 3, offset: 100 }, 20), { caughtUp: false });
      assert.deepEqual(f.joins, [`${OTHER}@3:100`]);
      f.settle();
      assert.deepEqual(await control.join(ME, { file: 3, offset: 100 }, 10_000), { caughtUp: true });
    },
  );

  test('join: a mirror marked needsPull that push sync cannot take back says so', T, async () => {
    const f = fakeSync();
    const sync: JoinablePushSync = { ...f.sync, join: async () => undefined };
    f.needs.add(ME);
    assert.deepEqual(await pushSyncControl(SOURCE, sync).join(ME, { file: 3, offset: 1 }, 10), {
      caughtUp: false,
      needsPull: true,
    });
  });
});
