import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedLock } from './locks.ts';

/** A holder that stays inside the lock until the test lets it go: the schedule is the test's, not a timer's. */
function holder(lock: KeyedLock, log: string[], key: string, name: string) {
  let entered!: () => void;
  let leave!: () => void;
  const inside = new Promise<void>((r) => {
    entered = r;
  });
  const gate = new Promise<void>((r) => {
    leave = r;
  });
  const done = lock.run(key, async () => {
    log.push(`${name}+`);
    entered();
    await gate;
    log.push(`${name}-`);
    return name;
  });
  return { inside, leave, done };
}

test('one holder per key, FIFO hand-over, other keys run in parallel, nothing left behind', {
  timeout: 10_000,
}, async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const a1 = holder(lock, log, 'a', 'a1');
  const a2 = holder(lock, log, 'a', 'a2');
  const b1 = holder(lock, log, 'b', 'b1');
  const a3 = holder(lock, log, 'a', 'a3');
  await a1.inside;
  await b1.inside; // b does not wait for a
  assert.deepEqual(log, ['a1+', 'b1+']);
  b1.leave();
  assert.equal(await b1.done, 'b1');
  a1.leave();
  await a2.inside;
  a2.leave();
  await a3.inside;
  a3.leave();
  assert.deepEqual(await Promise.all([a1.done, a2.done, a3.done]), ['a1', 'a2', 'a3']);
  assert.deepEqual(
    log.filter((e) => e.startsWith('a')),
    ['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-'],
  );
  assert.equal(lock.size, 0);
});

test('a throwing holder releases the key', { timeout: 10_000 }, async () => {
  const lock = new KeyedLock();
  await assert.rejects(
    lock.run('k', async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await lock.run('k', async () => 1), 1);
  assert.equal(lock.size, 0);
});
