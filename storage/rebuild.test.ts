import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { StorageNode } from './node.ts';
import { rebuildIndex } from './rebuild.ts';
import { bytes, H, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 64 * 1024;
const MIN_PART = 100 * 1024;
const { opener } = testOpener();

async function fill(node: StorageNode): Promise<void> {
  for (let i = 0; i < 30; i++)
    await node.putObject(putInput('b', Buffer.from(`small\x00${i}`, 'latin1'), bytes(100 + i * 37, i)));
  for (let i = 0; i < 3; i++)
    await node.putObject(putInput('b', `large${i}`, bytes(SMALL + 1000 * i, 100 + i)));
  for (let i = 0; i < 10; i++)
    await node.putObject(putInput('b', Buffer.from(`small\x00${i}`, 'latin1'), bytes(50 + i, 200 + i)));
  await node.putObject(putInput('b', 'large0', bytes(300, 7))); // large replaced by small
  for (let i = 20; i < 25; i++) await node.deleteObject('b', Buffer.from(`small\x00${i}`, 'latin1'));
  const mp = async (key: string, complete: boolean) => {
    const id = await node.createUpload('c', Buffer.from(key), H, 5, 'CRC32');
    const parts = [];
    for (let p = 1; p <= 3; p++) {
      const d = bytes(p === 3 ? 999 : MIN_PART + p, p * 11);
      const r = await node.uploadPart({ ...putInput('c', key, d), uploadId: id, partNumber: p, nowMs: 6 });
      parts.push({ partNumber: p, etag: r.etag });
    }
    if (complete) await node.completeUpload('c', Buffer.from(key), id, parts, 7);
  };
  await mp('multi', true);
  await mp('multi2', true);
  await node.putObject(putInput('c', 'multi2', bytes(10, 1))); // multipart replaced
  await mp('inprogress', false);
}

async function snapshot(node: StorageNode): Promise<unknown> {
  const out: unknown[] = [];
  for (const bucket of ['b', 'c']) {
    for (const o of await node.listObjects(bucket, { prefix: Buffer.alloc(0), limit: 1000 })) {
      const h = (await node.openObject(bucket, o.key))!;
      out.push({ bucket, record: h.record, data: (await readAll(h.stream())).toString('base64') });
      h.release();
    }
    for (const u of await node.listUploads(bucket, { prefix: Buffer.alloc(0), limit: 100 })) {
      out.push({ u, parts: await node.listParts(bucket, u.key, u.uploadId, { afterPart: 0, limit: 100 }) });
    }
  }
  const stats = await node.stats();
  out.push({ objects: stats.objects, uploads: stats.uploads, live: stats.volumes.map((v) => v.liveBytes) });
  return out;
}

test('delete the LMDB index, reopen: identical records and bytes; rebuildIndex() likewise', async () => {
  const t = await tempDir();
  const opts = {
    dataDir: t.dir,
    nodeId: 3,
    volumes: volumeSpecs(t.dir, 2),
    volumeOpener: opener,
    smallObjectMaxBytes: SMALL,
    minPartBytes: MIN_PART,
  };
  try {
    let node = await StorageNode.open(opts);
    await fill(node);
    const want = await snapshot(node);
    const counter = node.counter;
    await node.close();

    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    assert.deepEqual(await snapshot(node), want);
    assert.ok(node.counter >= counter, 'opver counter never goes back');
    await node.close();

    const report = await rebuildIndex(t.dir, { volumeOpener: opener });
    assert.equal(report.objects, 30 - 5 + 3 + 2);
    assert.equal(report.uploads, 1);
    node = await StorageNode.open(opts);
    assert.deepEqual(await snapshot(node), want);
    const rec = await node.putObject(putInput('b', 'new', Buffer.from('x')));
    assert.ok(rec.opver.counter > counter);
    await node.close();
  } finally {
    await t.remove();
  }
});
