// The node's opver clock: a counter persisted with the index (never a wall clock), the node id as
// tie-break. It also knows which ops still lack a durable binlog record, so the binlog checkpoint it
// computes never claims an op is recorded before it is.
import type { Opver } from './api.ts';
import type { BinlogCheckpoint } from './records.ts';

/** Object commits between two binlog checkpoints written to the index. */
const CHECKPOINT_EVERY = 1024;

export class OpverClock {
  /** The last opver counter handed out (or found in the index at open). */
  counter = 0n;
  /** Counters of ops whose binlog record is not durable yet. */
  private readonly unrecorded = new Set<bigint>();
  private commitsSinceCheckpoint = 0;

  constructor(readonly nodeId: number) {}

  /** Never goes back: a counter seen elsewhere (index, binlog, a floor) moves it forward. */
  advanceTo(counter: bigint): void {
    if (counter > this.counter) this.counter = counter;
  }

  /** The next opver, above `floor` (the version it replaces). */
  next(floor?: Opver): Opver {
    if (floor) this.advanceTo(floor.counter);
    this.counter++;
    return { counter: this.counter, nodeId: this.nodeId };
  }

  /** An opver whose op will get a binlog record: tracked until `recorded` (for the checkpoint). */
  nextRecorded(floor?: Opver): Opver {
    const o = this.next(floor);
    this.unrecorded.add(o.counter);
    return o;
  }

  /** Told of every op whose record became durable (or that failed): the node's checkpoints wait on it. */
  onRecorded: ((counter: bigint) => void) | undefined;

  recorded(o: Opver): void {
    if (this.unrecorded.delete(o.counter)) this.onRecorded?.(o.counter);
  }

  /** Counters of ops whose binlog record is not durable yet. */
  pendingRecords(): Iterable<bigint> {
    return this.unrecorded;
  }

  /** Everything before the confirmed binlog position is settled; every op up to `counter` recorded. */
  checkpoint(confirmed: { file: number; offset: number }): BinlogCheckpoint {
    let counter = this.counter;
    for (const c of this.unrecorded) if (c <= counter) counter = c - 1n;
    return { file: confirmed.file, offset: confirmed.offset, counter };
  }

  /** True once every CHECKPOINT_EVERY object commits: this commit also writes the checkpoint. */
  checkpointDue(): boolean {
    if (++this.commitsSinceCheckpoint < CHECKPOINT_EVERY) return false;
    this.commitsSinceCheckpoint = 0;
    return true;
  }
}
