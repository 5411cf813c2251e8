// Bugs the storage crash simulation (sim.test.ts) found, each pinned by a deterministic test.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Rng } from '../common/testing/rng.ts';
import { SimDisk } from '../common/testing/sim-disk.ts';
import type { Volume } from '../packing/volume.ts';
import { StorageNode } from './node.ts';
import { bytes, H, putInput, readAll, tempDir, volumeSpecs } from './testing/harness.ts';

test('an upload marker moved by compaction is followed by the index: abort after a restart leaves nothing behind', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  const opts = {
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 1),
    smallObjectMaxBytes: 4096,
    volumeTuning: { chunkBytes: 16 * 1024, smallObjectMaxBytes: 4096, writeLanes: 1 },
  };
  const entries = async (node: StorageNode) => {
    const kinds: string[] = [];
    for await (const e of (node.volumes.get('v1') as unknown as Volume).scan())
      kinds.push(String.fromCharCode(e.key[0]!));
    return kinds;
  };
  try {
    let node = await StorageNode.open(opts);
    const id = await node.createUpload('b', Buffer.from('mpu'), H, 1);
    // Fill the marker's chunkfile and empty it again, so compaction moves the marker.
    for (let i = 0; i < 20; i++) await node.putObject(putInput('b', `o${i}`, bytes(1000, i)));
    for (let i = 0; i < 20; i++) await node.deleteObject('b', Buffer.from(`o${i}`));
    const report = await (node.volumes.get('v1') as unknown as Volume).compact({ liveRatioBelow: 0.5 });
    assert.ok(report.entriesMoved >= 1, 'compaction moved the marker');
    await node.close();
    node = await StorageNode.open({ ...opts, tombstoneRetentionMs: 0 });
    // The deleted keys' tombstones (kept for replication) expire at once here.
    assert.equal(await node.purgeTombstones(), 20);
    await node.abortUpload('b', Buffer.from('mpu'), id);
    // The upload's tombstone (replica-uploads.ts) is all that is left; it expires like the others.
    assert.deepEqual(await entries(node), ['T']);
    assert.equal(await node.purgeTombstones(), 1);
    assert.deepEqual(await entries(node), [], 'the aborted upload left no entry');
    assert.deepEqual(await node.listUploads('b', { prefix: Buffer.alloc(0), limit: 10 }), []);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('on first start the data directory itself is made durable: a power loss right after an acknowledged PUT keeps it', {
  timeout: 120_000,
}, async () => {
  const t = await tempDir();
  try {
    for (let seed = 1; seed <= 12; seed++) {
      // The index is a real file under t.dir; everything else lives on the simulated disk, where only
      // the root exists: the node creates the data directory, its binlog and its volume directories.
      const dataDir = join(t.dir, `s${seed}`);
      await mkdir(dataDir); // on the real disk: the LMDB index and its index-state.json
      const sim = new SimDisk(new Rng(seed));
      const opts = { dataDir, nodeId: 1, volumes: volumeSpecs(dataDir, 1), disk: sim };
      const node = await StorageNode.open(opts);
      const data = bytes(2000, seed);
      await node.putObject(putInput('b', 'k', data));
      sim.crash();
      await node.index.close(); // the node is quiet: its index keeps what it committed
      const after = await StorageNode.open({ ...opts, disk: sim.afterCrash() });
      const h = await after.openObject('b', Buffer.from('k'));
      assert.ok(h, `seed ${seed}: the acknowledged object survives`);
      assert.deepEqual(await readAll(h.stream()), data);
      h.release();
      await after.close();
    }
  } finally {
    await t.remove();
  }
});
