// An entry whose index row is written after its put returns (a multipart part: the row is committed under the
// upload's lock) may be moved by compaction in between, when no row exists yet for the move to update. The
// writer must then name where the entry is now, or the row points into a retired chunkfile and the part is lost
// at the next open. Pause point: the test holds the upload's lock, so the part's put is done and its row waits.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Volume } from '../packing/index.ts';
import type { KeyedLock } from './locks.ts';
import { StorageNode } from './node.ts';
import { Gate, gatedOpener } from './testing/gated-volume.ts';
import { bytes, chunks, H, md5, putInput, readAll, tempDir } from './testing/harness.ts';

function open(dir: string, vols: Volume[]) {
  return StorageNode.open({
    dataDir: dir,
    nodeId: 1,
    volumes: [{ dir: join(dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    volumeOpener: gatedOpener(new Gate(), vols),
    smallObjectMaxBytes: 64 * 1024,
    minPartBytes: 1,
    durability: 'none',
  });
}

test('a part moved by compaction before its row is written is found at its new place after a reopen', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-fresh-rows-');
  try {
    const vols: Volume[] = [];
    let node = await open(t.dir, vols);
    const key = Buffer.from('mp');
    const uploadId = await node.createUpload('b', key, H, 1_700_000_000_000);
    // Fill two and a half 64 KiB chunkfiles, then delete it all: every file is sparse and gets compacted (the lane lets go of its half-full file too).
    const keys = Array.from({ length: 84 }, (_, i) => `f${i}`);
    for (const [i, k] of keys.entries()) await node.putObject(putInput('b', k, bytes(2000, i)));
    for (const k of keys) assert.equal(await node.deleteObject('b', Buffer.from(k)), true);

    const locks = (node.multipart as unknown as { node: { locks: KeyedLock } }).node.locks;
    let unlock!: () => void;
    const held = new Promise<void>((r) => {
      unlock = r;
    });
    let entered!: () => void;
    const inLock = new Promise<void>((r) => {
      entered = r;
    });
    const holder = locks.run(`u:${uploadId}`, async () => {
      entered();
      await held;
    });
    await inLock;
    const data = bytes(1500, 99);
    const part = node.uploadPart({
      bucket: 'b',
      key,
      uploadId,
      partNumber: 1,
      size: data.length,
      body: chunks(data),
      nowMs: 1_700_000_000_000,
      finish: async () => ({ etag: md5(data), checksums: {} }),
    });
    // The part's entry is written once the volume holds one more live entry than before.
    const vol = vols[0]!;
    const before = vol.stats().liveEntries;
    while (vol.stats().liveEntries === before) await new Promise((r) => setImmediate(r));
    const report = await vol.compact({ liveRatioBelow: 0.5 });
    assert.ok(report.entriesMoved >= 2, `the part and the upload marker moved (${report.entriesMoved})`);
    unlock();
    await holder;
    const etag = (await part).etag;
    const record = await node.completeUpload(
      'b',
      key,
      uploadId,
      [{ partNumber: 1, etag }],
      1_700_000_000_001,
    );
    assert.equal(record.size, data.length);
    await node.close();
    // A reopen forgets every forward: only the index says where the part is.
    node = await open(t.dir, vols);
    const h = await node.openObject('b', key);
    assert.ok(h, 'the completed object is there');
    try {
      assert.ok((await readAll(h.stream())).equals(data), 'byte-exact');
    } finally {
      h.release();
    }
    await node.close();
  } finally {
    await t.remove();
  }
});
