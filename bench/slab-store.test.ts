import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlabStore } from './slab-store.ts';

test('bodies come back byte for byte across slab boundaries; replace, size-only and delete', () => {
  const store = new SlabStore();
  const body = (n: number, seed: number) => Buffer.alloc(n, seed);
  // 70 objects of 1 MiB cross the first 64 MiB slab.
  for (let i = 0; i < 70; i++) store.set(`k${i}`, [body(1 << 19, i), body(1 << 19, i + 1)], 1 << 20);
  for (let i = 0; i < 70; i++) {
    const got = store.get(`k${i}`) as Buffer;
    assert.equal(got.length, 1 << 20);
    assert.equal(got[0], i);
    assert.equal(got[(1 << 20) - 1], i + 1);
  }
  store.set('k1', [Buffer.from('new')], 3);
  assert.equal((store.get('k1') as Buffer).toString(), 'new');
  store.setSizeOnly('k2', 64 << 20);
  assert.equal(store.get('k2'), 64 << 20);
  store.delete('k3');
  assert.equal(store.get('k3'), undefined);
});
