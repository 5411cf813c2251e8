import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeIndex } from './index-db.ts';
import { ObjectRows } from './object-rows.ts';

const k = (s: string) => Buffer.from(s);

test('rows are readable and listed in byte order before their LMDB commit lands', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-rows-'));
  const index = NodeIndex.open(join(dir, 'index'), { sync: 'os' });
  const rows = new ObjectRows(index);
  try {
    await index.write(() => {
      for (const s of ['a', 'c', 'e', 'g']) index.objects.put(k(s), k(`lmdb-${s}`));
    });
    const landed = [
      rows.write(k('b'), k('new-b'), () => undefined),
      rows.write(k('c'), null, () => undefined),
    ];
    landed.push(
      rows.write(k('e'), k('new-e'), () => undefined),
      rows.write(k('h'), k('new-h'), () => undefined),
    );
    // Synchronously after write(): nothing has committed yet.
    assert.equal(index.get(index.objects, k('b')), undefined);
    assert.deepEqual(rows.get(k('b')), k('new-b'));
    assert.equal(rows.get(k('c')), undefined);
    const list = (limit: number, from = 'a') =>
      [...rows.range(k(from), undefined, limit)].map((r) => `${r.key}=${r.value}`);
    assert.deepEqual(list(10), ['a=lmdb-a', 'b=new-b', 'e=new-e', 'g=lmdb-g', 'h=new-h']);
    assert.deepEqual(list(2), ['a=lmdb-a', 'b=new-b']);
    assert.deepEqual(list(2, 'c'), ['e=new-e', 'g=lmdb-g']);
    await Promise.all(landed);
    assert.deepEqual(index.get(index.objects, k('b')), k('new-b'));
    assert.equal(index.get(index.objects, k('c')), undefined);
    assert.deepEqual(list(10), ['a=lmdb-a', 'b=new-b', 'e=new-e', 'g=lmdb-g', 'h=new-h']);
    assert.deepEqual(rows.pendingIn(k(''), undefined), [], 'the overlay empties once committed');
  } finally {
    await index.close();
    await rm(dir, { recursive: true, force: true });
  }
});
