// One process owns a data directory at a time. `quire server` and `quire rebuild-index` take an exclusive
// flock(2) on <data>/quire.lock before they open anything else in the directory. The kernel drops the lock
// when the holder exits, however it exits (kill -9 included), so there is no stale-lock cleanup and no PID
// guessing: a PID file can outlive its process, a flock cannot. The file's text only names the holder for
// the one-line refusal a second process prints.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

export const LOCK_FILE_NAME = 'quire.lock';

/** A second process tried to use a data directory that another one holds. */
export class DataDirLockedError extends Error {
  readonly code = 'QUIRE_DATA_DIR_LOCKED';
}

export interface DataDirLock {
  readonly path: string;
  /** Lets the directory go before the process exits (the kernel does it at exit anyway). */
  release(): void;
}

interface Holder {
  pid: number;
  command: string;
  startedAt: string;
}

type Flock = (fd: number, flags: 'exnb' | 'un') => void;

function loadFlock(): Flock {
  try {
    // fs-ext is a native addon (CommonJS): loaded only by the commands that lock, so nothing else needs it built.
    const fsExt = createRequire(import.meta.url)('fs-ext') as { flockSync: Flock };
    return fsExt.flockSync;
  } catch (err) {
    throw new Error(
      `cannot load the file-locking addon fs-ext (${(err as Error).message.split('\n')[0]}); run "npm rebuild fs-ext" (needs python3, make and a C++ compiler)`,
    );
  }
}

/**
 * Takes the data directory for this process (creating it if `create`). Throws DataDirLockedError
 * (its message names the holder) when another live process has it.
 */
export function lockDataDir(dataDir: string, command: string, opts: { create: boolean }): DataDirLock {
  const flock = loadFlock();
  const dir = resolve(dataDir);
  if (opts.create) mkdirSync(dir, { recursive: true });
  else if (!existsSync(dir))
    throw new Error(`there is no data directory ${dir}; name the right one with --data`);
  const path = join(dir, LOCK_FILE_NAME);
  // 'a+' creates without truncating: the holder's text must survive a refused second opener.
  const fd = openSync(path, 'a+');
  try {
    flock(fd, 'exnb');
  } catch (err) {
    closeSync(fd);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      throw new DataDirLockedError(
        `data directory ${dir} is in use by ${describeHolder(path)}; stop that process first, or choose another directory with --data`,
      );
    }
    throw new Error(
      `cannot lock ${path} (${(err as Error).message}); keep the data directory on a local filesystem that supports flock`,
    );
  }
  const startedAt = new Date(performance.timeOrigin).toISOString();
  const holder: Holder = { pid: process.pid, command, startedAt };
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  let held = true;
  return {
    path,
    release: () => {
      if (!held) return;
      held = false;
      flock(fd, 'un');
      closeSync(fd);
    },
  };
}

function describeHolder(path: string): string {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    if (typeof h.pid === 'number') {
      return `quire ${h.command ?? 'process'} pid ${h.pid} (started ${h.startedAt ?? 'at an unknown time'})`;
    }
  } catch {
    // The holder may be between locking and writing its line.
  }
  return 'another process (it has not said which yet)';
}
