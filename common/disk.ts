// The disk seam: every file the volumes and the node write goes through a `Disk`. In production it is
// `nodeDisk` (node:fs, whose FileHandle already is a `DiskFile`, so the seam costs no allocation per
// read or write); tests plug in a simulated disk that can forget what was not synced.
import { mkdir, open, readdir, readFile, rename, stat, statfs, unlink } from 'node:fs/promises';

/** An open file: the subset of node's FileHandle the code uses, with the same meaning. */
export interface DiskFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
  /** Whole contents (from the start). */
  readFile(): Promise<Buffer>;
  /** Appends at the end of the file. */
  appendFile(data: Buffer): Promise<void>;
  /** Replaces the contents (file opened with 'w'). */
  writeFile(data: Buffer | string): Promise<void>;
  truncate(length: number): Promise<void>;
  /** fdatasync: the data written so far survives a crash. */
  datasync(): Promise<void>;
  /** fsync; on a directory: the names created, renamed or removed in it so far survive a crash. */
  sync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** 'r' read; 'r+' read/write; 'w' create or truncate; 'wx+' create, must not exist; 'a+' create or open. */
export type OpenFlags = 'r' | 'r+' | 'w' | 'wx+' | 'a+';

export interface Disk {
  /** Opens a file, or (flags 'r') a directory so it can be synced. */
  open(path: string, flags: OpenFlags): Promise<DiskFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** mkdir -p: creates missing parents, fine if it exists. Not durable until the parent is synced. */
  mkdirp(path: string): Promise<void>;
  stat(path: string): Promise<{ size: number }>;
  /** Free space of the file system holding `path`. */
  freeBytes(path: string): Promise<number>;
}

/** The real disk. */
export const nodeDisk: Disk = {
  open: (path, flags) => open(path, flags),
  readFile: (path) => readFile(path),
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  readdir: (path) => readdir(path),
  mkdirp: async (path) => {
    await mkdir(path, { recursive: true });
  },
  stat: (path) => stat(path),
  freeBytes: async (path) => {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  },
};

/** True for the error a missing file gives (ENOENT), from either implementation. */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ENOENT';
}
