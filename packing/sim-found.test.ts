// Bugs the crash simulation (sim.test.ts) found, each pinned by a deterministic test.
import assert from 'node:assert/strict';
import { truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeDisk } from '../common/disk.ts';
import { GatedDisk } from '../common/testing/gated-disk.ts';
import { EntryNotFoundError } from './errors.ts';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { Location } from './types.ts';
import { Volume } from './volume.ts';

test('a put whose entry compaction moves before the put returns gets the new location', {
  timeout: 30_000,
}, async () => {
  const { dir, cleanup } = await tempDir('moved-early');
  const disk = new GatedDisk(nodeDisk);
  const opts = { disk, chunkBytes: 16 * 1024, smallObjectMaxBytes: 8192, writeLanes: 1 };
  try {
    const v = await newVolume(dir, opts);
    // Chunkfile 1: full, then mostly deleted, so it is sparse (compaction picks it) and has holes.
    const locs: Location[] = [];
    for (let i = 0; i < 30; i++) {
      const data = bytesFor(i, 1000);
      const e = await v.put({
        key: Buffer.from(`f${i}`),
        meta: Buffer.alloc(0),
        opver: opver(i + 1),
        data,
        dataBytes: data.length,
      });
      locs.push(e.location);
    }
    assert.ok(
      locs.some((l) => l.fileId > 1),
      'the lane moved on to a second chunkfile',
    );
    for (const l of locs.filter((l) => l.fileId === 1).slice(1)) await v.delete(l);
    const big = bytesFor(100, 9000);
    const single = await v.put({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(100),
      data: big,
      dataBytes: big.length,
    });
    assert.equal(single.location.kind, 'single');
    // The replacement lands in a hole of chunkfile 1, then waits while it unlinks the singlefile.
    const gate = disk.hold('unlink', (p) => p.endsWith('.qf'));
    const small = bytesFor(101, 700);
    const putting = v.put({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(101),
      data: small,
      dataBytes: small.length,
      replaces: single.location,
    });
    await gate.reached;
    const moved: Location[] = [];
    v.on('moved', (m) => {
      if (m.key.toString() === 'k') moved.push(m.to);
    });
    await v.compact({ liveRatioBelow: 0.5 });
    assert.equal(moved.length, 1, 'compaction moved the new entry while its put was still running');
    gate.release();
    const e = await putting;
    assert.deepEqual(e.location, moved[0], 'the put returns where the entry is now');
    await v.close();
    const again = await Volume.open(dir, opts);
    assert.deepEqual(await again.read(e.location), small);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('an entry whose zero slack a crash did not keep still counts its whole allocation in the file', {
  timeout: 30_000,
}, async () => {
  const { dir, cleanup } = await tempDir('short-slack');
  const opts = { slack: { kind: 'fixed' as const, bytes: 3000 }, writeLanes: 1 };
  try {
    const v = await newVolume(dir, opts);
    let last: Location | undefined;
    for (let i = 0; i < 3; i++) {
      const data = bytesFor(i, 500);
      last = (
        await v.put({
          key: Buffer.from(`k${i}`),
          meta: Buffer.alloc(0),
          opver: opver(i + 1),
          data,
          dataBytes: data.length,
        })
      ).location;
    }
    await v.closeUnclean();
    // The last entry's header and body reached the disk, its trailing zeros did not.
    const bodyEnd = last!.offset + 64 + 2 + 500;
    await truncate(join(dir, 'c-00000001.qc'), bodyEnd + 8);
    const again = await Volume.open(dir, opts);
    const tiled = (s: ReturnType<Volume['stats']>) =>
      s.liveBytes + s.holeBytes + s.deadBytes === s.diskBytes - 64;
    assert.ok(tiled(again.stats()), JSON.stringify(again.stats()));
    assert.deepEqual(await again.read(last!), bytesFor(2, 500));
    await again.delete(last!);
    assert.ok(tiled(again.stats()), JSON.stringify(again.stats()));
    await again.close();
  } finally {
    await cleanup();
  }
});

test('reading a singlefile that was replaced says EntryNotFoundError, not a raw ENOENT', {
  timeout: 30_000,
}, async () => {
  const { dir, cleanup } = await tempDir('gone-single');
  try {
    const v = await newVolume(dir, { smallObjectMaxBytes: 4096 });
    const big = bytesFor(1, 10_000);
    const old = await v.put({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(1),
      data: big,
      dataBytes: big.length,
    });
    const small = bytesFor(2, 100);
    await v.put({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(2),
      data: small,
      dataBytes: small.length,
      replaces: old.location,
    });
    await assert.rejects(v.read(old.location), EntryNotFoundError);
    await assert.rejects(v.readEntry(old.location), EntryNotFoundError);
    await v.close();
  } finally {
    await cleanup();
  }
});
