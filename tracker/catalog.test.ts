import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { open } from 'lmdb';
import { Catalog } from './catalog.ts';

const T = { timeout: 30_000 };
const base = { createdMs: 1, region: 'us-east-1' };
const empty = async () => true;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'quire-catalog-'));
}

test('buckets are created once, owned, listed in order and survive reopen', T, async () => {
  const dir = tempDir();
  try {
    const catalog = Catalog.open(dir);
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
    const b = catalog.getBucket('b')!;
    await catalog.close();
    const again = Catalog.open(dir);
    assert.deepEqual(again.getBucket('b'), b);
    assert.equal(await again.deleteBucket(b, empty), 'deleted');
    assert.equal(again.getBucket('b'), undefined);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each creation is a new incarnation; a delete removes only its own', T, async () => {
  const dir = tempDir();
  try {
    const catalog = Catalog.open(dir);
    await catalog.createBucket({ name: 'b', owner: 'AK1', ...base });
    const first = catalog.getBucket('b')!;
    assert.match(first.id, /^~[0-9a-f]{32}$/);
    assert.equal(await catalog.isCurrent(first), true);
    assert.equal(catalog.currentNow(first), true);
    assert.equal(await catalog.deleteBucket(first, empty), 'deleted');
    assert.equal(catalog.currentNow(first), false);
    assert.equal(await catalog.isCurrent(first), false);
    await catalog.createBucket({ name: 'b', owner: 'AK2', ...base });
    const second = catalog.getBucket('b')!;
    assert.notEqual(second.id, first.id);
    // A late delete of the first incarnation must not take the second one with it.
    assert.equal(await catalog.deleteBucket(first, empty), 'no-such-bucket');
    assert.equal(catalog.getBucket('b')?.id, second.id);
    assert.equal(await catalog.isCurrent(first), false);
    assert.equal(await catalog.isCurrent(second), true);
    assert.equal(await catalog.deleteBucket(second, async () => false), 'not-empty');
    assert.equal(await catalog.isCurrent(second), true);
    assert.deepEqual(
      catalog.deadBuckets().map((d) => d.id),
      [first.id],
    );
    await catalog.close();
    const again = Catalog.open(dir);
    assert.deepEqual(
      again.deadBuckets().map((d) => [d.id, d.name]),
      [[first.id, 'b']],
    );
    await again.forgetDeadBucket(first.id);
    assert.deepEqual(again.deadBuckets(), []);
    await again.close();
    const third = Catalog.open(dir);
    assert.deepEqual(third.deadBuckets(), []);
    await third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while a delete decides, isCurrent waits for its verdict (currentNow has none)', T, async () => {
  const dir = tempDir();
  try {
    const catalog = Catalog.open(dir);
    await catalog.createBucket({ name: 'b', owner: 'AK1', ...base });
    const b = catalog.getBucket('b')!;
    for (const verdict of [false, true]) {
      let decide!: (empty: boolean) => void;
      let asked!: () => void;
      const askedP = new Promise<void>((r) => {
        asked = r;
      });
      const deleting = catalog.deleteBucket(b, () => {
        asked();
        return new Promise<boolean>((r) => {
          decide = r;
        });
      });
      await askedP;
      assert.equal(catalog.currentNow(b), undefined, 'no answer without waiting while the delete decides');
      let answered: boolean | undefined;
      const current = catalog.isCurrent(b).then((v) => {
        answered = v;
        return v;
      });
      // Let every ready continuation run: the check must still be waiting on the delete.
      await new Promise((r) => setImmediate(r));
      assert.equal(answered, undefined);
      decide(verdict);
      assert.equal(await deleting, verdict ? 'deleted' : 'not-empty');
      assert.equal(await current, !verdict);
      assert.equal(catalog.currentNow(b), !verdict, 'decided: answered at once');
    }
    await catalog.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('buckets written before incarnations keep their name as id', T, async () => {
  const dir = tempDir();
  try {
    const root = open({ path: dir, maxDbs: 8, compression: false });
    const db = root.openDB({ name: 'buckets', encoding: 'msgpack' });
    await db.put('old', { v: 1, name: 'old', owner: 'AK1', createdMs: 5, region: 'us-east-1' });
    await root.close();
    const catalog = Catalog.open(dir);
    const old = catalog.getBucket('old')!;
    assert.equal(old.id, 'old');
    assert.equal(await catalog.deleteBucket(old, empty), 'deleted');
    await catalog.createBucket({ name: 'old', owner: 'AK1', ...base });
    assert.notEqual(catalog.getBucket('old')!.id, 'old');
    assert.deepEqual(
      catalog.deadBuckets().map((d) => d.id),
      ['old'],
    );
    await catalog.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'bucket settings belong to one incarnation: set atomically at creation, kept, gone with the bucket',
  T,
  async () => {
    const dir = tempDir();
    try {
      const catalog = Catalog.open(dir);
      await catalog.createBucket({ name: 'b', owner: 'AK1', ...base }, { versioning: { status: 'Enabled' } });
      const first = catalog.getBucket('b')!;
      assert.deepEqual(catalog.getBucketConfig(first, 'versioning'), { status: 'Enabled' });
      assert.equal(await catalog.putBucketConfig(first, 'cors', { rules: [1, 2] }), true);
      assert.equal(await catalog.putBucketConfig(first, 'versioning', { status: 'Suspended' }), true);
      await catalog.close();
      const again = Catalog.open(dir);
      assert.deepEqual(again.getBucketConfig(first, 'cors'), { rules: [1, 2] });
      assert.deepEqual(again.getBucketConfig(first, 'versioning'), { status: 'Suspended' });
      assert.equal(await again.putBucketConfig(first, 'cors', undefined), true);
      assert.equal(again.getBucketConfig(first, 'cors'), undefined);
      assert.equal(await again.deleteBucket(first, empty), 'deleted');
      // A write racing the delete finds the incarnation gone and writes nothing.
      assert.equal(await again.putBucketConfig(first, 'policy', { x: 1 }), false);
      await again.createBucket({ name: 'b', owner: 'AK1', ...base });
      const second = again.getBucket('b')!;
      assert.equal(again.getBucketConfig(second, 'versioning'), undefined);
      assert.equal(again.getBucketConfig(first, 'versioning'), undefined);
      await again.close();
      const third = Catalog.open(dir);
      assert.equal(third.getBucketConfig(first, 'versioning'), undefined);
      assert.equal(third.getBucketConfig(first, 'policy'), undefined);
      await third.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'every durable change numbers the catalog (seq), across reopen; tombstones carry the seq of their delete',
  T,
  async () => {
    const dir = tempDir();
    try {
      const catalog = Catalog.open(dir);
      assert.equal(catalog.seq, 0);
      await catalog.createBucket({ name: 'a', owner: 'AK1', ...base });
      assert.equal(await catalog.createBucket({ name: 'a', owner: 'AK1', ...base }), 'owned-by-you');
      assert.equal(catalog.seq, 1, 'a create that changed nothing is not a change');
      const a = catalog.getBucket('a')!;
      assert.equal(await catalog.putBucketConfig(a, 'replication-mode', 'async'), true);
      assert.equal(catalog.seq, 2);
      assert.equal(await catalog.deleteBucket(a, empty), 'deleted');
      assert.equal(catalog.seq, 3);
      assert.equal(await catalog.putBucketConfig(a, 'replication-mode', 'async'), false);
      assert.equal(catalog.seq, 3);
      assert.deepEqual(catalog.deletedIncarnations(), [{ id: a.id, seq: 3 }]);
      await catalog.close();
      const again = Catalog.open(dir);
      assert.equal(again.seq, 3);
      assert.deepEqual(again.deletedIncarnations(), [{ id: a.id, seq: 3 }]);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'adopt replaces the whole catalog with a node copy, durably, and changes number on from its seq',
  T,
  async () => {
    const dir = tempDir();
    try {
      const catalog = Catalog.open(dir);
      await catalog.createBucket({ name: 'stale', owner: 'AK1', ...base });
      const copy = {
        seq: 41,
        buckets: [{ name: 'kept', id: `~${'1'.repeat(32)}`, owner: 'AK9', ...base }],
        configs: [{ id: `~${'1'.repeat(32)}`, kind: 'versioning' as const, value: 'Enabled' }],
        deleted: [{ id: `~${'2'.repeat(32)}`, seq: 40 }],
      };
      await catalog.adopt(copy);
      assert.deepEqual(
        catalog.listBuckets().map((b) => [b.name, b.id, b.owner]),
        [['kept', `~${'1'.repeat(32)}`, 'AK9']],
      );
      assert.equal(catalog.getBucketConfig(catalog.getBucket('kept')!, 'versioning'), 'Enabled');
      assert.deepEqual(catalog.deletedIncarnations(), [{ id: `~${'2'.repeat(32)}`, seq: 40 }]);
      await catalog.createBucket({ name: 'next', owner: 'AK9', ...base });
      assert.equal(catalog.seq, 42);
      await catalog.close();
      const again = Catalog.open(dir);
      assert.deepEqual(
        again.listBuckets().map((b) => b.name),
        ['kept', 'next'],
      );
      assert.equal(again.seq, 42);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('tombstones are bounded: past the limit the oldest deletion is forgotten', T, async () => {
  const dir = tempDir();
  try {
    const catalog = Catalog.open(dir, { maxTombstones: 2 });
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      await catalog.createBucket({ name, owner: 'AK1', ...base });
      const b = catalog.getBucket(name)!;
      ids.push(b.id);
      assert.equal(await catalog.deleteBucket(b, empty), 'deleted');
    }
    assert.deepEqual(
      catalog.deletedIncarnations().map((d) => d.id),
      [ids[2], ids[1]],
    );
    await catalog.close();
    const again = Catalog.open(dir, { maxTombstones: 2 });
    assert.deepEqual(
      again.deletedIncarnations().map((d) => [d.id, d.seq]),
      [
        [ids[2], 6],
        [ids[1], 4],
      ],
    );
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
