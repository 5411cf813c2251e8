import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  initialLayout,
  PARTITIONS,
  partitionOf,
  primaryOf,
  rankMembers,
  rendezvousWeight,
  routeKey,
  syncgroupOf,
  validLayout,
} from './layout.ts';

const T = { timeout: 60_000 };
const key = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const bucketId = fc.oneof(
  fc.constantFrom('photos', 'b'),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => `~${Buffer.from(a).toString('hex')}`),
);

test('the partition function is pinned: these values may never change (data was placed by them)', T, () => {
  assert.equal(partitionOf('~0123456789abcdef0123456789abcdef', Buffer.from('photos/2024/a.jpg')), 3277);
  assert.equal(partitionOf('b', Buffer.alloc(0)), 2355);
  assert.equal(partitionOf('b', Buffer.from([0xff, 0x00, 0xfe])), 3616);
  assert.equal(rendezvousWeight('node-a', 'b', Buffer.from('k')), 12313936936803680093n);
});

test('bucket id and key are separated: moving a byte across the boundary changes the input', T, () => {
  // "ab" + key "c" and "a" + key "bc" hash different inputs (the 0x00 separator; ids never hold NUL).
  const samples = ['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
  const differ = samples.filter(
    (s) => partitionOf('ab', Buffer.from(s)) !== partitionOf('a', Buffer.from(`b${s}`)),
  );
  assert.ok(differ.length >= 6, `only ${differ.length} of 8 differ`);
});

test('partitions are in range and deterministic for any bucket id and key bytes', T, () => {
  fc.assert(
    fc.property(bucketId, key, (b, k) => {
      const p = partitionOf(b, k);
      return Number.isInteger(p) && p >= 0 && p < PARTITIONS && p === partitionOf(b, Buffer.from(k));
    }),
  );
});

test('keys spread evenly over partitions and syncgroups', T, () => {
  const layout = initialLayout(['a', 'b', 'c']);
  const perGroup = new Map<string, number>();
  const perPartition = new Uint32Array(PARTITIONS);
  const n = 60_000;
  for (let i = 0; i < n; i++) {
    const k = Buffer.from(`logs/2026/11/${i}.json`);
    perPartition[partitionOf('~feed', k)]! += 1;
    const g = routeKey(layout, '~feed', k);
    perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
  }
  for (const g of ['a', 'b', 'c']) {
    const share = (perGroup.get(g) ?? 0) / n;
    assert.ok(Math.abs(share - 1 / 3) < 0.02, `syncgroup ${g} got ${share}`);
  }
  // ~14.6 keys per partition on average: none empty-ish or hot beyond what chance allows.
  assert.ok(Math.max(...perPartition) < 45, `hottest partition ${Math.max(...perPartition)}`);
});

test('the initial layout spreads partitions evenly in the given order', T, () => {
  const layout = initialLayout(['x', 'y']);
  assert.ok(validLayout(layout));
  assert.equal(layout.version, 1);
  assert.equal(syncgroupOf(layout, 0), 'x');
  assert.equal(syncgroupOf(layout, 1), 'y');
  assert.equal(layout.owners.filter((o) => o === 0).length, PARTITIONS / 2);
  assert.throws(() => initialLayout([]));
  assert.throws(() => initialLayout(['a', 'a']));
  assert.ok(!validLayout({ ...layout, owners: layout.owners.slice(1) }));
  assert.ok(!validLayout({ ...layout, owners: layout.owners.map(() => 2) }));
});

const members = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 });

test('rendezvous: the choice ignores the order members are listed in', T, () => {
  fc.assert(
    fc.property(members, bucketId, key, fc.integer(), (ms, b, k, seed) => {
      const shuffled = [...ms].sort(() => (seed & 1 ? 1 : -1));
      return primaryOf(ms, b, k) === primaryOf(shuffled.reverse(), b, k) && ms.includes(primaryOf(ms, b, k)!);
    }),
  );
});

test('rendezvous: when a member leaves, only its keys move, to their next-ranked member', T, () => {
  fc.assert(
    fc.property(members, fc.nat(), bucketId, key, (ms, which, b, k) => {
      const leaving = ms[which % ms.length]!;
      const rest = ms.filter((m) => m !== leaving);
      const before = rankMembers(ms, b, k);
      const after = primaryOf(rest, b, k);
      if (before[0] !== leaving) return after === before[0];
      return after === before[1];
    }),
  );
});

test('rendezvous: primaries spread evenly over members', T, () => {
  const ms = ['n1', 'n2', 'n3', 'n4'];
  const count = new Map<string, number>();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const p = primaryOf(ms, '~b', Buffer.from(`k${i}`))!;
    count.set(p, (count.get(p) ?? 0) + 1);
  }
  for (const m of ms) assert.ok(Math.abs((count.get(m) ?? 0) / n - 0.25) < 0.02, `${m}: ${count.get(m)}`);
  assert.equal(primaryOf([], '~b', Buffer.from('k')), undefined);
});
