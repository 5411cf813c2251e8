// Lets a test wait for the index commit it expects instead of sleeping: the node's background work (a
// deferred delete finishing after its reader let go, a staged PUT's row) always ends in an index commit.
import type { NodeIndex } from '../index-db.ts';

type Transaction = (fn: () => unknown) => Promise<unknown>;

/** Resolves after the first index transaction, from now on, after which `done()` holds. */
export function afterIndexCommit(index: NodeIndex, done: () => boolean): Promise<void> {
  const env = index.env as unknown as { transaction: Transaction };
  const own = Object.getOwnPropertyDescriptor(env, 'transaction');
  const original = env.transaction;
  return new Promise((resolve) => {
    const watched: Transaction = (fn) => {
      const p = original.call(env, fn);
      p.then(
        () => {
          if (env.transaction !== watched || !done()) return;
          if (own) Object.defineProperty(env, 'transaction', own);
          else delete (env as { transaction?: Transaction }).transaction;
          resolve();
        },
        () => undefined,
      );
      return p;
    };
    env.transaction = watched;
  });
}
