// Uploads in progress as replication units on real nodes (real LMDB, real volumes): the upload and its parts
// applied if newer, the upload tombstone left by an abort or a completion outranking every late copy, completion on
// the node that took over from its own copies, copyKey and the key scan carrying uploads, tombstone expiry, reopen
// and rebuild.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageNode, type StorageNodeOptions } from './node.ts';
import { rebuildIndex } from './rebuild.ts';
import type { UploadState } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, md5, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 64 * 1024;
const T = { timeout: 60_000 };
const { opener } = testOpener();
const K = (s: string) => Buffer.from(s);
const H = { userMeta: { who: 'me' }, contentType: 'text/plain' };

interface Pair {
  a: StorageNode;
  b: StorageNode;
  optsOf: (n: 1 | 2) => StorageNodeOptions;
  clock: { now: number };
  done: () => Promise<void>;
}

async function twoNodes(): Promise<Pair> {
  const ta = await tempDir('quire-upl-a-');
  const tb = await tempDir('quire-upl-b-');
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

function once(b: Buffer): AsyncIterable<Buffer> {
  return (async function* () {
    yield b;
  })();
}

async function part(n: StorageNode, key: string, uploadId: string, partNumber: number, data: Buffer) {
  const f = await n.uploadPart({
    bucket: 'b',
    key: K(key),
    uploadId,
    partNumber,
    size: data.length,
    body: once(data),
    finish: async () => ({ etag: md5(data), checksums: {} }),
    nowMs: 2,
  });
  return { partNumber, etag: f.etag };
}

/** A body that fails the test if anyone reads it. */
function untouchable(): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]() {
      throw new Error('a stale state body was read');
    },
  };
}

async function objectBytes(n: StorageNode, key: string): Promise<Buffer | undefined> {
  const h = await n.openObject('b', K(key));
  if (!h) return undefined;
  try {
    return await readAll(h.stream());
  } finally {
    h.release();
  }
}

const sortStates = (s: UploadState[]) =>
  [...s].sort((x, y) => (x.uploadId + (x.partNumber ?? 0)).localeCompare(y.uploadId + (y.partNumber ?? 0)));

test(
  'an upload and its parts copy over, apply only if newer, and the other node completes the same object',
  T,
  async () => {
    const p = await twoNodes();
    try {
      const id = await p.a.createUpload('b', K('k'), H, 1, 'CRC32', { tags: [{ key: 't', value: 'v' }] });
      const big = bytes(SMALL * 3, 7); // a blob part
      const small = bytes(1500, 8);
      const done = [await part(p.a, 'k', id, 1, big), await part(p.a, 'k', id, 2, small)];
      const r = await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') });
      assert.deepEqual([r.applied, r.stale, r.bytes], [3, 0, big.length + small.length]);
      assert.deepEqual(
        sortStates(await p.b.uploadStates('b', K('k'))),
        sortStates(await p.a.uploadStates('b', K('k'))),
      );
      assert.deepEqual(
        await p.b.listParts('b', K('k'), id, { afterPart: 0, limit: 100 }),
        await p.a.listParts('b', K('k'), id, { afterPart: 0, limit: 100 }),
      );
      assert.deepEqual(
        await p.b.listUploads('b', { prefix: K(''), limit: 10 }),
        await p.a.listUploads('b', { prefix: K(''), limit: 10 }),
      );
      // Again: nothing new; each state offered directly is stale and its bytes are never read.
      assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 0);
      for (const s of await p.a.uploadStates('b', K('k')))
        assert.equal(await p.b.applyUpload({ state: s, body: untouchable() }), 'stale');
      // A newer upload of part 2 on A replaces B's; an older state offered afterwards is stale.
      const [old2] = (await p.b.uploadStates('b', K('k'))).filter((s) => s.partNumber === 2);
      const small2 = bytes(1600, 9);
      done[1] = await part(p.a, 'k', id, 2, small2);
      assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
      assert.equal(await p.b.applyUpload({ state: old2!, body: untouchable() }), 'stale');
      // B completes from its own copies exactly what A would have.
      const onB = await p.b.completeUpload('b', K('k'), id, done, 3);
      const onA = await p.a.completeUpload('b', K('k'), id, done, 3);
      assert.equal(onB.etag, onA.etag);
      assert.deepEqual(onB.parts, onA.parts);
      assert.deepEqual(onB.tags, onA.tags);
      assert.deepEqual(onB.checksums, onA.checksums);
      assert.ok((await objectBytes(p.b, 'k'))!.equals(Buffer.concat([big, small2])));
      assert.ok((await objectBytes(p.a, 'k'))!.equals(Buffer.concat([big, small2])));
    } finally {
      await p.done();
    }
  },
);

test(
  'a removed upload leaves a tombstone: late copies of it or its parts stay out; tombstones expire by age',
  T,
  async () => {
    const p = await twoNodes();
    try {
      const id = await p.a.createUpload('b', K('k'), H, 1);
      await part(p.a, 'k', id, 1, bytes(2000, 1));
      const before = await p.a.uploadStates('b', K('k'));
      await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') });
      await p.a.abortUpload('b', K('k'), id);
      const after = await p.a.uploadStates('b', K('k'));
      assert.deepEqual(
        after.map((s) => [s.uploadId, s.partNumber, s.upload]),
        [[id, undefined, undefined]],
      );
      assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
      await assert.rejects(p.b.listParts('b', K('k'), id, { afterPart: 0, limit: 10 }), {
        code: 'NoSuchUpload',
      });
      assert.deepEqual(await p.b.listUploads('b', { prefix: K(''), limit: 10 }), []);
      assert.equal((await p.b.stats()).uploads, 0);
      // The upload's and its part's earlier states arrive late (a slow push, a second source): nothing comes back,
      // on either node, whatever their opvers.
      for (const n of [p.a, p.b])
        for (const s of before) {
          const bumped = { ...s, opver: { counter: s.opver.counter + 1000n, nodeId: 9 } };
          assert.equal(await n.applyUpload({ state: bumped, body: untouchable() }), 'stale');
        }
      assert.deepEqual(await p.b.listUploads('b', { prefix: K(''), limit: 10 }), []);
      // A part of an upload the node never heard of is refused: its upload must come first.
      const stray: UploadState = { ...before[1]!, uploadId: 'f'.repeat(32) };
      await assert.rejects(p.b.applyUpload({ state: stray, body: once(bytes(2000, 1)) }), {
        code: 'NoSuchUpload',
      });
      // The key holds only a tombstone: the scan still walks it.
      assert.deepEqual(await p.b.scanKeys({ limit: 10 }), [{ bucket: 'b', key: K('k') }]);
      assert.equal(await p.b.purgeTombstones(), 0);
      p.clock.now += 8 * 24 * 3600_000;
      assert.equal(await p.b.purgeTombstones(), 1);
      assert.deepEqual(await p.b.uploadStates('b', K('k')), []);
      assert.deepEqual(await p.b.scanKeys({ limit: 10 }), []);
    } finally {
      await p.done();
    }
  },
);

test(
  'a completion elsewhere reaches a node holding the upload without bytes: built from its parts, the rest freed',
  T,
  async () => {
    const p = await twoNodes();
    try {
      const id = await p.a.createUpload('b', K('k'), H, 1);
      const d1 = bytes(SMALL * 2, 3);
      const done = [await part(p.a, 'k', id, 1, d1), await part(p.a, 'k', id, 2, bytes(10, 4))];
      // An unused part too: the completion drops it on A and on B.
      await part(p.a, 'k', id, 3, bytes(10, 5));
      await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') });
      assert.equal(p.b.index.parts.getCount(), 3);
      const rec = await p.a.completeUpload('b', K('k'), id, done, 3);
      const r = await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') });
      // The version (no bytes: B builds it from its copies of parts 1 and 2) and A's tombstone of the upload.
      assert.deepEqual([r.applied, r.bytes], [2, 0]);
      assert.equal(p.b.index.parts.getCount(), 2);
      assert.deepEqual((await p.b.headObject('b', K('k')))!.parts, rec.parts);
      assert.equal((await p.b.headObject('b', K('k')))!.etag, rec.etag);
      assert.ok((await objectBytes(p.b, 'k'))!.equals((await objectBytes(p.a, 'k'))!));
      await assert.rejects(p.b.completeUpload('b', K('k'), id, [{ partNumber: 1, etag: 'x' }], 4), {
        code: 'NoSuchUpload',
      });
      // A late copy of a part on A (which completed it) stays out too.
      const late = {
        bucket: 'b',
        key: K('k'),
        uploadId: id,
        partNumber: 9,
        opver: { counter: 10_000n, nodeId: 2 },
      };
      const s: UploadState = {
        ...late,
        part: { size: 3, etag: md5(K('abc')), checksums: {}, lastModifiedMs: 1 },
      };
      assert.equal(await p.a.applyUpload({ state: s, body: untouchable() }), 'stale');
    } finally {
      await p.done();
    }
  },
);

test(
  'a completion reaches a mirror without its bytes: built from its copies of the parts, or refused until it has them',
  T,
  async () => {
    const p = await twoNodes();
    try {
      const id = await p.a.createUpload('b', K('k'), H, 1);
      const data = [bytes(SMALL * 2, 1), bytes(2000, 2), bytes(10, 3)];
      const done = [];
      for (const [i, d] of data.entries()) done.push(await part(p.a, 'k', id, i + 1, d));
      const states = await p.a.uploadStates('b', K('k'));
      const copy = async (s: UploadState) => {
        const h = s.partNumber ? await p.a.openPart('b', K('k'), id, s.partNumber) : undefined;
        try {
          await p.b.applyUpload({ state: s, ...(h ? { body: h.stream() } : {}) });
        } finally {
          h?.release();
        }
      };
      // B has the upload and parts 1 and 3 only.
      for (const s of states) if (s.partNumber !== 2) await copy(s);
      const rec = await p.a.completeUpload('b', K('k'), id, done.slice(0, 2), 3);
      const [version] = await p.a.replicaStates('b', K('k'));
      assert.deepEqual(version!.record?.parts, rec.parts);
      const fromParts = { state: { ...version!, fromUpload: id } };
      await assert.rejects(p.b.applyReplica(fromParts), { code: 'NoSuchUpload' });
      assert.equal(await p.b.headObject('b', K('k')), undefined, 'nothing half done');
      // Part 2 arrives (as copied before A completed): now B builds the version from its copies.
      const part2 = states.find((s) => s.partNumber === 2)!;
      await p.b.applyUpload({ state: part2, body: once(data[1]!) });
      assert.equal(await p.b.applyReplica(fromParts), 'applied');
      assert.equal(await p.b.applyReplica(fromParts), 'stale');
      const got = (await p.b.headObject('b', K('k')))!;
      assert.deepEqual(
        [got.etag, got.versionId, got.opver, got.parts],
        [rec.etag, rec.versionId, rec.opver, rec.parts],
      );
      assert.ok((await objectBytes(p.b, 'k'))!.equals(Buffer.concat(data.slice(0, 2))));
      // The parts it used are the object's (part 3 freed); the upload is gone there too, with its tombstone.
      assert.equal(p.b.index.parts.getCount(), 2);
      assert.deepEqual(
        (await p.b.uploadStates('b', K('k'))).map((s) => [s.uploadId, s.partNumber, s.upload]),
        [[id, undefined, undefined]],
      );
      // A's own tombstone arrives later (newer): it takes the place of B's, and nothing else changes.
      assert.equal((await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('k') })).applied, 1);
      assert.deepEqual(await p.b.uploadStates('b', K('k')), await p.a.uploadStates('b', K('k')));
      assert.ok((await objectBytes(p.b, 'k'))!.equals(Buffer.concat(data.slice(0, 2))));
      await p.b.close();
      await rebuildIndex(p.optsOf(2).dataDir, { volumeOpener: opener });
      p.b = await StorageNode.open(p.optsOf(2));
      assert.ok((await objectBytes(p.b, 'k'))!.equals(Buffer.concat(data.slice(0, 2))));
      assert.deepEqual(await p.b.uploadStates('b', K('k')), await p.a.uploadStates('b', K('k')));
    } finally {
      await p.done();
    }
  },
);

test(
  'applied uploads, parts and upload tombstones survive a reopen and a rebuild from the volumes',
  T,
  async () => {
    const p = await twoNodes();
    try {
      const live = await p.a.createUpload('b', K('live'), H, 1, undefined, { legalHold: true });
      await part(p.a, 'live', live, 1, bytes(SMALL * 2, 1));
      await part(p.a, 'live', live, 2, bytes(100, 2));
      const gone = await p.a.createUpload('b', K('gone'), H, 1);
      await part(p.a, 'gone', gone, 1, bytes(100, 3));
      await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K('gone') });
      await p.a.abortUpload('b', K('gone'), gone);
      for (const k of ['live', 'gone']) await copyKey({ from: p.a, to: p.b, bucket: 'b', key: K(k) });
      const want = {
        live: sortStates(await p.a.uploadStates('b', K('live'))),
        gone: sortStates(await p.a.uploadStates('b', K('gone'))),
      };
      const check = async () => {
        assert.deepEqual(sortStates(await p.b.uploadStates('b', K('live'))), want.live);
        assert.deepEqual(sortStates(await p.b.uploadStates('b', K('gone'))), want.gone);
        const h = await p.b.openPart('b', K('live'), live, 1);
        try {
          assert.ok((await readAll(h!.stream())).equals(bytes(SMALL * 2, 1)));
        } finally {
          h!.release();
        }
      };
      await check();
      await p.b.close();
      p.b = await StorageNode.open(p.optsOf(2));
      await check();
      await p.b.close();
      await rebuildIndex(p.optsOf(2).dataDir, { volumeOpener: opener });
      p.b = await StorageNode.open(p.optsOf(2));
      await check();
      // A's own abort left its tombstone in its volumes too.
      await p.a.close();
      await rebuildIndex(p.optsOf(1).dataDir, { volumeOpener: opener });
      p.a = await StorageNode.open(p.optsOf(1));
      assert.deepEqual(sortStates(await p.a.uploadStates('b', K('gone'))), want.gone);
    } finally {
      await p.done();
    }
  },
);
