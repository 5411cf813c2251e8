import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeIndex } from './index-db.ts';

test('lmdb-js resolves a commit before it is flushed; write() waits for the flush', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-index-'));
  const index = NodeIndex.open(join(dir, 'index'));
  try {
    for (let round = 0; round < 5; round++) {
      const events: string[] = [];
      const key = Buffer.from(`k${round}`);
      // Pin lmdb-js: with overlappingSync the transaction promise resolves at commit, the
      // `flushed` promise taken afterwards resolves only when that commit is on disk.
      const committed = index.env.transaction(() => index.objects.put(key, Buffer.from('v')));
      const watched = committed.then(() => {
        events.push('committed');
        return index.env.flushed.then(() => events.push('flushed'));
      });
      await committed;
      assert.deepEqual(events, ['committed']);
      await watched;
      assert.deepEqual(events, ['committed', 'flushed']);
    }
    // Our write() must not resolve while `flushed` is pending, even though the commit is visible.
    const realFlushed =
      Object.getOwnPropertyDescriptor(Object.getPrototypeOf(index.env), 'flushed') ??
      Object.getOwnPropertyDescriptor(index.env, 'flushed');
    let release!: () => void;
    const gate = new Promise<boolean>((r) => {
      release = () => r(true);
    });
    let awaited!: () => void;
    const flushAwaited = new Promise<void>((r) => {
      awaited = r;
    });
    Object.defineProperty(index.env, 'flushed', {
      configurable: true,
      get: () => {
        awaited();
        return gate;
      },
    });
    let acked = false;
    const ack = index
      .write(() => index.objects.put(Buffer.from('g'), Buffer.from('w')))
      .then(() => {
        acked = true;
      });
    // write() asks for `flushed` only once its commit is visible.
    await flushAwaited;
    assert.deepEqual(index.get(index.objects, Buffer.from('g')), Buffer.from('w'), 'committed and visible');
    assert.equal(acked, false, 'not acknowledged before the flush');
    release();
    await ack;
    assert.equal(acked, true);
    delete (index.env as { flushed?: unknown }).flushed;
    if (realFlushed && !Object.getOwnPropertyDescriptor(index.env, 'flushed')) assert.ok(index.env.flushed);
  } finally {
    await index.close();
    await rm(dir, { recursive: true, force: true });
  }
});
