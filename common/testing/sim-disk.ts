// A simulated disk for crash tests. It keeps files in memory as a page cache over a durable image:
// a write lands in the page cache; fdatasync/fsync of the file makes the writes that had completed
// when it was issued durable; names (create, rename, unlink, mkdir) become durable only when their
// directory is fsynced. `crash()` freezes this disk (no operation in flight or issued later completes,
// like a dead process) and `afterCrash()` returns a new disk holding what a power
// loss could have left: the durable image plus, per file, any subset of the unsynced writes that a
// real disk could have persisted (whole 512-byte sectors, each sector at some point of its own
// history, so the last write may be torn at a sector boundary), and per directory a prefix of its
// unsynced name changes. Once the image is taken, the dead disk's operations fail with EIO, so the code
// that ran on it unwinds and gives back what it holds (process-wide pools outlive a simulated crash).
// Every choice comes from the seeded Rng: a seed replays a run.
import { posix } from 'node:path';
import type { Disk, DiskFile, OpenFlags } from '../disk.ts';
import type { Rng } from './rng.ts';

export const SECTOR_BYTES = 512;

type Op =
  | { readonly seq: number; readonly at: number; readonly bytes: Buffer }
  | { readonly seq: number; readonly truncate: number };

class Inode {
  /** Page cache contents (`size` bytes used). */
  data: Buffer;
  size: number;
  /** What survives a crash for sure. */
  durable: Buffer;
  /** Writes and truncates not yet covered by a sync, in the order they happened. */
  pending: Op[] = [];
  constructor(data: Buffer = Buffer.alloc(0)) {
    this.data = Buffer.from(data);
    this.size = data.length;
    this.durable = Buffer.from(data);
  }
}

class Dir {
  entries = new Map<string, Node>();
  durable = new Map<string, Node>();
  /** Name changes not yet covered by an fsync of this directory, in order. */
  pending: Array<{ readonly seq: number; readonly apply: (m: Map<string, Node>) => void }> = [];
}

type Node = Inode | Dir;

export interface SimDiskOptions {
  /** Upper bound of event-loop turns an operation takes (random per op): varies interleavings. */
  maxDelayTurns?: number;
  /** Reported by freeBytes(). */
  freeBytes?: number;
}

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

export class SimDisk implements Disk {
  private readonly root: Dir;
  private dead = false;
  private seq = 0;
  private crashAfter = Number.POSITIVE_INFINITY;
  private onCrash: (() => void) | undefined;
  private buryDead!: () => void;
  /** Resolves once the crash image is taken: then the dead disk's operations fail. */
  private readonly buried = new Promise<void>((resolve) => {
    this.buryDead = resolve;
  });
  /** Operations issued (for crash points and reports). */
  ops = 0;
  /** Resolves when this disk crashes (by `crash()` or the op countdown). */
  readonly crashed: Promise<void>;

  constructor(
    private readonly rng: Rng,
    private readonly opts: SimDiskOptions = {},
    root?: Dir,
  ) {
    this.root = root ?? new Dir();
    this.crashed = new Promise((resolve) => {
      this.onCrash = resolve;
    });
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** The disk crashes when the `n`-th operation from now is issued (it never completes). */
  crashAfterOps(n: number): void {
    this.crashAfter = this.ops + n;
  }

  crash(): void {
    if (this.dead) return;
    this.dead = true;
    this.onCrash?.();
  }

  /** What a power loss could have left, as a fresh disk. This disk must have crashed. */
  afterCrash(): SimDisk {
    if (!this.dead) throw new Error('afterCrash() before crash()');
    queueMicrotask(() => this.buryDead());
    const images = new Map<Inode, Inode>();
    const dirs = new Map<Dir, Dir>();
    const imageOf = (n: Node): Node => {
      if (n instanceof Dir) {
        let d = dirs.get(n);
        if (!d) {
          d = new Dir();
          dirs.set(n, d);
          const names = new Map(n.durable);
          const keep = this.rng.int(n.pending.length + 1);
          for (const change of n.pending.slice(0, keep)) change.apply(names);
          for (const [name, child] of names) d.entries.set(name, imageOf(child));
          d.durable = new Map(d.entries);
        }
        return d;
      }
      let f = images.get(n);
      if (!f) {
        f = new Inode(this.crashImage(n));
        images.set(n, f);
      }
      return f;
    };
    return new SimDisk(this.rng, this.opts, imageOf(this.root) as Dir);
  }

  /** Durable bytes plus whatever of the unsynced writes the disk had put down. */
  private crashImage(f: Inode): Buffer {
    const mode = this.rng.int(4);
    if (f.pending.length === 0 || mode === 0) return Buffer.from(f.durable);
    if (mode === 1 || f.pending.some((o) => 'truncate' in o)) {
      return mode === 1 ? Buffer.from(f.data.subarray(0, f.size)) : Buffer.from(f.durable);
    }
    // Each sector holds the state after some prefix of the writes that touched it.
    const writes = f.pending as Array<{ seq: number; at: number; bytes: Buffer }>;
    const touches = new Map<number, number>();
    for (const w of writes) {
      for (let s = Math.floor(w.at / SECTOR_BYTES); s * SECTOR_BYTES < w.at + w.bytes.length; s++) {
        touches.set(s, (touches.get(s) ?? 0) + 1);
      }
    }
    const cutoff = new Map<number, number>();
    for (const [s, n] of touches) cutoff.set(s, this.rng.int(n + 1));
    const seen = new Map<number, number>();
    let out: Buffer = Buffer.from(f.durable);
    for (const w of writes) {
      for (let s = Math.floor(w.at / SECTOR_BYTES); s * SECTOR_BYTES < w.at + w.bytes.length; s++) {
        const nth = seen.get(s) ?? 0;
        seen.set(s, nth + 1);
        if (nth >= cutoff.get(s)!) continue;
        const from = Math.max(w.at, s * SECTOR_BYTES);
        const to = Math.min(w.at + w.bytes.length, (s + 1) * SECTOR_BYTES);
        if (to > out.length) out = grow(out, to, to);
        w.bytes.copy(out, from, from - w.at, to - w.at);
      }
    }
    return out;
  }

  // ---- the Disk interface ----

  /** Counts the op, crashes on the countdown, then waits a few turns; never settles once dead. */
  private async step(): Promise<void> {
    this.ops += 1;
    if (this.ops >= this.crashAfter) this.crash();
    if (this.dead) return this.deadOp();
    const turns = this.rng.int((this.opts.maxDelayTurns ?? 2) + 1);
    for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
    if (this.dead) return this.deadOp();
  }

  /** An operation on a crashed disk: pending until the crash image is taken, then EIO. */
  private async deadOp(): Promise<never> {
    await this.buried;
    throw errno('EIO', 'the simulated machine crashed');
  }

  private lookup(path: string): { parent: Dir; name: string; node: Node | undefined } {
    const parts = posix.resolve(path).split('/').filter(Boolean);
    let dir = this.root;
    for (const p of parts.slice(0, -1)) {
      const next = dir.entries.get(p);
      if (!(next instanceof Dir)) throw errno('ENOENT', path);
      dir = next;
    }
    const name = parts.at(-1) ?? '';
    return { parent: dir, name, node: name === '' ? this.root : dir.entries.get(name) };
  }

  private link(dir: Dir, name: string, node: Node): void {
    dir.entries.set(name, node);
    this.nameChange(dir, (m) => m.set(name, node));
  }

  async open(path: string, flags: OpenFlags): Promise<DiskFile> {
    await this.step();
    const { parent, name, node } = this.lookup(path);
    if (node instanceof Dir) {
      if (flags !== 'r') throw errno('EISDIR', path);
      return new SimDirHandle(this, node);
    }
    let f = node;
    if (!f) {
      if (flags === 'r' || flags === 'r+') throw errno('ENOENT', path);
      f = new Inode();
      this.link(parent, name, f);
    } else if (flags === 'wx+') throw errno('EEXIST', path);
    const h = new SimFileHandle(this, f, flags);
    if (flags === 'w') this.truncateInode(f, 0);
    return h;
  }

  async readFile(path: string): Promise<Buffer> {
    await this.step();
    const { node } = this.lookup(path);
    if (!node) throw errno('ENOENT', path);
    if (node instanceof Dir) throw errno('EISDIR', path);
    return Buffer.from(node.data.subarray(0, node.size));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.step();
    const a = this.lookup(from);
    const b = this.lookup(to);
    if (!a.node) throw errno('ENOENT', from);
    const node = a.node;
    a.parent.entries.delete(a.name);
    b.parent.entries.set(b.name, node);
    if (a.parent === b.parent) {
      this.nameChange(a.parent, (m) => {
        m.delete(a.name);
        m.set(b.name, node);
      });
    } else {
      this.nameChange(a.parent, (m) => m.delete(a.name));
      this.nameChange(b.parent, (m) => m.set(b.name, node));
    }
  }

  async unlink(path: string): Promise<void> {
    await this.step();
    const { parent, name, node } = this.lookup(path);
    if (!node) throw errno('ENOENT', path);
    if (node instanceof Dir) throw errno('EISDIR', path);
    parent.entries.delete(name);
    this.nameChange(parent, (m) => m.delete(name));
  }

  async readdir(path: string): Promise<string[]> {
    await this.step();
    const { node } = this.lookup(path);
    if (!node) throw errno('ENOENT', path);
    if (!(node instanceof Dir)) throw errno('ENOTDIR', path);
    return [...node.entries.keys()].sort();
  }

  async mkdirp(path: string): Promise<void> {
    await this.step();
    let dir = this.root;
    for (const p of posix.resolve(path).split('/').filter(Boolean)) {
      let next = dir.entries.get(p);
      if (!next) {
        next = new Dir();
        this.link(dir, p, next);
      }
      if (!(next instanceof Dir)) throw errno('ENOTDIR', path);
      dir = next;
    }
  }

  async stat(path: string): Promise<{ size: number }> {
    await this.step();
    const { node } = this.lookup(path);
    if (!node) throw errno('ENOENT', path);
    return { size: node instanceof Dir ? 0 : node.size };
  }

  async freeBytes(_path: string): Promise<number> {
    await this.step();
    return this.opts.freeBytes ?? 1024 ** 4;
  }

  // ---- used by the handles ----

  /** Runs an operation on a handle: counted, delayed, frozen after a crash. */
  async io<T>(fn: () => T): Promise<T> {
    await this.step();
    return fn();
  }

  private nameChange(dir: Dir, apply: (m: Map<string, Node>) => void): void {
    dir.pending.push({ seq: this.nextSeq(), apply });
  }

  /** Makes the directory's name changes up to `seq` durable. */
  syncDir(d: Dir, seq: number): void {
    let n = 0;
    for (const change of d.pending) {
      if (change.seq > seq) break;
      change.apply(d.durable);
      n += 1;
    }
    d.pending.splice(0, n);
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  writeInode(f: Inode, bytes: Buffer, at: number): void {
    const end = at + bytes.length;
    if (end > f.data.length) f.data = grow(f.data.subarray(0, f.size), end, end * 2);
    bytes.copy(f.data, at);
    if (end > f.size) f.size = end;
    f.pending.push({ seq: this.nextSeq(), at, bytes: Buffer.from(bytes) });
  }

  truncateInode(f: Inode, length: number): void {
    if (length > f.data.length) f.data = grow(f.data.subarray(0, f.size), length, length);
    if (length > f.size) f.data.fill(0, f.size, length);
    f.size = length;
    f.pending.push({ seq: this.nextSeq(), truncate: length });
  }

  /** Makes the inode's pending ops up to `seq` durable. */
  syncInode(f: Inode, seq: number): void {
    let n = 0;
    for (const op of f.pending) {
      if (op.seq > seq) break;
      if ('truncate' in op) {
        const d = Buffer.alloc(op.truncate);
        f.durable.copy(d, 0, 0, Math.min(op.truncate, f.durable.length));
        f.durable = d;
      } else {
        const end = op.at + op.bytes.length;
        if (end > f.durable.length) f.durable = grow(f.durable, end, end);
        op.bytes.copy(f.durable, op.at);
      }
      n += 1;
    }
    f.pending.splice(0, n);
  }

  /** Current seq: a sync issued now covers ops up to here. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Contents in the page cache (tests: what a reader of the live disk sees). */
  peekFile(path: string): Buffer | undefined {
    const { node } = this.lookup(path);
    return node instanceof Inode ? Buffer.from(node.data.subarray(0, node.size)) : undefined;
  }
}

/** A zero-filled buffer of max(length, capacity) bytes starting with the first `length` bytes of `buf`. */
function grow(buf: Buffer, length: number, capacity: number): Buffer {
  const out = Buffer.alloc(Math.max(capacity, length));
  buf.copy(out, 0, 0, Math.min(buf.length, length));
  return out;
}

class SimFileHandle implements DiskFile {
  private closed = false;
  constructor(
    private readonly disk: SimDisk,
    private readonly f: Inode,
    private readonly flags: OpenFlags,
  ) {}

  private check(write: boolean): void {
    if (this.closed) throw errno('EBADF', 'file handle is closed');
    if (write && this.flags === 'r') throw errno('EBADF', 'file opened read-only');
  }

  /** O_APPEND: every write goes to the end, whatever position is passed (as on Linux). */
  private posOf(position: number): number {
    return this.flags === 'a+' ? this.f.size : position;
  }

  read(buffer: Buffer, offset: number, length: number, position: number) {
    return this.disk.io(() => {
      this.check(false);
      const n = Math.max(0, Math.min(length, this.f.size - position));
      this.f.data.copy(buffer, offset, position, position + n);
      return { bytesRead: n };
    });
  }

  write(buffer: Buffer, offset: number, length: number, position: number) {
    return this.disk.io(() => {
      this.check(true);
      this.disk.writeInode(this.f, buffer.subarray(offset, offset + length), this.posOf(position));
      return { bytesWritten: length };
    });
  }

  writev(buffers: Buffer[], position: number) {
    return this.disk.io(() => {
      this.check(true);
      const all = Buffer.concat(buffers);
      this.disk.writeInode(this.f, all, this.posOf(position));
      return { bytesWritten: all.length };
    });
  }

  appendFile(data: Buffer) {
    return this.disk.io(() => {
      this.check(true);
      this.disk.writeInode(this.f, data, this.f.size);
    });
  }

  readFile() {
    return this.disk.io(() => {
      this.check(false);
      return Buffer.from(this.f.data.subarray(0, this.f.size));
    });
  }

  writeFile(data: Buffer | string) {
    return this.disk.io(() => {
      this.check(true);
      this.disk.truncateInode(this.f, 0);
      this.disk.writeInode(this.f, Buffer.from(data), 0);
    });
  }

  truncate(length: number) {
    return this.disk.io(() => {
      this.check(true);
      this.disk.truncateInode(this.f, length);
    });
  }

  datasync() {
    const upTo = this.disk.lastSeq;
    return this.disk.io(() => {
      this.check(false);
      this.disk.syncInode(this.f, upTo);
    });
  }

  sync() {
    return this.datasync();
  }

  stat() {
    return this.disk.io(() => {
      this.check(false);
      return { size: this.f.size };
    });
  }

  close() {
    return this.disk.io(() => {
      this.check(false);
      this.closed = true;
    });
  }
}

class SimDirHandle implements DiskFile {
  constructor(
    private readonly disk: SimDisk,
    private readonly d: Dir,
  ) {}

  private isDir(): never {
    throw errno('EISDIR', 'a directory');
  }

  read() {
    return this.disk.io(() => this.isDir());
  }
  write() {
    return this.disk.io(() => this.isDir());
  }
  writev() {
    return this.disk.io(() => this.isDir());
  }
  readFile() {
    return this.disk.io(() => this.isDir());
  }
  appendFile() {
    return this.disk.io(() => this.isDir());
  }
  writeFile() {
    return this.disk.io(() => this.isDir());
  }
  truncate() {
    return this.disk.io(() => this.isDir());
  }
  datasync() {
    return this.sync();
  }
  sync() {
    // Like the file syncs: covers the name changes made before it was issued.
    const upTo = this.disk.lastSeq;
    return this.disk.io(() => this.disk.syncDir(this.d, upTo));
  }
  stat() {
    return this.disk.io(() => ({ size: 0 }));
  }
  close() {
    return this.disk.io(() => undefined);
  }
}
