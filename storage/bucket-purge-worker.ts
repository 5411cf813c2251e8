// A cluster storage node drops what it still holds of deleted bucket incarnations. A bucket deleted while a member
// of its syncgroup was down leaves that member's keys of the dead incarnation behind (and push sync may carry such
// keys back to a mirror later). The catalog the tracker sends lists the recently deleted incarnation ids (a
// tombstone per DeleteBucket; ids are random and never reused, so a listed id is dead for good, and a bucket
// created after the node's catalog is never listed). Each pass walks the incarnations the node holds and drops
// those that are listed: after every new catalog and every `intervalMs`.
import type { DroppedBucket } from './api.ts';

export interface PurgeWorkerDeps {
  /** The incarnations the catalog says were deleted. */
  deleted: () => ReadonlySet<string>;
  /** The next incarnation id (index order) holding objects or uploads after `after`. */
  nextBucket: (after: string | undefined) => string | undefined;
  dropBucket: (id: string) => Promise<DroppedBucket>;
  /** How often a pass runs besides after each catalog change; 0: only then. */
  intervalMs: number;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
  };
}

export interface PurgeTotals {
  incarnations: number;
  objects: number;
  uploads: number;
}

export class BucketPurgeWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** What every pass so far dropped (for the log and status). */
  readonly totals: PurgeTotals = { incarnations: 0, objects: 0, uploads: 0 };

  constructor(private readonly deps: PurgeWorkerDeps) {}

  start(): void {
    if (this.deps.intervalMs > 0) {
      this.timer = setInterval(() => void this.run(), this.deps.intervalMs);
      this.timer.unref();
    }
  }

  /** One pass now (a pass already running is followed by one more); resolves when done. Never rejects. */
  run(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err: unknown) =>
          this.deps.log.warn(
            { err: (err as Error).message },
            'purge of deleted buckets failed; retried later',
          ),
        );
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const deleted = this.deps.deleted();
    if (deleted.size === 0) return;
    let dropped: PurgeTotals = { incarnations: 0, objects: 0, uploads: 0 };
    for (let id = this.deps.nextBucket(undefined); id !== undefined && !this.stopped; ) {
      if (deleted.has(id)) {
        const r = await this.deps.dropBucket(id);
        dropped = {
          incarnations: dropped.incarnations + 1,
          objects: dropped.objects + r.objects,
          uploads: dropped.uploads + r.uploads,
        };
        this.deps.log.info(
          { incarnation: id, objects: r.objects, uploads: r.uploads },
          'dropped the leftovers of a deleted bucket',
        );
      }
      id = this.deps.nextBucket(id);
    }
    this.totals.incarnations += dropped.incarnations;
    this.totals.objects += dropped.objects;
    this.totals.uploads += dropped.uploads;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
