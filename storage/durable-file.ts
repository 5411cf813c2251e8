// The node's small files beside the index, replaced atomically and durably (common/durable-file.ts).
import { join } from 'node:path';
import { type Disk, nodeDisk } from '../common/disk.ts';
import { writeFileDurable as writeDurable } from '../common/durable-file.ts';
import type { BinlogCheckpoint } from './records.ts';
import { decodeCheckpoint, encodeCheckpoint } from './records.ts';

/** Writes `dir/name` atomically and durably (tmp → fdatasync → rename → fsync dir). */
export function writeFileDurable(
  dir: string,
  name: string,
  data: string | Buffer,
  disk: Disk = nodeDisk,
): Promise<void> {
  return writeDurable(disk, dir, name, data);
}

const CHECKPOINT_FILE = 'binlog-checkpoint.dat';

/**
 * The binlog checkpoint is kept in the index (every CHECKPOINT_EVERY commits) and, at each clean
 * close, in this file beside it, so a lost or discarded index does not send recovery back to the
 * start of the binlog.
 */
export function writeCheckpointFile(
  dataDir: string,
  cp: BinlogCheckpoint,
  disk: Disk = nodeDisk,
): Promise<void> {
  return writeDurable(disk, dataDir, CHECKPOINT_FILE, encodeCheckpoint(cp));
}

export async function readCheckpointFile(
  dataDir: string,
  disk: Disk = nodeDisk,
): Promise<BinlogCheckpoint | undefined> {
  try {
    return decodeCheckpoint(await disk.readFile(join(dataDir, CHECKPOINT_FILE)));
  } catch {
    return undefined;
  }
}
