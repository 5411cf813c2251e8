import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StorageFullError } from './errors.ts';
import { StorageNode } from './node.ts';
import { apiSuite } from './testing/api-suite.ts';
import { bytes, H, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';
import { afterIndexCommit } from './testing/index-events.ts';

const SMALL = 64 * 1024;
const MIN_PART = 100 * 1024;
const { opener, real } = testOpener();

describe(`storage node in-process (${real ? 'packing Volume' : 'file stand-in'})`, () => {
  let node: StorageNode;
  let remove: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    remove = t.remove;
    node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 1,
      volumes: volumeSpecs(t.dir, 2),
      volumeOpener: opener,
      smallObjectMaxBytes: SMALL,
      minPartBytes: MIN_PART,
    });
  });
  after(async () => {
    await node.close();
    await remove();
  });
  apiSuite('in-process', () => ({ api: node, smallObjectMaxBytes: SMALL, minPartBytes: MIN_PART }));
});

const liveBytes = async (n: StorageNode) =>
  (await n.stats()).volumes.reduce((s, v) => s + v.liveBytes - v.holeBytes * 0, 0);

test('a full node refuses writes with StorageFullError; reads and deletes keep working', async () => {
  const t = await tempDir();
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 2, 300 * 1024, 100 * 1024),
    volumeOpener: opener,
    smallObjectMaxBytes: SMALL,
  });
  try {
    const stored: string[] = [];
    let full: unknown;
    for (let i = 0; i < 100 && !full; i++) {
      try {
        await node.putObject(putInput('b', `k${i}`, bytes(20 * 1024, i)));
        stored.push(`k${i}`);
      } catch (err) {
        full = err;
      }
    }
    assert.ok(full instanceof StorageFullError, `expected StorageFullError, got ${full}`);
    assert.equal((full as StorageFullError).code, 'InsufficientStorage');
    assert.ok(stored.length >= 8, `stored ${stored.length}`);
    const h = (await node.openObject('b', Buffer.from(stored[0]!)))!;
    assert.deepEqual(await readAll(h.stream()), bytes(20 * 1024, 0));
    h.release();
    for (const k of stored.slice(0, 4)) assert.equal(await node.deleteObject('b', Buffer.from(k)), true);
    await node.putObject(putInput('b', 'after-delete', bytes(10 * 1024, 1)));
  } finally {
    await node.close();
    await t.remove();
  }
});

test("abort and expiry free the parts' space; replacing a multipart object frees its parts", async () => {
  const t = await tempDir();
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: opener,
    smallObjectMaxBytes: SMALL,
    minPartBytes: MIN_PART,
    // An abort leaves the upload's tombstone (replica-uploads.ts): here it expires as soon as it is purged.
    tombstoneRetentionMs: 0,
    tombstonePurgeIntervalMs: 0,
  });
  try {
    const base = await liveBytes(node);
    const key = Buffer.from('m');
    const upload = async (nowMs: number) => {
      const id = await node.createUpload('b', key, H, nowMs);
      for (let p = 1; p <= 3; p++)
        await node.uploadPart({
          ...putInput('b', key, bytes(MIN_PART + p, p)),
          uploadId: id,
          partNumber: p,
          nowMs,
        });
      return id;
    };
    const id1 = await upload(1000);
    assert.ok((await liveBytes(node)) > base + 3 * MIN_PART);
    await node.abortUpload('b', key, id1);
    assert.ok((await liveBytes(node)) < base + 256, 'only the upload tombstone is left');
    assert.equal(await node.purgeTombstones(), 1);
    assert.equal(await liveBytes(node), base);

    await upload(1000);
    const id3 = await upload(9_000_000);
    assert.equal(await node.expireUploads(9_000_000, 1_000_000), 1);
    const left = await node.listUploads('b', { prefix: Buffer.alloc(0), limit: 10 });
    assert.deepEqual(
      left.map((u) => u.uploadId),
      [id3],
    );
    const parts = (await node.listParts('b', key, id3, { afterPart: 0, limit: 10 })).parts;
    await node.completeUpload(
      'b',
      key,
      id3,
      parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
      9_000_001,
    );
    assert.ok((await liveBytes(node)) > base + 3 * MIN_PART);
    await node.putObject(putInput('b', key, Buffer.from('small now')));
    assert.ok((await liveBytes(node)) < base + 1024, 'the parts were freed');
  } finally {
    await node.close();
    await t.remove();
  }
});

test('a pinned read survives a concurrent replace and delete; the space is freed on release', async () => {
  const t = await tempDir();
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: opener,
    smallObjectMaxBytes: SMALL,
  });
  try {
    const data = bytes(5000, 1);
    await node.putObject(putInput('b', 'k', data));
    const h = (await node.openObject('b', Buffer.from('k')))!;
    await node.putObject(putInput('b', 'k', bytes(5000, 2)));
    await node.deleteObject('b', Buffer.from('k'));
    await node.putObject(putInput('b', 'other', bytes(5000, 3)));
    assert.deepEqual(await readAll(h.stream()), data);
    const before = await liveBytes(node);
    const drained = afterIndexCommit(node.index, () => node.index.pending.getCount() === 0);
    h.release();
    await drained;
    assert.ok((await liveBytes(node)) < before);
    assert.equal(node.index.pending.getCount(), 0);
  } finally {
    await node.close();
    await t.remove();
  }
});
