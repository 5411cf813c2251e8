import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from './catalog.ts';

test('buckets are created once, owned, listed in order and survive reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-catalog-'));
  try {
    const catalog = Catalog.open(dir);
    const base = { createdMs: 1, region: 'us-east-1' };
    assert.equal(await catalog.createBucket({ name: 'b', owner: 'AK1', ...base }), 'created');
    assert.equal(await catalog.createBucket({ name: 'a', owner: 'AK2', ...base }), 'created');
    assert.equal(await catalog.createBucket({ name: 'b', owner: 'AK1', ...base }), 'owned-by-you');
    assert.equal(await catalog.createBucket({ name: 'b', owner: 'AK2', ...base }), 'owned-by-other');
    assert.deepEqual(
      catalog.listBuckets().map((b) => b.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      catalog.listBuckets('AK1').map((b) => b.name),
      ['b'],
    );
    await catalog.close();
    const again = Catalog.open(dir);
    assert.equal(again.getBucket('b')?.owner, 'AK1');
    assert.equal(await again.deleteBucket('b'), true);
    assert.equal(again.getBucket('b'), undefined);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
