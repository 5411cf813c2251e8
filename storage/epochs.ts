// Operations in progress, counted by epoch, so that one can wait for "everything that began before now" to end
// however many operations begin meanwhile. Compaction uses it to know when nobody can still name a location it
// moved: reads (pins), writes (claims and key locks) that began before the moved file was retired.
// On the hot path `begin` and `end` are a counter increment and decrement; only `barrier` (once per compacted
// chunkfile) moves the count of the current epoch into a map.
export class OperationEpochs {
  private epoch = 0;
  /** Operations in progress that began in the current epoch. */
  private current = 0;
  /** Earlier epochs with operations still in progress, ascending (a Map keeps insertion order). */
  private readonly older = new Map<number, number>();
  /** Barriers waiting for every operation of their epoch and before to end, ascending. */
  private readonly waiting: Array<{ epoch: number; resolve: () => void }> = [];

  /** An operation begins; pass the returned epoch to `end`. */
  begin(): number {
    this.current++;
    return this.epoch;
  }

  end(epoch: number): void {
    if (epoch === this.epoch) {
      this.current--;
      return;
    }
    const n = (this.older.get(epoch) ?? 1) - 1;
    if (n > 0) {
      this.older.set(epoch, n);
      return;
    }
    this.older.delete(epoch);
    const oldest = this.older.keys().next();
    const runningFrom = oldest.done ? this.epoch : oldest.value;
    while (this.waiting.length > 0 && this.waiting[0]!.epoch < runningFrom) this.waiting.shift()!.resolve();
  }

  /** Resolves once every operation that began before this call has ended. */
  barrier(): Promise<void> {
    if (this.current === 0 && this.older.size === 0) return Promise.resolve();
    const epoch = this.epoch;
    if (this.current > 0) this.older.set(epoch, this.current);
    this.epoch++;
    this.current = 0;
    if (this.older.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ epoch, resolve }));
  }

  /** Operations in progress now (tests). */
  get inProgress(): number {
    let n = this.current;
    for (const c of this.older.values()) n += c;
    return n;
  }
}
