// Per-key mutual exclusion: operations on one key (or one upload) run one after another, so a
// condition check, the opver assignment and the index commit form one atomic step per key.
// Uncontended (the common case) it costs one Map set and delete: no promise, no closure.
import type { OperationEpochs } from './epochs.ts';

export class KeyedLock {
  /** Held keys; the array holds the wake-ups of waiters in arrival order (null: nobody waits). */
  private readonly held = new Map<string, Array<() => void> | null>();

  /** Each locked section counts as an operation in progress in `epochs` (what compaction waits for). */
  constructor(private readonly epochs?: OperationEpochs) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const epoch = this.epochs?.begin();
    try {
      if (this.held.has(key)) await this.wait(key);
      else this.held.set(key, null);
      try {
        return await fn();
      } finally {
        this.release(key);
      }
    } finally {
      if (epoch !== undefined) this.epochs?.end(epoch);
    }
  }

  /** Keys currently held (tests). */
  get size(): number {
    return this.held.size;
  }

  private wait(key: string): Promise<void> {
    let q = this.held.get(key);
    if (!q) {
      q = [];
      this.held.set(key, q);
    }
    const queue = q;
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  /** Hands the key straight to the next waiter, so nobody can slip in between. */
  private release(key: string): void {
    const q = this.held.get(key);
    const next = q?.shift();
    if (next) next();
    else this.held.delete(key);
  }
}
