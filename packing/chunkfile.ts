// An open chunkfile, and the write lanes that append to them. Appends reserve their offset synchronously
// and queue their buffers; a lane writes every queued contiguous run with one writev.
import type { DiskFile } from '../common/disk.ts';
import { HEADER_BYTES, padAllocation } from './layout.ts';

export class ChunkFile {
  readonly fileId: number;
  readonly fh: DiskFile;
  /** End of the used part: the next append position (active file) or the scanned end (older files). */
  end: number;
  liveEntries = 0;
  /** Sum of the allocations of live entries. */
  liveBytes = 0;
  liveDataBytes = 0;
  /** Quarantined bytes (corrupt entries, torn regions): never reused; compaction reclaims them. */
  deadBytes = 0;
  /** Reads in flight (the handle is closed only when a retired file has none). */
  readers = 0;
  /** Appends still go here. */
  active = false;
  compacting = false;
  /** Chosen by a compaction run that has not reached it yet: its holes are not handed out. */
  compactionQueued = false;
  retired = false;
  /** Entry writes in flight into this file (reserved or hole taken, not yet durable). */
  private writers = 0;
  private drainWaiters: Array<() => void> = [];

  constructor(fileId: number, fh: DiskFile, end: number) {
    this.fileId = fileId;
    this.fh = fh;
    this.end = end;
  }

  /** No entry write, delete or hold is in flight: the in-memory state matches what is durable. */
  get idle(): boolean {
    return this.writers === 0;
  }

  beginWrite(): void {
    this.writers += 1;
  }

  endWrite(): void {
    this.writers -= 1;
    if (this.writers === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Resolves when no entry write is in flight (compaction waits here before scanning). */
  drained(): Promise<void> {
    if (this.writers === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

/** Writes all of `bufs` at `position`, finishing a short write if the kernel returns one. */
export async function writeAll(fh: DiskFile, bufs: Buffer[], position: number): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  const { bytesWritten } = await fh.writev(bufs, position);
  if (bytesWritten < total) {
    const rest = Buffer.concat(bufs).subarray(bytesWritten);
    await fh.write(rest, 0, rest.length, position + bytesWritten);
  }
}

interface QueuedWrite {
  readonly file: ChunkFile;
  readonly offset: number;
  readonly bufs: Buffer[];
  readonly bytes: number;
  resolve(): void;
  reject(err: unknown): void;
}

export interface Reservation {
  readonly file: ChunkFile;
  readonly offset: number;
  readonly allocBytes: number;
}

const MAX_IOVECS = 256;

export class WriteLane {
  private file: ChunkFile | undefined;
  private rotating: Promise<void> | undefined;
  private queue: QueuedWrite[] = [];
  private writing = false;
  private readonly chunkBytes: number;
  private readonly newFile: () => Promise<ChunkFile>;

  constructor(chunkBytes: number, newFile: () => Promise<ChunkFile>) {
    this.chunkBytes = chunkBytes;
    this.newFile = newFile;
  }

  get activeFile(): ChunkFile | undefined {
    return this.file;
  }

  /**
   * Reserves `needBytes` (padded for alignment and sectors) at the lane's tail, rotating when full.
   * The caller owns one `beginWrite` on the file and must call `endWrite` once the entry is durable.
   */
  async reserve(needBytes: number): Promise<Reservation> {
    for (;;) {
      if (this.rotating) await this.rotating;
      const f = this.file;
      if (f) {
        const alloc = padAllocation(f.end, needBytes);
        if (f.end + alloc <= this.chunkBytes || f.end === HEADER_BYTES) {
          const offset = f.end;
          f.end += alloc;
          f.beginWrite();
          return { file: f, offset, allocBytes: alloc };
        }
      }
      if (!this.rotating) this.rotating = this.rotate();
    }
  }

  private async rotate(): Promise<void> {
    try {
      if (this.file) this.file.active = false;
      this.file = undefined;
      const f = await this.newFile();
      f.active = true;
      this.file = f;
    } finally {
      this.rotating = undefined;
    }
  }

  /** Queues bytes for a reserved range; resolves once written (not yet synced). */
  write(file: ChunkFile, offset: number, bufs: Buffer[]): Promise<void> {
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ file, offset, bufs, bytes, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** Lets go of the active file (close): nothing more is appended to it. */
  retire(): void {
    if (this.file) this.file.active = false;
    this.file = undefined;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        batch.sort((a, b) => a.file.fileId - b.file.fileId || a.offset - b.offset);
        await Promise.all(runsOf(batch).map((run) => writeRun(run)));
      }
    } finally {
      this.writing = false;
    }
  }
}

/** Splits a sorted batch into runs that are contiguous in one file. */
function runsOf(batch: QueuedWrite[]): QueuedWrite[][] {
  const runs: QueuedWrite[][] = [];
  let run: QueuedWrite[] = [];
  let iovecs = 0;
  for (const w of batch) {
    const last = run[run.length - 1];
    const joins = last && last.file === w.file && last.offset + last.bytes === w.offset;
    if (!joins || iovecs + w.bufs.length > MAX_IOVECS) {
      if (run.length > 0) runs.push(run);
      run = [];
      iovecs = 0;
    }
    run.push(w);
    iovecs += w.bufs.length;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

async function writeRun(run: QueuedWrite[]): Promise<void> {
  const first = run[0]!;
  try {
    await writeAll(
      first.file.fh,
      run.flatMap((w) => w.bufs),
      first.offset,
    );
    for (const w of run) w.resolve();
  } catch (err) {
    for (const w of run) w.reject(err);
  }
}
