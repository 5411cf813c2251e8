import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedLock } from './locks.ts';

test('one holder per key, FIFO hand-over, other keys run in parallel, nothing left behind', async () => {
  const lock = new KeyedLock();
  const log: string[] = [];
  let inside = 0;
  const job = (key: string, name: string, ms: number) =>
    lock.run(key, async () => {
      inside++;
      assert.ok(inside <= 2, 'at most one per key, two keys here');
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      inside--;
      return name;
    });
  const results = await Promise.all([
    job('a', 'a1', 20),
    job('a', 'a2', 1),
    job('b', 'b1', 5),
    job('a', 'a3', 1),
  ]);
  assert.deepEqual(results, ['a1', 'a2', 'b1', 'a3']);
  const a = log.filter((e) => e.startsWith('a'));
  assert.deepEqual(a, ['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
  assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), 'b does not wait for a');
  assert.equal(lock.size, 0);
});

test('a throwing holder releases the key', async () => {
  const lock = new KeyedLock();
  await assert.rejects(
    lock.run('k', async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(await lock.run('k', async () => 1), 1);
  assert.equal(lock.size, 0);
});
