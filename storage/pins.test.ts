// The pin/claim table on its own: who waits for whom, what is deferred, and how moves carry both.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PinTable } from './pins.ts';
import type { PendingValue, VolLoc } from './records.ts';

const loc = (offset: number): VolLoc => ({
  volumeId: 'v1',
  location: { kind: 'chunk', fileId: 1, offset, allocBytes: 64 },
});

function table() {
  const freed: PendingValue[] = [];
  return { pins: new PinTable((_k, v) => freed.push(v)), freed };
}

test('a claim splits pinned from unpinned; readers of a claimed location wait for its release', {
  timeout: 5000,
}, async () => {
  const { pins } = table();
  const r = pins.tryPin([loc(64)]);
  assert.ok(!r.wait);
  const c = pins.claim([loc(64), loc(128)]);
  assert.deepEqual(c.later, [loc(64)]);
  assert.deepEqual(c.now, [loc(128)]);
  // A pinned location stays readable; a claimed one makes readers wait (all or nothing).
  assert.ok(!pins.tryPin([loc(64)]).wait);
  const blocked = pins.tryPin([loc(64), loc(128)]);
  assert.ok(blocked.wait);
  let woke = false;
  const waiting = blocked.wait.then(() => {
    woke = true;
  });
  await Promise.resolve();
  assert.equal(woke, false);
  c.release();
  await waiting;
  assert.ok(!pins.tryPin([loc(128)]).wait, 'released claims do not block');
});

test('a deferred free runs when the last reader releases, once; unpinned ones come back at once', {
  timeout: 5000,
}, () => {
  const { pins, freed } = table();
  const a = pins.tryPin([loc(64)]);
  const b = pins.tryPin([loc(64)]);
  assert.ok(!a.wait && !b.wait);
  const entry = loc(64);
  const d = pins.defer([entry, loc(192)], { of: entry, at: loc(256) });
  assert.deepEqual(d.free, [loc(192)]);
  assert.equal(d.rows.length, 1);
  a.release();
  a.release();
  assert.equal(freed.length, 0, 'a second reader still holds it (and release is idempotent)');
  b.release();
  assert.deepEqual(freed, [{ at: loc(64), tombstone: loc(256) }]);
  assert.equal(pins.size, 0);
});

test('pins and claims follow a compaction move', { timeout: 5000 }, () => {
  const { pins, freed } = table();
  const r = pins.tryPin([loc(64)]);
  assert.ok(!r.wait);
  pins.follow(loc(64), loc(512));
  assert.ok(pins.isPinned(loc(512)), 'the copy is pinned by the reader of the original');
  const c = pins.claim([loc(512)]);
  assert.deepEqual(c.later, [loc(512)], 'a writer that found the moved row defers the free');
  pins.defer(c.later);
  r.release();
  assert.deepEqual(freed, [{ at: loc(512) }]);
  assert.ok(!pins.isPinned(loc(64)) && !pins.isPinned(loc(512)));

  const c2 = pins.claim([loc(1024)]);
  pins.follow(loc(1024), loc(2048));
  assert.ok(pins.tryPin([loc(2048)]).wait, 'a claim covers the copy too');
  c2.release();
  assert.ok(!pins.tryPin([loc(2048)]).wait);
});
