// Compaction's forwards (old location → copy of a moved entry) are bounded: a volume forgets those of a retired
// chunkfile once nothing that began before the retirement can still name an old location (reads holding pins,
// locked writes). Until then an old location keeps reading and freeing the right entry. Pause points, no sleeps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Volume } from '../packing/index.ts';
import { StorageNode } from './node.ts';
import { Gate, gatedOpener } from './testing/gated-volume.ts';
import { bytes, md5, putInput, readAll, tempDir } from './testing/harness.ts';

async function withNode(fn: (node: StorageNode, gate: Gate, vol: Volume) => Promise<void>) {
  const t = await tempDir('quire-forwards-');
  const gate = new Gate();
  const vols: Volume[] = [];
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: [{ dir: join(t.dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    // 64 KiB chunkfiles, one write lane: thirty-odd 2,000-byte objects fill a file.
    volumeOpener: gatedOpener(gate, vols),
    smallObjectMaxBytes: 64 * 1024,
    minPartBytes: 100 * 1024,
    durability: 'none',
  });
  try {
    await fn(node, gate, vols[0]!);
  } finally {
    await node.close();
    await t.remove();
  }
}

/**
 * One round: fills a little over two chunkfiles and deletes it all again, so every file but the lane's new one
 * is sparse (the one holding `kept` included), then compacts. Returns the entries moved.
 */
async function churnAndCompact(node: StorageNode, vol: Volume, round: number): Promise<number> {
  const keys = Array.from({ length: 70 }, (_, i) => `f${round}-${i}`);
  for (const [i, k] of keys.entries()) await node.putObject(putInput('b', k, bytes(2000, round * 100 + i)));
  for (const k of keys) assert.equal(await node.deleteObject('b', Buffer.from(k)), true);
  const report = await vol.compact({ liveRatioBelow: 0.5 });
  return report.entriesMoved;
}

async function readObject(node: StorageNode, key: string): Promise<Buffer> {
  const h = await node.openObject('b', Buffer.from(key));
  assert.ok(h, `${key} is there`);
  try {
    return await readAll(h.stream());
  } finally {
    h.release();
  }
}

describe('compaction forwards are bounded', { timeout: 60_000 }, () => {
  test('ten rounds of compaction leave no forwards once nothing uses the old locations', async () => {
    await withNode(async (node, _gate, vol) => {
      const kept = new Map<string, Buffer>();
      for (let i = 0; i < 8; i++) {
        const data = bytes(1500 + i, 7 + i);
        kept.set(`k${i}`, data);
        await node.putObject(putInput('b', `k${i}`, data));
      }
      let moved = 0;
      for (let round = 0; round < 10; round++) {
        moved += await churnAndCompact(node, vol, round);
        await vol.forwardsSettled();
        assert.equal(vol.forwardsHeld, 0, `round ${round}: no forwards left (${moved} entries moved so far)`);
      }
      assert.ok(moved >= 10 * kept.size, `the kept objects moved every round (${moved} moves)`);
      for (const [k, data] of kept) assert.ok((await readObject(node, k)).equals(data), `${k} intact`);
    });
  });

  test('a reader holding the old location across ten moves reads its bytes; its forwards go when it ends', async () => {
    await withNode(async (node, _gate, vol) => {
      const data = bytes(1777, 31);
      await node.putObject(putInput('b', 'held', data));
      const h = await node.openObject('b', Buffer.from('held'));
      assert.ok(h);
      let moved = 0;
      for (let round = 0; round < 10; round++) moved += await churnAndCompact(node, vol, round);
      assert.ok(moved >= 10, `the held entry moved every round (${moved} moves)`);
      // The reader still names the first location: every forward it may follow is kept.
      assert.ok(vol.forwardsHeld > 0, 'forwards kept while the reader holds its location');
      const body = await readAll(h.stream());
      assert.equal(md5(body), h.record.etag, 'the reader gets the bytes its ETag names');
      assert.ok(body.equals(data));
      h.release();
      await vol.forwardsSettled();
      assert.equal(vol.forwardsHeld, 0, 'all forwards forgotten once the reader is done');
      assert.ok((await readObject(node, 'held')).equals(data));
    });
  });

  test('current and noncurrent versions moved by compaction are read by version id, also after a restart', async () => {
    const t = await tempDir('quire-forwards-versions-');
    const open = (vols: Volume[]) =>
      StorageNode.open({
        dataDir: t.dir,
        nodeId: 1,
        volumes: [{ dir: join(t.dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
        volumeOpener: gatedOpener(new Gate(), vols),
        smallObjectMaxBytes: 64 * 1024,
        durability: 'none',
      });
    try {
      const vols: Volume[] = [];
      const node = await open(vols);
      const v1 = bytes(1500, 41);
      const v2 = bytes(1600, 42);
      const first = await node.putObject(putInput('b', 'versioned', v1, { versioning: 'enabled' }));
      const second = await node.putObject(putInput('b', 'versioned', v2, { versioning: 'enabled' }));
      let moved = 0;
      for (let round = 0; round < 3; round++) moved += await churnAndCompact(node, vols[0]!, round);
      assert.ok(moved >= 6, `both versions moved every round (${moved} moves)`);
      await vols[0]!.forwardsSettled();
      assert.equal(vols[0]!.forwardsHeld, 0);
      const check = async (n: StorageNode, when: string) => {
        for (const [versionId, data] of [
          [first.versionId, v1],
          [second.versionId, v2],
        ] as const) {
          const h = await n.openObject('b', Buffer.from('versioned'), { versionId });
          assert.ok(h, `${when}: version ${versionId} is there`);
          try {
            assert.ok(
              (await readAll(h.stream())).equals(data),
              `${when}: its bytes, where compaction put them`,
            );
          } finally {
            h.release();
          }
        }
        assert.ok((await readObject(n, 'versioned')).equals(v2), `${when}: the current version`);
      };
      await check(node, 'running');
      await node.close();
      const again = await open([]);
      try {
        await check(again, 'reopened');
      } finally {
        await again.close();
      }
    } finally {
      await t.remove();
    }
  });

  test('a delete that read the old location before the move frees the copy, however long it is held', async () => {
    await withNode(async (node, gate, vol) => {
      await node.putObject(putInput('b', 'victim', bytes(1500, 3)));
      const before = vol.stats().liveEntries;
      // The delete has read the row (old location) and claimed it; it stops just before the volume frees it.
      const reached = gate.arm('delete');
      const deleting = node.deleteObject('b', Buffer.from('victim'));
      await reached;
      assert.ok((await churnAndCompact(node, vol, 0)) >= 1, 'the entry moved under the delete');
      // The file it moved out of is retired, but the delete in progress may still name the old location.
      assert.ok(vol.forwardsHeld > 0, 'the forward is kept for the locked write in progress');
      gate.open();
      assert.equal(await deleting, true);
      await vol.forwardsSettled();
      assert.equal(vol.forwardsHeld, 0);
      // Tombstones of the deletes (kept for replication, one row each) aside, the moved copy was freed.
      const tombstones = node.index.tombstones.getCount();
      assert.equal(
        vol.stats().liveEntries - tombstones,
        before - 1,
        'the moved copy was freed, nothing leaked',
      );
      assert.equal(await node.openObject('b', Buffer.from('victim')), undefined);
    });
  });
});
