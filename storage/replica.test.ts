// The replication primitive on real nodes (real LMDB, real volumes): states, apply-if-newer, tombstones,
// multipart objects, versions applied out of order, the key scan, reopen and rebuild.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ObjectRecord } from './api.ts';
import { StorageNode, type StorageNodeOptions } from './node.ts';
import { rebuildIndex } from './rebuild.ts';
import type { ReplicaEnd, ReplicaState } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, md5, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 64 * 1024;
const { opener } = testOpener();

interface Pair {
  a: StorageNode;
  b: StorageNode;
  optsOf: (n: 1 | 2) => StorageNodeOptions;
  clock: { now: number };
  done: () => Promise<void>;
}

async function twoNodes(extra: Partial<StorageNodeOptions> = {}): Promise<Pair> {
  const ta = await tempDir('quire-replica-a-');
  const tb = await tempDir('quire-replica-b-');
  const clock = { now: 1_800_000_000_000 };
  const optsOf = (n: 1 | 2): StorageNodeOptions => {
    const dir = n === 1 ? ta.dir : tb.dir;
    return {
      dataDir: dir,
      nodeId: n,
      volumes: volumeSpecs(dir, 2),
      volumeOpener: opener,
      smallObjectMaxBytes: SMALL,
      minPartBytes: 1024,
      tombstonePurgeIntervalMs: 0,
      now: () => clock.now,
      ...extra,
    };
  };
  const p: Pair = {
    a: await StorageNode.open(optsOf(1)),
    b: await StorageNode.open(optsOf(2)),
    optsOf,
    clock,
    done: async () => {
      await p.a.close().catch(() => undefined);
      await p.b.close().catch(() => undefined);
      await ta.remove();
      await tb.remove();
    },
  };
  return p;
}

const K = (s: string) => Buffer.from(s);

/** The states as comparable values (records without the per-read isLatest). */
function norm(states: ReplicaState[]) {
  return states
    .map((s) => {
      const r = s.record && { ...s.record };
      if (r) delete r.isLatest;
      return { ...s, ...(r ? { record: r } : {}) };
    })
    .sort((x, y) => (x.versionId < y.versionId ? -1 : x.versionId > y.versionId ? 1 : 0));
}

async function bodyOf(n: StorageNode, key: string, versionId?: string): Promise<Buffer | undefined> {
  const h = await n.openObject('b', K(key), versionId ? { versionId } : {});
  if (!h) return undefined;
  try {
    return await readAll(h.stream());
  } finally {
    h.release();
  }
}

/** A body that fails the test if anyone reads it. */
function untouchable(): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]() {
      throw new Error('the body of a stale state was read');
    },
  };
}

test('an unversioned object is copied exactly; a second copy applies nothing; a stale apply reads no body', {
  timeout: 60_000,
}, async () => {
  const p = await twoNodes();
  try {
    const small = bytes(3000, 1);
    const large = bytes(200 * 1024, 2);
    await p.a.putObject(
      putInput('b', 'small', small, {
        tags: [{ key: 't', value: 'v' }],
        acl: { owner: 'o', grants: [{ grantee: { type: 'Group', uri: 'g' }, permission: 'READ' }] },
        retention: { mode: 'GOVERNANCE', retainUntilMs: 1_900_000_000_000 },
        legalHold: true,
      }),
    );
    await p.a.putObject(putInput('b', 'large', large));
    for (const key of ['small', 'large']) {
      const r = await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K(key) });
      assert.deepEqual(r, { applied: 1, stale: 0, bytes: key === 'small' ? 3000 : 200 * 1024 });
      assert.deepEqual(
        norm(await p.b.replicaStates('b', K(key))),
        norm(await p.a.replicaStates('b', K(key))),
      );
      assert.deepEqual(await p.b.headObject('b', K(key)), await p.a.headObject('b', K(key)));
    }
    assert.ok((await bodyOf(p.b, 'small'))!.equals(small));
    assert.ok((await bodyOf(p.b, 'large'))!.equals(large));
    assert.deepEqual(await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('small') }), {
      applied: 0,
      stale: 0,
      bytes: 0,
    });
    // Applied directly: the same state again, and an older one, never touch their bodies.
    const [s] = await p.a.replicaStates('b', K('large'));
    assert.equal(await p.b.applyReplica({ state: s!, body: untouchable() }), 'stale');
    const older = { ...s!, opver: { counter: s!.opver.counter - 1n, nodeId: s!.opver.nodeId } };
    assert.equal(await p.b.applyReplica({ state: older, body: untouchable() }), 'stale');
    // The clock moved past the applied opver: B's next write of the key is newer than A's.
    const mine = await p.b.putObject(putInput('b', 'small', bytes(10, 3)));
    assert.ok(mine.opver.counter > s!.opver.counter);
    assert.equal((await copyKey({ from: p.b, to: p.a, bucket: 'b', key: K('small') })).applied, 1);
    assert.ok((await bodyOf(p.a, 'small'))!.equals(bytes(10, 3)));
  } finally {
    await p.done();
  }
});

test('a delete leaves a tombstone that blocks an older replicated write; it expires by age', {
  timeout: 60_000,
}, async () => {
  const p = await twoNodes({ tombstoneRetentionMs: 1000 });
  try {
    await p.a.putObject(putInput('b', 'k', bytes(100, 1)));
    const [written] = await p.a.replicaStates('b', K('k'));
    assert.equal(await p.a.deleteObject('b', K('k')), true);
    const states = await p.a.replicaStates('b', K('k'));
    assert.equal(states.length, 1);
    assert.equal(states[0]!.record, undefined);
    assert.ok(states[0]!.opver.counter > written!.opver.counter);
    // The write arrives after the delete: A refuses it, B (which never had either) takes the delete first.
    assert.equal(await p.a.applyReplica({ state: written!, body: untouchable() }), 'stale');
    assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
    assert.equal(await p.b.applyReplica({ state: written!, body: untouchable() }), 'stale');
    assert.equal(await p.b.headObject('b', K('k')), undefined);
    assert.deepEqual(norm(await p.b.replicaStates('b', K('k'))), norm(states));
    assert.deepEqual(await p.b.scanKeys({ limit: 10 }), [{ bucket: 'b', key: K('k') }]);
    // Not yet expired, then expired: gone from states and the scan, and the old write may come again.
    assert.equal(await p.b.purgeTombstones(), 0);
    p.clock.now += 1001;
    assert.equal(await p.b.purgeTombstones(), 1);
    assert.deepEqual(await p.b.replicaStates('b', K('k')), []);
    assert.deepEqual(await p.b.scanKeys({ limit: 10 }), []);
    assert.equal(
      await p.b.applyReplica({
        state: written!,
        body: (async function* () {
          yield bytes(100, 1);
        })(),
      }),
      'applied',
    );
    assert.ok((await bodyOf(p.b, 'k'))!.equals(bytes(100, 1)));
  } finally {
    await p.done();
  }
});

test('a multipart object is replicated with its parts list (partNumber sizes and ETags)', {
  timeout: 60_000,
}, async () => {
  const p = await twoNodes();
  try {
    const parts = [bytes(2048, 1), bytes(3000, 2), bytes(100, 3)];
    for (const [key, big] of [
      ['mp', false],
      ['mp-big', true],
    ] as const) {
      const id = await p.a.createUpload('b', K(key), { userMeta: {} }, 1);
      const done: Array<{ partNumber: number; etag: string }> = [];
      for (const [i, body] of parts.entries()) {
        const data = big ? Buffer.concat([body, bytes(SMALL, 10 + i)]) : body;
        const f = await p.a.uploadPart({
          bucket: 'b',
          key: K(key),
          uploadId: id,
          partNumber: i + 1,
          size: data.length,
          body: (async function* () {
            yield data;
          })(),
          finish: async () => ({ etag: md5(data), checksums: {} }),
          nowMs: 1,
        });
        done.push({ partNumber: i + 1, etag: f.etag });
      }
      const rec = await p.a.completeUpload('b', K(key), id, done, 2);
      // The version, and the tombstone of the upload it completed (replica-uploads.ts).
      assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K(key) })).applied, 2);
      assert.deepEqual(
        (await p.b.uploadStates('b', K(key))).map((s) => [s.uploadId, s.upload === undefined]),
        [[id, true]],
      );
      const got = (await p.b.headObject('b', K(key))) as ObjectRecord;
      assert.deepEqual(got.parts, rec.parts);
      assert.equal(got.etag, rec.etag);
      assert.ok((await bodyOf(p.b, key))!.equals((await bodyOf(p.a, key))!));
    }
  } finally {
    await p.done();
  }
});

test('versions applied out of order take their place by stamp; reopen and rebuild keep them', {
  timeout: 90_000,
}, async () => {
  const p = await twoNodes();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await p.a.putObject(putInput('b', 'v', bytes(50 + i, i), { versioning: 'enabled' }));
      ids.push(r.versionId);
    }
    await p.a.removeObject({ bucket: 'b', key: K('v'), versioning: 'enabled', nowMs: 5 });
    await p.a.removeObject({ bucket: 'b', key: K('v'), versionId: ids[1]!, nowMs: 6 });
    const all = await p.a.replicaStates('b', K('v'));
    // Oldest last, removal first: every order must end in A's arrangement.
    for (const s of [...all].reverse()) {
      const body = s.record && !s.record.deleteMarker ? (await bodyOf(p.a, 'v', s.versionId))! : undefined;
      await p.b.applyReplica({
        state: s,
        ...(body
          ? {
              body: (async function* () {
                yield body;
              })(),
            }
          : {}),
      });
    }
    const want = await p.a.listObjectVersions('b', { prefix: K(''), limit: 100 });
    assert.deepEqual(await p.b.listObjectVersions('b', { prefix: K(''), limit: 100 }), want);
    assert.deepEqual(norm(await p.b.replicaStates('b', K('v'))), norm(all));
    await p.b.close();
    p.b = await StorageNode.open(p.optsOf(2));
    assert.deepEqual(await p.b.listObjectVersions('b', { prefix: K(''), limit: 100 }), want);
    await p.b.close();
    await rebuildIndex(p.optsOf(2).dataDir, { volumeOpener: opener });
    p.b = await StorageNode.open(p.optsOf(2));
    assert.deepEqual(await p.b.listObjectVersions('b', { prefix: K(''), limit: 100 }), want);
    assert.deepEqual(norm(await p.b.replicaStates('b', K('v'))), norm(all));
    for (const v of want.filter((x) => !x.deleteMarker))
      assert.ok((await bodyOf(p.b, 'v', v.versionId))!.equals((await bodyOf(p.a, 'v', v.versionId))!));
  } finally {
    await p.done();
  }
});

test('scanKeys walks every key with versions or tombstones, across buckets, in byte order', {
  timeout: 60_000,
}, async () => {
  const p = await twoNodes();
  try {
    const keys = ['a', 'a\u0000', 'b', 'zz', '\u00ff'];
    for (const k of keys) await p.a.putObject(putInput('b1', k, bytes(10, 1)));
    await p.a.putObject(putInput('b0', 'x', bytes(10, 1)));
    await p.a.deleteObject('b1', K('b'));
    await p.a.putObject(putInput('b2', 'y', bytes(10, 1), { versioning: 'enabled' }));
    const want = [
      { bucket: 'b0', key: K('x') },
      ...keys.map((k) => ({ bucket: 'b1', key: K(k) })).sort((x, y) => Buffer.compare(x.key, y.key)),
      { bucket: 'b2', key: K('y') },
    ];
    assert.deepEqual(await p.a.scanKeys({ limit: 100 }), want);
    const paged = [];
    let after: { bucket: string; key: Buffer } | undefined;
    for (;;) {
      const page = await p.a.scanKeys({ ...(after ? { after } : {}), limit: 2 });
      if (page.length === 0) break;
      paged.push(...page);
      after = page[page.length - 1];
    }
    assert.deepEqual(paged, want);
  } finally {
    await p.done();
  }
});

// Keeps the type honest: a StorageNode is a ReplicaEnd.
const _end: (n: StorageNode) => ReplicaEnd = (n) => n;
void _end;

test('an apply over a version a reader holds: the reader gets its bytes, the old entry goes when it lets go', {
  timeout: 60_000,
}, async () => {
  const p = await twoNodes();
  try {
    const vol = () => [...p.b.volumes.values()].reduce((n, v) => n + v.stats().liveEntries, 0);
    const first = bytes(2000, 1);
    await p.a.putObject(putInput('b', 'k', first));
    await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') });
    const reader = (await p.b.openObject('b', K('k')))!;
    // A newer write replaces it, then a removal takes the key: both applied while the reader holds the first.
    await p.a.putObject(putInput('b', 'k', bytes(3000, 2)));
    assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
    await p.a.deleteObject('b', K('k'));
    assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
    assert.equal(await p.b.headObject('b', K('k')), undefined);
    assert.ok((await readAll(reader.stream())).equals(first), 'the pinned version reads whole');
    const pinned = vol();
    reader.release();
    await p.b.deferredFreesDone();
    assert.equal(vol(), pinned - 1, 'the first version freed once its reader let go');
    assert.equal(vol(), 1, 'only the tombstone is left');
  } finally {
    await p.done();
  }
});
