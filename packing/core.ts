// The state of one open volume and the primitives every operation is made of: allocate (hole best-fit or
// lane append), write + group commit, replace in place, mark deleted, and hand extents back to the free
// space only when no read in flight still points at them.
import { join } from 'node:path';
import { unlinkDurable } from '../common/durable-file.ts';
import { ChangeJournal } from './checkpoint.ts';
import type { ChunkFile } from './chunkfile.ts';
import { WriteLane, writeAll } from './chunkfile.ts';
import type { EntryHeader, Superblock } from './codec.ts';
import {
  bodyBytesOf,
  type EntryContent,
  encodeHeader,
  fillerHeader,
  headerFor,
  readEntryAt,
  zeroPad,
} from './entry-io.ts';
import { EntryNotFoundError, VolumeFullError } from './errors.ts';
import { FreeSpace } from './free-space.ts';
import { GroupCommitter } from './group-commit.ts';
import { ENTRY_FLAGS, HEADER_BYTES, padAllocation, singleFileName } from './layout.ts';
import type { ResolvedOptions } from './options.ts';
import { readSingleHead } from './singlefile.ts';
import type { Location, StagedPut, StoredEntry } from './types.ts';

export function locKey(loc: Location): string {
  return `${loc.kind === 'chunk' ? 'c' : 's'}${loc.fileId}:${loc.offset}`;
}

export function storedEntry(loc: Location, h: EntryHeader, key: Buffer, meta: Buffer): StoredEntry {
  return {
    key,
    meta,
    opver: h.opver,
    location: loc,
    dataBytes: h.dataBytes,
    dataCrc32: h.dataCrc,
    createdMs: h.createdMs,
    updatedMs: h.updatedMs,
  };
}

const STATFS_EVERY_BYTES = 64 * 1024 * 1024;

export class VolumeCore {
  readonly chunks = new Map<number, ChunkFile>();
  readonly free = new FreeSpace();
  readonly committer: GroupCommitter;
  readonly lanes: WriteLane[];
  /** Locations of entries compaction moved, for callers that still hold the old one. */
  readonly forwards = new Map<string, Location>();
  /** The keys of `forwards` by the chunkfile they lead out of (dropped together: volume.ts). */
  readonly forwardsOut = new Map<number, string[]>();
  /** New location → the copy it was made from, while that copy's chunkfile still exists. */
  readonly movedFrom = new Map<string, Location>();
  /** Marks listed chunkfiles changed before they change (checkpoint.ts). */
  readonly journal: ChangeJournal;
  /** Singlefiles held by hold() (they have no writes to drain): each checkpoint journals them again. */
  readonly heldSingles = new Map<number, number>();
  /** Set while a checkpoint lets the active chunkfiles drain: new appends wait for it. */
  appendGate: Promise<void> | undefined;
  nextChunkId = 1;
  nextSingleId = 1;
  singlefiles = 0;
  singleBytes = 0;
  singleDataBytes = 0;
  private laneCursor = 0;
  private readonly readers = new Map<string, number>();
  private readonly pendingFree = new Map<string, { file: ChunkFile; offset: number; size: number }>();
  private readonly locks = new Map<string, Promise<void>>();
  private diskFreeBytes = Number.POSITIVE_INFINITY;
  private bytesSinceStatfs = 0;

  constructor(
    readonly dir: string,
    readonly sb: Superblock,
    readonly volumeCrc: number,
    readonly opts: ResolvedOptions,
    newChunkFile: () => Promise<ChunkFile>,
  ) {
    this.committer = new GroupCommitter(opts.durable);
    this.journal = new ChangeJournal(opts.disk, dir, volumeCrc, opts.durable);
    this.lanes = Array.from({ length: opts.writeLanes }, () => new WriteLane(opts.chunkBytes, newChunkFile));
  }

  // ---- mutual exclusion per location, and read reference counts ----

  /** Runs `fn` while no other mutation of the same location (delete, replace, compaction move) runs. */
  async withLock<T>(loc: Location, fn: () => Promise<T>): Promise<T> {
    const k = locKey(loc);
    const prev = this.locks.get(k) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chained = prev.then(() => mine);
    this.locks.set(k, chained);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(k) === chained) this.locks.delete(k);
    }
  }

  beginRead(loc: Location): void {
    const k = locKey(loc);
    this.readers.set(k, (this.readers.get(k) ?? 0) + 1);
    const f = this.chunks.get(loc.fileId);
    if (loc.kind === 'chunk' && f) f.readers += 1;
  }

  endRead(loc: Location, file: ChunkFile | undefined): void {
    const k = locKey(loc);
    const n = (this.readers.get(k) ?? 1) - 1;
    if (n > 0) {
      this.readers.set(k, n);
    } else {
      this.readers.delete(k);
      const pend = this.pendingFree.get(k);
      if (pend) {
        this.pendingFree.delete(k);
        this.releaseExtent(pend.file, pend.offset, pend.size);
      }
    }
    if (file) {
      file.readers -= 1;
      if (file.retired && file.readers === 0) void file.fh.close().catch(() => undefined);
    }
  }

  /** Follows compaction moves; the location itself when it was not moved. */
  resolve(loc: Location): Location {
    let cur = loc;
    for (let f = this.forwards.get(locKey(cur)); f; f = this.forwards.get(locKey(cur))) cur = f;
    return cur;
  }

  chunkFileOf(loc: Location): ChunkFile {
    const f = this.chunks.get(loc.fileId);
    if (!f || f.retired) throw new EntryNotFoundError(loc, 'no such chunkfile');
    return f;
  }

  /**
   * Before bytes of `file` below `offset` change: the caller holds a write on the file (beginWrite),
   * and awaits this before the first byte is written (checkpoint.ts).
   */
  async touch(file: ChunkFile, offset: number): Promise<void> {
    const t = this.journal.touchChunk(file.fileId, offset);
    if (t) await t;
  }

  /**
   * Keeps the files of these locations marked as changed (and out of checkpoints) until the returned
   * release is called: for a caller that will free them after other steps, so a crash in between
   * leaves them to be looked at on reopen. Never waits for a checkpoint.
   */
  async hold(locs: readonly Location[]): Promise<() => void> {
    const held: ChunkFile[] = [];
    const singles: number[] = [];
    const release = () => {
      for (const f of held.splice(0)) f.endWrite();
      for (const id of singles.splice(0)) {
        const n = (this.heldSingles.get(id) ?? 1) - 1;
        if (n > 0) this.heldSingles.set(id, n);
        else this.heldSingles.delete(id);
      }
    };
    try {
      for (const loc of locs) {
        if (loc.kind === 'single') {
          // Counted first: a checkpoint taken from here on names it in its own journal too.
          this.heldSingles.set(loc.fileId, (this.heldSingles.get(loc.fileId) ?? 0) + 1);
          singles.push(loc.fileId);
          const t = this.journal.touchSingle(loc.fileId);
          if (t) await t;
          continue;
        }
        const f = this.chunks.get(loc.fileId);
        if (!f || f.retired) continue;
        f.beginWrite();
        held.push(f);
        await this.touch(f, loc.offset);
      }
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** Free extents of a chunkfile, parked ones included (a crash ends every read): for checkpoints. */
  holesOf(fileId: number): Array<{ offset: number; size: number }> {
    const holes = this.free.extentsOf(fileId).map((e) => ({ offset: e.offset, size: e.size }));
    for (const p of this.pendingFree.values())
      if (p.file.fileId === fileId) holes.push({ offset: p.offset, size: p.size });
    return holes.sort((a, b) => a.offset - b.offset);
  }

  // ---- space accounting ----

  diskBytes(): number {
    let n = this.singleBytes;
    for (const f of this.chunks.values()) n += f.end;
    return n;
  }

  /** Bytes of singlefiles being written (their temp files): counted against the maximum. */
  inflightBytes = 0;

  /** Throws VolumeFullError when growing the volume by `bytes` would pass maxBytes or the reserve. */
  checkRoom(bytes: number): void {
    const disk = this.diskBytes() + this.inflightBytes;
    if (disk + bytes > this.sb.maxBytes) {
      throw new VolumeFullError(
        bytes,
        `volume holds ${disk} (${this.inflightBytes} being written) of max ${this.sb.maxBytes} bytes`,
      );
    }
    const free = this.diskFreeBytes - this.bytesSinceStatfs;
    if (free - bytes < this.sb.reservedFreeBytes) {
      throw new VolumeFullError(
        bytes,
        `disk free ${free} would fall below reserve ${this.sb.reservedFreeBytes}`,
      );
    }
    this.bytesSinceStatfs += bytes;
    if (this.bytesSinceStatfs > STATFS_EVERY_BYTES) void this.refreshDiskFree().catch(() => undefined);
  }

  async refreshDiskFree(): Promise<void> {
    this.diskFreeBytes = await this.opts.disk.freeBytes(this.dir);
    this.bytesSinceStatfs = 0;
  }

  // ---- writing entries ----

  private nextLane(): WriteLane {
    const lane = this.lanes[this.laneCursor % this.lanes.length]!;
    this.laneCursor += 1;
    return lane;
  }

  /** Writes a new entry (best-fit hole, else a lane's tail) and resolves once it is durable. */
  async putChunk(c: EntryContent, needBytes: number, holding = false): Promise<StoredEntry> {
    const staged = await this.stageChunk(c, needBytes, holding);
    await staged.durable;
    return staged.entry;
  }

  /**
   * Writes a new entry and resolves once its bytes are written (its location is final); `durable`
   * resolves once they are on stable storage. The file keeps a writer (compaction waits) until then,
   * and the live counters count the entry only once it is durable.
   */
  async stageChunk(c: EntryContent, needBytes: number, holding = false): Promise<StagedPut> {
    const need = Math.max(needBytes, HEADER_BYTES + bodyBytesOf(c));
    // A caller holding a file must not wait for a checkpoint that waits for that file.
    while (this.appendGate && !holding) await this.appendGate;
    // A file about to be compacted gives no holes: what went there would only be moved again.
    const hole = this.free.take(
      need,
      (e) => padAllocation(e.offset, need) <= e.size && !this.chunks.get(e.fileId)?.compactionQueued,
    );
    let file: ChunkFile;
    let offset: number;
    let alloc: number;
    let rest = 0;
    if (hole) {
      file = this.chunks.get(hole.fileId)!;
      file.beginWrite();
      offset = hole.offset;
      alloc = padAllocation(offset, need);
      // A remainder too small for a filler header stays with the entry as slack.
      if (hole.size - alloc < HEADER_BYTES) alloc = hole.size;
      rest = hole.size - alloc;
      try {
        await this.touch(file, offset);
        const writes = [writeAll(file.fh, this.entryBufs(c, alloc, false), offset)];
        if (rest > 0) writes.push(writeAll(file.fh, [fillerHeader(rest, this.volumeCrc)], offset + alloc));
        await Promise.all(writes);
      } catch (err) {
        file.endWrite();
        throw err;
      }
    } else {
      this.checkRoom(need + 512);
      const lane = this.nextLane();
      const r = await lane.reserve(need);
      file = r.file;
      offset = r.offset;
      alloc = r.allocBytes;
      try {
        await lane.write(file, offset, this.entryBufs(c, alloc, true));
      } catch (err) {
        file.endWrite();
        throw err;
      }
    }
    const f = file;
    const durable = this.committer.commit(f.fh).then(
      () => {
        f.endWrite();
        if (rest > 0) this.releaseExtent(f, offset + alloc, rest);
        f.liveEntries += 1;
        f.liveBytes += alloc;
        f.liveDataBytes += c.data.length;
      },
      (err) => {
        f.endWrite();
        throw err;
      },
    );
    const loc: Location = { kind: 'chunk', fileId: f.fileId, offset, allocBytes: alloc };
    return { entry: storedEntry(loc, headerFor(c, alloc, HEADER_BYTES), c.key, c.meta), durable };
  }

  private entryBufs(c: EntryContent, alloc: number, padToAlloc: boolean): Buffer[] {
    const bufs = [encodeHeader(headerFor(c, alloc, HEADER_BYTES), this.volumeCrc), c.key, c.meta, c.data];
    if (padToAlloc) bufs.push(...zeroPad(alloc - HEADER_BYTES - bodyBytesOf(c)));
    return bufs;
  }

  /**
   * Crash-safe in-place replacement: the new body goes into the part of the allocation the current body
   * does not use, is synced, and only then one sector-contained header write switches to it.
   * Undefined when it does not fit, or a reader or compaction is on this entry.
   */
  async replaceInPlace(file: ChunkFile, loc: Location, old: EntryHeader, c: EntryContent) {
    if (file.compacting || file.retired || (this.readers.get(locKey(loc)) ?? 0) > 0) return undefined;
    const oldStart = old.bodyOffset;
    const oldEnd = Math.ceil((oldStart + old.keyBytes + old.metaBytes + old.dataBytes) / 8) * 8;
    const len = bodyBytesOf(c);
    let at: number;
    if (len <= oldStart - HEADER_BYTES) at = HEADER_BYTES;
    else if (old.allocBytes - oldEnd >= len) at = Math.floor((old.allocBytes - len) / 8) * 8;
    else return undefined;
    file.beginWrite();
    try {
      await this.touch(file, loc.offset);
      await writeAll(file.fh, [c.key, c.meta, c.data], loc.offset + at);
      await this.committer.commit(file.fh);
      const h = headerFor(c, old.allocBytes, at);
      await writeAll(file.fh, [encodeHeader(h, this.volumeCrc)], loc.offset);
      await this.committer.commit(file.fh);
      file.liveDataBytes += c.data.length - old.dataBytes;
      return storedEntry(loc, h, c.key, c.meta);
    } finally {
      file.endWrite();
    }
  }

  // ---- freeing ----

  /** Sets the deleted flag (one header write), waits until durable, then frees the extent. */
  async deleteChunkEntry(file: ChunkFile, loc: Location, h: EntryHeader): Promise<void> {
    const deleted: EntryHeader = { ...h, flags: h.flags | ENTRY_FLAGS.deleted };
    file.beginWrite();
    try {
      await this.touch(file, loc.offset);
      await writeAll(file.fh, [encodeHeader(deleted, this.volumeCrc)], loc.offset);
      await this.committer.commit(file.fh);
    } finally {
      file.endWrite();
    }
    file.liveEntries -= 1;
    file.liveBytes -= h.allocBytes;
    file.liveDataBytes -= h.dataBytes;
    this.releaseExtent(file, loc.offset, h.allocBytes);
  }

  /** Hands an extent to the free space, or parks it until the last read of it ends. */
  releaseExtent(file: ChunkFile, offset: number, size: number): void {
    if (file.compacting || file.retired) return;
    const k = locKey({ kind: 'chunk', fileId: file.fileId, offset, allocBytes: size });
    if ((this.readers.get(k) ?? 0) > 0) this.pendingFree.set(k, { file, offset, size });
    else this.free.add(file.fileId, offset, size);
  }

  /** Deletes whatever lives at `loc` (already resolved); EntryNotFoundError when nothing does. */
  async deleteAt(loc: Location): Promise<void> {
    if (loc.kind === 'single') {
      const head = await readSingleHead(this.opts.disk, this.dir, loc, this.volumeCrc).catch(() => undefined);
      if (!head && !(await this.singleExists(loc))) throw new EntryNotFoundError(loc, 'no such singlefile');
      await unlinkDurable(this.opts.disk, this.dir, singleFileName(loc.fileId));
      this.singlefiles -= 1;
      this.singleBytes -= loc.allocBytes;
      this.singleDataBytes -= head?.header.dataBytes ?? 0;
      return;
    }
    const file = this.chunkFileOf(loc);
    const { header } = await readEntryAt(file.fh, loc, this.volumeCrc, false).catch((err) => {
      // A corrupt header is still ours to delete: quarantine the allocation rather than fail.
      if ((err as { code?: string }).code === 'CORRUPT_ENTRY') return { header: undefined };
      throw err;
    });
    if (!header) {
      file.deadBytes += loc.allocBytes;
      return;
    }
    await this.deleteChunkEntry(file, loc, header);
  }

  private async singleExists(loc: Location): Promise<boolean> {
    return this.opts.disk.stat(join(this.dir, singleFileName(loc.fileId))).then(
      () => true,
      () => false,
    );
  }
}
