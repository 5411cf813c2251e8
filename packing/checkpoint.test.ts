// Checkpoints and the change journal: after a crash, reopening reads only what changed since the
// checkpoint, reports it in `recovery.changed`, and ends with the same space accounting as reading
// every file.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { Location, VolumeStats } from './types.ts';
import { Volume } from './volume.ts';

const OPTS = { chunkBytes: 256 * 1024, smallObjectMaxBytes: 64 * 1024, durability: 'none' as const };

function space(s: VolumeStats) {
  const { liveEntries, liveBytes, liveDataBytes, holeBytes, holeCount, deadBytes, diskBytes } = s;
  return { liveEntries, liveBytes, liveDataBytes, holeBytes, holeCount, deadBytes, diskBytes };
}

const put = (v: Volume, k: string, n: number, size = 2000) =>
  v.put({
    key: Buffer.from(k),
    meta: Buffer.alloc(0),
    opver: opver(n),
    data: bytesFor(n, size),
    dataBytes: size,
  });

test('after a crash only the tails and the chunkfiles changed since the checkpoint are read', {
  timeout: 60_000,
}, async () => {
  const { dir, cleanup } = await tempDir('ckpt-tail');
  try {
    const v = await newVolume(dir, OPTS);
    const locs: Location[] = [];
    for (let i = 0; i < 600; i++) locs.push((await put(v, `k${i}`, i + 1)).location);
    await v.checkpoint();
    // After it: new entries (tails and new files), one delete in an old chunkfile.
    for (let i = 600; i < 650; i++) await put(v, `k${i}`, i + 1);
    await v.delete(locs[3]!);
    const before = space(v.stats());
    await v.closeUnclean();

    const r = await Volume.open(dir, OPTS);
    assert.equal(r.recovery.mode, 'checkpoint');
    const changed = new Set(r.recovery.changed!.map((e) => e.key.toString()));
    for (let i = 600; i < 650; i++) assert.ok(changed.has(`k${i}`), `k${i} is reported`);
    assert.ok(!changed.has('k3'), 'the deleted entry is not live');
    // The old chunkfile with the delete is read whole; the others are not read at all.
    const fileOf3 = locs[3]!.fileId;
    const sameFile = locs.filter((l) => l.fileId === fileOf3).length;
    assert.equal(changed.size, 50 + sameFile - 1);
    assert.ok(
      r.recovery.scannedBytes < before.diskBytes / 2,
      `read ${r.recovery.scannedBytes} of ${before.diskBytes}`,
    );
    assert.deepEqual(space(r.stats()), before);
    await r.close();
    // The same state as reading every file.
    await rm(join(dir, 'summary.qs'));
    const full = await Volume.open(dir, OPTS);
    assert.equal(full.recovery.mode, 'scan');
    assert.deepEqual(space(full.stats()), before);
    await full.close();
  } finally {
    await cleanup();
  }
});

test('a protected singlefile stays reported after a crash, even across a later checkpoint', {
  timeout: 60_000,
}, async () => {
  const { dir, cleanup } = await tempDir('ckpt-single');
  try {
    const v = await newVolume(dir, OPTS);
    const big = await put(v, 'big', 1, 100_000);
    assert.equal(big.location.kind, 'single');
    await put(v, 'small', 2);
    await v.checkpoint();
    const release = await v.protect([big.location]);
    await v.checkpoint();
    await v.closeUnclean();
    release();
    const r = await Volume.open(dir, OPTS);
    assert.equal(r.recovery.mode, 'checkpoint');
    assert.deepEqual(
      r.recovery.changed!.map((e) => e.key.toString()),
      ['big'],
      'the singlefile is reported so its owner can check it',
    );
    await r.close();
  } finally {
    await cleanup();
  }
});

test('a clean close reopens from the checkpoint without reading anything', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = await tempDir('ckpt-clean');
  try {
    const v = await newVolume(dir, OPTS);
    for (let i = 0; i < 50; i++) await put(v, `k${i}`, i + 1);
    const before = space(v.stats());
    await v.close();
    const r = await Volume.open(dir, OPTS);
    assert.equal(r.recovery.mode, 'summary');
    assert.equal(r.recovery.scannedBytes, 0);
    assert.deepEqual(space(r.stats()), before);
    // A crash right after this clean open: the checkpoint is no longer complete, nothing is lost.
    await put(r, 'after', 99);
    await r.closeUnclean();
    const again = await Volume.open(dir, OPTS);
    assert.equal(again.recovery.mode, 'checkpoint');
    assert.deepEqual(
      again.recovery.changed!.map((e) => e.key.toString()),
      ['after'],
    );
    await again.close();
  } finally {
    await cleanup();
  }
});
