// The node's periodic checkpoint, in the background after every `everyOps` recorded ops:
//   1. each volume takes a checkpoint (packing/checkpoint.ts), so a reopen after a crash reads only
//      what changed since. Before it replaces the previous one, every op in flight at its snapshot
//      must have its binlog record durable (or have failed): an op whose record a crash could lose
//      then always wrote into what the reopen reads (recovery.ts);
//   2. the index records a binlog checkpoint (records.ts BinlogCheckpoint), flushed;
//   3. binlog segments wholly before the retention floor are removed. The floor is the lowest of
//      `floors`: the index checkpoint just written (recovery reads the binlog from there) and each
//      mirror's applied position (push-sync.ts adds it), so a segment goes only when the index covers
//      it and every mirror has applied it (a mirror away past the retention stops holding it).
import type { BinlogPosition } from './binlog.ts';
import type { VolumePort } from './volume-port.ts';

export interface CheckpointHost {
  readonly volumes: Map<string, VolumePort>;
  /** Opver counters of ops whose records are not durable yet. */
  unrecorded(): Iterable<bigint>;
  /** Writes the index's binlog checkpoint durably; returns its position. */
  writeIndexCheckpoint(): Promise<BinlogPosition>;
  /** Removes binlog segments wholly before `floor`; returns how many. */
  pruneBinlog(floor: BinlogPosition): Promise<number>;
  onError(err: unknown): void;
}

/** A position the binlog must keep everything from (undefined: no constraint). */
export type RetentionFloor = () => BinlogPosition | undefined;

export class Checkpoints {
  private since = 0;
  private running: Promise<void> | undefined;
  private waiters: Array<{ counters: Set<bigint>; resolve: () => void }> = [];
  private closed = false;
  /** Segments removed so far (for tests and metrics). */
  segmentsRemoved = 0;

  constructor(
    private readonly host: CheckpointHost,
    private readonly everyOps: number,
    /** Beside the index checkpoint: each mirror's applied position (push-sync.ts, via `addFloor`). */
    private readonly extraFloors: RetentionFloor[] = [],
  ) {}

  /** One more position the binlog must keep everything from (push sync: the mirrors' synclog positions). */
  addFloor(floor: RetentionFloor): void {
    this.extraFloors.push(floor);
  }

  /** An op's record is durable (or the op failed). */
  recorded(counter: bigint): void {
    if (this.waiters.length > 0) {
      for (const w of this.waiters) w.counters.delete(counter);
      const done = this.waiters.filter((w) => w.counters.size === 0);
      this.waiters = this.waiters.filter((w) => w.counters.size > 0);
      for (const w of done) w.resolve();
    }
    if (++this.since >= this.everyOps) this.start();
  }

  /** Starts a checkpoint now unless one runs; resolves when the current one is done. */
  runNow(): Promise<void> {
    this.start();
    return this.running ?? Promise.resolve();
  }

  private start(): void {
    if (this.running || this.closed) return;
    this.since = 0;
    this.running = this.run()
      .catch((err: unknown) => this.host.onError(err))
      .finally(() => {
        this.running = undefined;
      });
  }

  private async run(): Promise<void> {
    for (const v of this.host.volumes.values()) {
      if (this.closed) return;
      await v.checkpoint?.({ beforeInstall: () => this.recordedNow() });
    }
    const indexAt = await this.host.writeIndexCheckpoint();
    let floor = indexAt;
    for (const f of this.extraFloors) {
      const p = f();
      if (p && before(p, floor)) floor = p;
    }
    this.segmentsRemoved += await this.host.pruneBinlog(floor);
  }

  /** Resolves when every op unrecorded now has been recorded. */
  private recordedNow(): Promise<void> {
    const counters = new Set(this.host.unrecorded());
    if (counters.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ counters, resolve }));
  }

  /** Waits for a checkpoint in progress; starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }
}

function before(a: BinlogPosition, b: BinlogPosition): boolean {
  return a.file < b.file || (a.file === b.file && a.offset < b.offset);
}
