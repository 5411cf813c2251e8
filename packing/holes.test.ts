// Holes: deleting half of 10,000 random-size entries and inserting 5,000 more reuses the freed space
// (best fit, coalesced neighbours, filler headers at splits) instead of growing the volume.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignUp, HEADER_BYTES } from './layout.ts';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { StoredEntry } from './types.ts';
import { Volume } from './volume.ts';

/** Seeded PRNG (mulberry32): the test is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('freed space is reused: growth stays within what new entries need beyond the freed bytes', async () => {
  const { dir, cleanup } = await tempDir('holes');
  const rand = rng(42);
  const size = () => 100 + Math.floor(rand() * 4000);
  const opts = { durability: 'none' as const };
  try {
    let v = await newVolume(dir, opts);
    const live: Array<{ e: StoredEntry; data: Buffer }> = [];
    for (let i = 0; i < 10_000; i++) {
      const data = bytesFor(i, size());
      live.push({
        e: await v.put({
          key: Buffer.from(`a${i}`),
          meta: Buffer.alloc(0),
          opver: opver(1),
          data,
          dataBytes: data.length,
        }),
        data,
      });
    }
    let freed = 0;
    for (let i = live.length - 1; i >= 0; i--) {
      if (rand() < 0.5) continue;
      freed += live[i]!.e.location.allocBytes;
      await v.delete(live[i]!.e.location);
      live.splice(i, 1);
    }
    const before = v.stats().diskBytes;
    assert.equal(v.stats().holeBytes, freed, 'every freed byte is in the free index');
    let need = 0;
    for (let i = 0; i < 5_000; i++) {
      const data = bytesFor(100_000 + i, size());
      const key = Buffer.from(`b${i}`);
      need += alignUp(HEADER_BYTES + key.length + data.length);
      live.push({
        e: await v.put({ key, meta: Buffer.alloc(0), opver: opver(1), data, dataBytes: data.length }),
        data,
      });
    }
    const growth = v.stats().diskBytes - before;
    const allowed = Math.max(0, need - freed) + 0.1 * need;
    console.log(
      `holes: freed ${freed} B, new entries need ${need} B, volume grew ${growth} B ` +
        `(allowed ${Math.round(allowed)}), holes left ${v.stats().holeBytes} B in ${v.stats().holeCount}`,
    );
    assert.ok(growth <= allowed, `grew ${growth} > allowed ${allowed}`);
    // Everything still reads back, and the free index is rebuilt identically by a full scan.
    const holesBefore = v.stats().holeBytes;
    await v.closeUnclean();
    v = await Volume.open(dir, opts);
    assert.equal(v.recovery.mode, 'scan');
    assert.equal(v.stats().holeBytes, holesBefore, 'free space is derivable from the data');
    for (let i = 0; i < live.length; i += 7)
      assert.deepEqual(await v.read(live[i]!.e.location), live[i]!.data);
    await v.close();
  } finally {
    await cleanup();
  }
});
