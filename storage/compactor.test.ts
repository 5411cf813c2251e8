// The compaction worker: sparse chunkfiles are rewritten while reads, overwrites and deletes of the same
// keys go on; afterwards (and after a reopen) every live object is byte-exact and nothing deleted is back.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Volume } from '../packing/index.ts';
import type { ReadHandle } from './api.ts';
import { StorageNode, type StorageNodeOptions } from './node.ts';
import { Gate, gatedOpener } from './testing/gated-volume.ts';
import { bytes, md5, putInput, readAll, tempDir } from './testing/harness.ts';

function options(dir: string, vols: Volume[], extra: Partial<StorageNodeOptions> = {}): StorageNodeOptions {
  return {
    dataDir: dir,
    nodeId: 1,
    volumes: [{ dir: join(dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    volumeOpener: gatedOpener(new Gate(), vols, 32 * 1024),
    smallObjectMaxBytes: 64 * 1024,
    durability: 'none',
    ...extra,
  };
}

/** Deterministic xorshift: the same run every time. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

async function fill(node: StorageNode, n: number, rnd: () => number) {
  const model = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const data = bytes(300 + Math.floor(rnd() * 2500), i + 1);
    await node.putObject(putInput('b', `k${i}`, data));
    model.set(`k${i}`, data);
  }
  // Delete ~85 %, scattered over every chunkfile.
  for (const k of [...model.keys()]) {
    if (rnd() < 0.85) {
      assert.equal(await node.deleteObject('b', Buffer.from(k)), true);
      model.delete(k);
    }
  }
  return model;
}

async function verify(node: StorageNode, model: Map<string, Buffer>, n: number): Promise<void> {
  for (let i = 0; i < n + 50; i++) {
    const k = `k${i}`;
    const h = await node.openObject('b', Buffer.from(k));
    const want = model.get(k);
    if (!want) {
      assert.equal(h, undefined, `${k} was deleted`);
      continue;
    }
    assert.ok(h, `${k} is live`);
    try {
      assert.equal(h.record.etag, md5(want), `${k} ETag`);
      assert.deepEqual(await readAll(h.stream()), want, `${k} bytes`);
    } finally {
      h.release();
    }
  }
}

test('compaction under a read/overwrite/delete load loses and resurrects nothing', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-compact-');
  const vols: Volume[] = [];
  const rnd = rng(0xc0ffee);
  const N = 500;
  let node = await StorageNode.open(options(t.dir, vols));
  try {
    const model = await fill(node, N, rnd);
    const before = (await node.stats()).volumes[0]!;
    // Slow enough that the load below overlaps many moves.
    const compacting = (async () => {
      const r = await vols[0]!.compact({
        liveRatioBelow: 0.5,
        bytesPerSecond: 150 * 1024,
        beforeRetire: async () => undefined,
      });
      return r;
    })();
    let done = false;
    void compacting.finally(() => {
      done = true;
    });
    const held: Array<{ h: ReadHandle; want: Buffer }> = [];
    let ops = 0;
    while (!done || ops < 200) {
      ops++;
      const k = `k${Math.floor(rnd() * (N + 50))}`;
      const r = rnd();
      if (r < 0.4) {
        const h = await node.openObject('b', Buffer.from(k));
        const want = model.get(k);
        assert.equal(h !== undefined, want !== undefined, `${k} presence`);
        // Some readers stay open across later writes and moves.
        if (h && want) held.push({ h, want });
      } else if (r < 0.75) {
        const data = bytes(300 + Math.floor(rnd() * 2500), 1000 + ops);
        await node.putObject(putInput('b', k, data));
        model.set(k, data);
      } else {
        assert.equal(await node.deleteObject('b', Buffer.from(k)), model.has(k), `${k} delete`);
        model.delete(k);
      }
      if (held.length > 8 || (done && held.length > 0)) {
        const { h, want } = held.shift()!;
        assert.deepEqual(await readAll(h.stream()), want, 'a held reader gets its version');
        h.release();
      }
    }
    const report = await compacting;
    assert.ok(report.filesDone >= 3, `compacted ${report.filesDone} chunkfiles`);
    assert.ok(report.entriesMoved > 0);
    // How much the load wrote meanwhile depends on the machine's speed: only the files retired count here.
    assert.ok(report.bytesReclaimed > 0, `reclaimed ${report.bytesReclaimed} of ${before.diskBytes} bytes`);
    await verify(node, model, N);
    await node.close();
    node = await StorageNode.open(options(t.dir, vols));
    await verify(node, model, N);
  } finally {
    await node.close();
    await t.remove();
  }
});

test('the node compacts by itself: threshold, throttle, progress', { timeout: 60_000 }, async () => {
  const t = await tempDir('quire-compact-bg-');
  const vols: Volume[] = [];
  const logged: string[] = [];
  const log = {
    info: (_o: object, m: string) => logged.push(m),
    error: (_o: object, m: string) => logged.push(m),
  };
  // Compaction off while filling: the first node never compacts.
  let node = await StorageNode.open(options(t.dir, vols));
  const rnd = rng(7);
  try {
    const model = await fill(node, 300, rnd);
    const before = (await node.stats()).volumes[0]!;
    await node.close();
    node = await StorageNode.open(
      options(t.dir, vols, {
        compaction: { liveRatioBelow: 0.5, bytesPerSecond: 1024 * 1024, intervalMs: 10, log },
      }),
    );
    const [{ report }] = (await once(node.compactor, 'compacted')) as [{ report: { filesDone: number } }];
    assert.ok(report.filesDone >= 1);
    const s = node.compactor.stats();
    assert.ok(s.filesCompacted >= 1 && s.entriesMoved > 0 && s.bytesMoved > 0, JSON.stringify(s));
    assert.ok(logged.includes('compaction progress') && logged.includes('compacted sparse chunkfiles'));
    const after = (await node.stats()).volumes[0]!;
    assert.ok(after.diskBytes < before.diskBytes, `disk ${before.diskBytes} → ${after.diskBytes}`);
    await verify(node, model, 300);
  } finally {
    await node.close();
    await t.remove();
  }
});

test('upload markers and deferred deletes moved by compaction are still found after a clean restart', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-compact-moved-');
  const vols: Volume[] = [];
  let node = await StorageNode.open(options(t.dir, vols, { minPartBytes: 1 }));
  try {
    // An upload marker, a key deleted while a read pins it (pending row + tombstone), and filler to
    // make their chunkfile sparse.
    const uploadId = await node.createUpload('b', Buffer.from('up'), { userMeta: {} }, 1);
    const part = bytes(700, 5);
    await node.putObject(putInput('b', 'pinned', bytes(900, 6)));
    for (let i = 0; i < 40; i++) await node.putObject(putInput('b', `f${i}`, bytes(1500, 100 + i)));
    const h = await node.openObject('b', Buffer.from('pinned'));
    assert.ok(h);
    assert.equal(await node.deleteObject('b', Buffer.from('pinned')), true);
    for (let i = 0; i < 40; i++) await node.deleteObject('b', Buffer.from(`f${i}`));
    const report = await vols[0]!.compact({ liveRatioBelow: 0.5 });
    assert.ok(report.entriesMoved >= 2, `moved ${report.entriesMoved}: the marker and the pinned entry`);
    // The pin outlives the node: its deferred delete is finished by the next (clean) open.
    await node.close();
    h.release();
    node = await StorageNode.open(options(t.dir, vols, { minPartBytes: 1, tombstoneRetentionMs: 0 }));
    assert.equal(await node.openObject('b', Buffer.from('pinned')), undefined);
    // The deleted keys' tombstones (kept for replication, replica-tombstones.ts), expired at once here.
    assert.equal(await node.purgeTombstones(), 41);
    const fin = await node.uploadPart({ ...putInput('b', 'up', part), uploadId, partNumber: 1 });
    await node.completeUpload('b', Buffer.from('up'), uploadId, [{ partNumber: 1, etag: fin.etag }], 2);
    const got = await node.openObject('b', Buffer.from('up'));
    assert.ok(got);
    assert.deepEqual(await readAll(got.stream()), part);
    got.release();
    // Nothing is left of the deleted key or the upload marker: the completed object's entries and the upload's
    // tombstone (replica-uploads.ts), which expires like the others.
    assert.equal((await node.stats()).volumes[0]!.liveEntries, 3);
    assert.equal(await node.purgeTombstones(), 1);
    const s = (await node.stats()).volumes[0]!;
    assert.equal(s.liveEntries, 2, 'the object manifest and its part');
  } finally {
    await node.close();
    await t.remove();
  }
});
