// The crash-safe file protocols, in one place: write tmp → fdatasync → rename → fsync the directory,
// and unlink → fsync the directory. A crash leaves the old file or the new one, never a mix.
import { dirname, join, resolve } from 'node:path';
import { type Disk, isNotFound } from './disk.ts';

/** The suffix of a file being written; a leftover one never holds acknowledged data. */
export const TMP_SUFFIX = '.tmp';

/** Makes the names created, renamed or removed in `dir` so far survive a crash. */
export async function syncDir(disk: Disk, dir: string): Promise<void> {
  const fh = await disk.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `dir/name` atomically and durably. */
export async function writeFileDurable(
  disk: Disk,
  dir: string,
  name: string,
  data: Buffer | string,
): Promise<void> {
  const path = join(dir, name);
  const tmp = path + TMP_SUFFIX;
  const fh = await disk.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await disk.rename(tmp, path);
  await syncDir(disk, dir);
}

/** Removes `dir/name` durably; a missing file is fine (the step was already done before a crash). */
export async function unlinkDurable(disk: Disk, dir: string, name: string): Promise<void> {
  try {
    await disk.unlink(join(dir, name));
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return;
  }
  await syncDir(disk, dir);
}

/**
 * mkdir -p whose result survives a crash: every directory it creates is followed by an fsync of its
 * parent, and the leaf's parent is synced even when the leaf existed (someone may have just made it).
 */
export async function mkdirDurable(disk: Disk, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    const there = await disk.stat(p).then(
      () => true,
      (err) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
    if (there) break;
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    await disk.mkdirp(p);
    await syncDir(disk, dirname(p));
  }
  if (missing.length === 0) await syncDir(disk, dirname(resolve(dir)));
}
