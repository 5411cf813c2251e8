// OperationEpochs: a barrier waits for exactly the operations that began before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperationEpochs } from './epochs.ts';

/** Whether `p` has settled once every continuation ready now has run. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
}

test('a barrier waits for the operations begun before it, not for later ones', {
  timeout: 5000,
}, async () => {
  const e = new OperationEpochs();
  assert.equal(await settled(e.barrier()), true, 'nothing in progress: at once');
  const a = e.begin();
  const b = e.begin();
  const first = e.barrier();
  const c = e.begin();
  const second = e.barrier();
  const d = e.begin();
  assert.equal(e.inProgress, 4);
  e.end(a);
  assert.equal(await settled(first), false, 'b still runs');
  e.end(c);
  assert.equal(await settled(second), false, 'b began before the second barrier too');
  e.end(b);
  assert.equal(await settled(first), true);
  assert.equal(await settled(second), true, 'd began after both barriers: nobody waits for it');
  assert.equal(e.inProgress, 1);
  const third = e.barrier();
  assert.equal(await settled(third), false);
  e.end(d);
  assert.equal(await settled(third), true);
  assert.equal(e.inProgress, 0);
});
