// Incarnations being deleted right now. DeleteBucket marks its incarnation closing while it checks that
// storage holds nothing of it; requests that finished a storage call meanwhile wait for the verdict
// instead of guessing, so "empty, deleted" and "my write succeeded" can never both be answered.
export class BucketClosings {
  private readonly pending = new Map<string, Promise<unknown>>();

  /** Runs `fn` as the only closing of `id`; a second delete of the same incarnation waits for the first. */
  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    for (let cur = this.pending.get(id); cur; cur = this.pending.get(id)) await cur.catch(() => undefined);
    const running = fn();
    this.pending.set(id, running);
    try {
      return await running;
    } finally {
      if (this.pending.get(id) === running) this.pending.delete(id);
    }
  }

  /** True while a closing of `id` is in progress (synchronous: callers that find none need not wait). */
  deciding(id: string): boolean {
    return this.pending.has(id);
  }

  /** Resolves once no closing of `id` is in progress. */
  async settled(id: string): Promise<void> {
    for (let cur = this.pending.get(id); cur; cur = this.pending.get(id)) await cur.catch(() => undefined);
  }
}
