// The raw disk ceiling, measured with the same fs.promises FileHandle calls our storage code uses:
// sequential 1 MiB writes with one final fsync (bandwidth), and 4 KiB writes each followed by
// fdatasync (durable operations per second), both appending (the file grows, so each fdatasync
// also commits the new size) and overwriting a preallocated file (data only).
import { randomFillSync } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskOptions {
  /** A directory on the filesystem under test; the files made here are removed at the end. */
  readonly dir: string;
  /** Bytes written sequentially (default 1 GiB). */
  readonly sequentialBytes?: number;
  /** How long the write+fdatasync loop runs (default 3 s). */
  readonly syncDurationMs?: number;
}

export interface DiskFigures {
  readonly sequentialBytes: number;
  readonly sequentialSeconds: number;
  readonly sequentialMiBps: number;
  /** The same bandwidth in decimal MB/s (1e6 bytes), for ratios against MB/s figures. */
  readonly sequentialMBps: number;
  /** 4 KiB appends, each followed by fdatasync. */
  readonly syncOps: number;
  readonly syncSeconds: number;
  readonly syncOpsPerSec: number;
  /** 4 KiB writes into a preallocated file, each followed by fdatasync. */
  readonly syncInPlaceOpsPerSec: number;
}

const BLOCK_BYTES = 1 << 20;
const SMALL_BYTES = 4 << 10;
const PREALLOCATED_BYTES = 128 << 20;

export async function measureDisk(opts: DiskOptions): Promise<DiskFigures> {
  await mkdir(opts.dir, { recursive: true });
  const seq = await sequentialWrite(join(opts.dir, 'sequential.bin'), opts.sequentialBytes ?? 1 << 30);
  const syncMs = opts.syncDurationMs ?? 3000;
  const sync = await syncedSmallWrites(join(opts.dir, 'synced.bin'), syncMs, false);
  const inPlace = await syncedSmallWrites(join(opts.dir, 'synced-in-place.bin'), syncMs, true);
  return {
    sequentialBytes: seq.bytes,
    sequentialSeconds: seq.seconds,
    sequentialMiBps: seq.bytes / seq.seconds / (1 << 20),
    sequentialMBps: seq.bytes / seq.seconds / 1e6,
    syncOps: sync.ops,
    syncSeconds: sync.seconds,
    syncOpsPerSec: sync.ops / sync.seconds,
    syncInPlaceOpsPerSec: inPlace.ops / inPlace.seconds,
  };
}

/** Sequential bandwidth alone, in decimal MB/s: a short probe run next to another measurement. */
export async function measureSequentialMBps(dir: string, bytes: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const seq = await sequentialWrite(join(dir, 'probe.bin'), bytes);
  return seq.bytes / seq.seconds / 1e6;
}

async function sequentialWrite(path: string, bytes: number): Promise<{ bytes: number; seconds: number }> {
  // Random bytes: a virtual disk that compresses or dedupes zeros would flatter the figure.
  const block = randomFillSync(Buffer.allocUnsafe(BLOCK_BYTES));
  const fh = await open(path, 'w');
  try {
    const start = performance.now();
    for (let at = 0; at < bytes; at += BLOCK_BYTES) {
      const n = Math.min(BLOCK_BYTES, bytes - at);
      await fh.write(block, 0, n, at);
    }
    await fh.sync();
    return { bytes, seconds: (performance.now() - start) / 1000 };
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

async function syncedSmallWrites(
  path: string,
  durationMs: number,
  preallocate: boolean,
): Promise<{ ops: number; seconds: number }> {
  const block = randomFillSync(Buffer.allocUnsafe(SMALL_BYTES));
  const fh = await open(path, 'w');
  try {
    if (preallocate) await preallocateFile(fh, PREALLOCATED_BYTES);
    const start = performance.now();
    const deadline = start + durationMs;
    let ops = 0;
    while (performance.now() < deadline) {
      // In place: wrap around inside the preallocated area (at ~6k ops/s, 3 s is ~70 MiB).
      const at = preallocate ? (ops * SMALL_BYTES) % PREALLOCATED_BYTES : ops * SMALL_BYTES;
      await fh.write(block, 0, SMALL_BYTES, at);
      await fh.datasync();
      ops++;
    }
    return { ops, seconds: (performance.now() - start) / 1000 };
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

/** Writes real blocks (not a sparse file) and syncs, so later in-place writes allocate nothing. */
async function preallocateFile(fh: FileHandle, bytes: number): Promise<void> {
  const block = Buffer.alloc(BLOCK_BYTES);
  for (let at = 0; at < bytes; at += BLOCK_BYTES) await fh.write(block, 0, BLOCK_BYTES, at);
  await fh.sync();
}
