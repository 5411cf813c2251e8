// Group commit: callers whose writes have completed wait here; one fdatasync per dirty file covers every
// write that completed before it started. While a round syncs, the next round's waiters gather.
import type { DiskFile } from '../common/disk.ts';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommitter {
  private pending = new Map<DiskFile, Waiter[]>();
  private running = false;
  private readonly durable: boolean;
  /** fdatasync calls issued, for tests and benchmarks. */
  syncs = 0;

  constructor(durable: boolean) {
    this.durable = durable;
  }

  /** Resolves once every write to `fh` that completed before this call is on stable storage. */
  commit(fh: DiskFile): Promise<void> {
    if (!this.durable) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const list = this.pending.get(fh);
      if (list) list.push({ resolve, reject });
      else this.pending.set(fh, [{ resolve, reject }]);
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        await Promise.all(
          [...batch].map(async ([fh, waiters]) => {
            try {
              this.syncs += 1;
              await fh.datasync();
              for (const w of waiters) w.resolve();
            } catch (err) {
              for (const w of waiters) w.reject(err);
            }
          }),
        );
      }
    } finally {
      this.running = false;
    }
  }
}
