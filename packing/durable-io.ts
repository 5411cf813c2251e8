// The crash-safe file protocols of a volume, in one place: new file → tmp → fsync → rename → fsync dir.
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_NAMES } from './layout.ts';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `name` atomically and durably: a crash leaves the old file or the new one, never a mix. */
export async function writeFileDurable(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = join(dir, name + FILE_NAMES.tmpSuffix);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

/** Removes a file durably; a missing file is fine (the step was already done before a crash). */
export async function unlinkDurable(dir: string, name: string): Promise<void> {
  try {
    await unlink(join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return;
  }
  await fsyncDir(dir);
}
