// Small files replaced atomically and durably: write a temp file, fdatasync it, rename it over
// the old one, fsync the directory. A crash leaves either the old file or the new one.
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BinlogCheckpoint } from './records.ts';
import { decodeCheckpoint, encodeCheckpoint } from './records.ts';

export async function writeFileDurable(dir: string, name: string, data: string | Buffer): Promise<void> {
  const path = join(dir, name);
  const fh = await open(`${path}.tmp`, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(`${path}.tmp`, path);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

const CHECKPOINT_FILE = 'binlog-checkpoint.dat';

/**
 * The binlog checkpoint is kept in the index (every CHECKPOINT_EVERY commits) and, at each clean
 * close, in this file beside it, so a lost or discarded index does not send recovery back to the
 * start of the binlog.
 */
export function writeCheckpointFile(dataDir: string, cp: BinlogCheckpoint): Promise<void> {
  return writeFileDurable(dataDir, CHECKPOINT_FILE, encodeCheckpoint(cp));
}

export async function readCheckpointFile(dataDir: string): Promise<BinlogCheckpoint | undefined> {
  try {
    return decodeCheckpoint(await readFile(join(dataDir, CHECKPOINT_FILE)));
  } catch {
    return undefined;
  }
}
