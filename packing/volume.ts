// The public face of one volume: put / replace / delete / read / scan / compact / stats / close.
// The caller keeps key → Location; the volume keeps no key map at run time.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type CheckpointOptions, takeCheckpoint } from './checkpoint.ts';
import { scanChunkfile } from './chunk-scan.ts';
import { compactFile, pacer } from './compaction.ts';
import { locKey, storedEntry, type VolumeCore } from './core.ts';
import { crc32Of } from './crc.ts';
import { type EntryContent, encodeHeader, readEntryAt } from './entry-io.ts';
import { EntryNotFoundError, InvalidInputError, PackingError } from './errors.ts';
import { ENTRY_FLAGS, FILE_NAMES, HEADER_BYTES, parseFileId, singleFileName } from './layout.ts';
import { DEFAULTS, insertAllocBytes, replaceAllocBytes } from './options.ts';
import { readSinglefile, readSingleHead, writeSinglefile } from './singlefile.ts';
import type {
  ByteRange,
  CompactionOptions,
  CompactionReport,
  CreateVolumeOptions,
  Location,
  OpenVolumeOptions,
  PutInput,
  RecoveryReport,
  StagedPut,
  StoredEntry,
  VolumeStats,
} from './types.ts';
import { openCore, writeSuperblock } from './volume-open.ts';

async function collect(data: Buffer | AsyncIterable<Buffer>, dataBytes: number): Promise<Buffer> {
  let buf: Buffer;
  if (Buffer.isBuffer(data)) buf = data;
  else {
    const parts: Buffer[] = [];
    for await (const c of data) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
    buf = Buffer.concat(parts);
  }
  if (buf.length !== dataBytes)
    throw new InvalidInputError(`data is ${buf.length} bytes, expected ${dataBytes}`);
  return buf;
}

function sliceRange(data: Buffer, range: ByteRange | undefined): Buffer {
  if (!range) return data;
  if (range.start < 0 || range.end < range.start || (range.start >= data.length && data.length > 0)) {
    throw new InvalidInputError(`range ${range.start}-${range.end} not satisfiable for ${data.length} bytes`);
  }
  return data.subarray(range.start, Math.min(range.end, data.length - 1) + 1);
}

function ignoreGone(err: unknown): void {
  if (err instanceof EntryNotFoundError) return;
  throw err;
}

export class Volume extends EventEmitter {
  private closed = false;
  private compacting = false;
  private checkpointing: Promise<{ generation: number; listed: number }> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Drops of retired files' forwards waiting for their last users (dropForwardsWhenUnused). */
  private readonly forwardDrops = new Set<Promise<void>>();

  private constructor(
    private readonly core: VolumeCore,
    /** What open found: summary or scan, corrupt regions, duplicates dropped, compaction moves. */
    readonly recovery: RecoveryReport,
  ) {
    super();
  }

  static async create(dir: string, opts: CreateVolumeOptions): Promise<Volume> {
    await writeSuperblock(dir, opts);
    const { core, recovery } = await openCore(dir, opts, true);
    return new Volume(core, recovery);
  }

  static async open(dir: string, opts?: OpenVolumeOptions): Promise<Volume> {
    const { core, recovery } = await openCore(dir, opts, false);
    return new Volume(core, recovery);
  }

  get volumeId(): string {
    return this.core.sb.volumeId;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    // Anonymous callbacks: a named closure per read would cost a defineProperty each under tsx's keepNames.
    p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  private checkOpen(): void {
    if (this.closed) throw new InvalidInputError('volume is closed');
  }

  /** Stores an object; resolves only when durable. With `replaces`, the old version is freed or rewritten. */
  put(input: PutInput): Promise<StoredEntry> {
    this.checkOpen();
    return this.track(this.doPut(input).then((e) => this.followMoves(e)));
  }

  /**
   * Compaction may move a new entry before the put that wrote it returns (a replacement still freeing
   * the old version): its EntryMoved named a location the caller did not hold yet, so the caller must
   * get where the entry is now.
   */
  private followMoves(e: StoredEntry): StoredEntry {
    if (this.core.forwards.size === 0) return e;
    const at = this.core.resolve(e.location);
    return at === e.location ? e : { ...e, location: at };
  }

  /**
   * Like put, but a new small entry (no `replaces`) resolves as soon as its bytes are written, with
   * `durable` resolving once they are on stable storage (one group commit later); the caller can
   * do its own bookkeeping in between. Replacements and singlefiles are done whole first (their
   * `durable` is already resolved).
   */
  async putStaged(input: PutInput): Promise<StagedPut> {
    this.checkOpen();
    if (input.replaces || input.dataBytes >= this.core.opts.smallObjectMaxBytes) {
      return { entry: await this.put(input), durable: Promise.resolve() };
    }
    const staged = await this.track(this.stage(input));
    void this.track(staged.durable).catch(() => undefined);
    return staged;
  }

  private async stage(input: PutInput): Promise<StagedPut> {
    this.checkInput(input);
    const data = await collect(input.data, input.dataBytes);
    const content = this.contentOf(input, data, input.nowMs ?? this.core.opts.clock());
    const body = input.key.length + input.meta.length + data.length;
    return this.core.stageChunk(
      content,
      insertAllocBytes(this.core.opts.slack, HEADER_BYTES, body, data.length),
    );
  }

  private checkInput(input: PutInput): void {
    if (input.key.length > 0xffff) throw new InvalidInputError('key longer than 65535 bytes');
    if (!Number.isSafeInteger(input.dataBytes) || input.dataBytes < 0) {
      throw new InvalidInputError('dataBytes must be a non-negative integer');
    }
  }

  private contentOf(input: PutInput, data: Buffer, now: number): EntryContent {
    return {
      key: input.key,
      meta: input.meta,
      data,
      opver: input.opver,
      dataCrc: crc32Of(data),
      createdMs: now,
      updatedMs: now,
    };
  }

  private async doPut(input: PutInput): Promise<StoredEntry> {
    this.checkInput(input);
    const now = input.nowMs ?? this.core.opts.clock();
    if (input.dataBytes >= this.core.opts.smallObjectMaxBytes) {
      const release = input.replaces ? await this.core.hold([this.core.resolve(input.replaces)]) : undefined;
      try {
        return await this.putSingle(input, now);
      } finally {
        release?.();
      }
    }
    const data = await collect(input.data, input.dataBytes);
    const content = this.contentOf(input, data, now);
    if (input.replaces) return this.replace(input.replaces, content);
    const body = input.key.length + input.meta.length + data.length;
    return this.core.putChunk(
      content,
      insertAllocBytes(this.core.opts.slack, HEADER_BYTES, body, data.length),
    );
  }

  private async putSingle(input: PutInput, now: number): Promise<StoredEntry> {
    const room = input.dataBytes + input.key.length + input.meta.length + 4096;
    this.core.checkRoom(room);
    // Held while the temp file grows, so concurrent uploads cannot together pass the maximum.
    this.core.inflightBytes += room;
    const id = this.core.nextSingleId++;
    let written: Awaited<ReturnType<typeof writeSinglefile>>;
    try {
      written = await writeSinglefile(
        this.core.opts.disk,
        this.core.dir,
        id,
        { ...input, createdMs: now, updatedMs: now },
        this.core.volumeCrc,
        this.core.opts.durable,
      );
    } finally {
      this.core.inflightBytes -= room;
    }
    const { header, fileBytes } = written;
    this.core.singlefiles += 1;
    this.core.singleBytes += fileBytes;
    this.core.singleDataBytes += input.dataBytes;
    const loc: Location = { kind: 'single', fileId: id, offset: 0, allocBytes: fileBytes };
    if (input.replaces) await this.freeReplaced(input.replaces);
    return storedEntry(loc, header, input.key, input.meta);
  }

  /**
   * Follows a compaction move. While the chunkfile being compacted still exists, the other copy of the
   * entry is marked deleted too, so a crash before that file is retired cannot bring back what the
   * caller deleted or replaced (whichever of the two locations the caller used).
   */
  private async unforward(loc: Location): Promise<Location> {
    const target = this.core.resolve(loc);
    const origin = target !== loc ? loc : this.core.movedFrom.get(locKey(target));
    if (origin && origin.kind === 'chunk') await this.markDeletedOnly(origin);
    return target;
  }

  private async markDeletedOnly(loc: Location): Promise<void> {
    const f = this.core.chunks.get(loc.fileId);
    if (!f || f.retired) return;
    f.beginWrite();
    try {
      await this.core.touch(f, loc.offset);
      const old = await readEntryAt(f.fh, loc, this.core.volumeCrc, false).catch(() => undefined);
      if (!old) return;
      const h = { ...old.header, flags: old.header.flags | ENTRY_FLAGS.deleted };
      await f.fh.write(encodeHeader(h, this.core.volumeCrc), 0, HEADER_BYTES, loc.offset);
      await this.core.committer.commit(f.fh);
    } finally {
      f.endWrite();
    }
  }

  private replace(replaces: Location, content: EntryContent): Promise<StoredEntry> {
    const core = this.core;
    return core.withLock(replaces, async () => {
      const target = await this.unforward(replaces);
      // The old entry's file stays marked changed until it is freed: a crash between the new entry
      // and the delete leaves both to the reopen's scan, which keeps the higher opver.
      const release = await core.hold([target]);
      try {
        return await this.replaceHeld(target, content);
      } finally {
        release();
      }
    });
  }

  private async replaceHeld(target: Location, content: EntryContent): Promise<StoredEntry> {
    const core = this.core;
    const body = content.key.length + content.meta.length + content.data.length;
    const file = target.kind === 'chunk' ? core.chunks.get(target.fileId) : undefined;
    const old =
      file && !file.retired
        ? await readEntryAt(file.fh, target, core.volumeCrc, false).catch(() => undefined)
        : undefined;
    if (file && old) {
      const c = { ...content, createdMs: old.header.createdMs };
      const inPlace = await core.replaceInPlace(file, target, old.header, c);
      if (inPlace) return inPlace;
      const e = await core.putChunk(
        c,
        replaceAllocBytes(core.opts.slack, HEADER_BYTES, body, c.data.length),
        true,
      );
      await core.deleteChunkEntry(file, target, old.header);
      return e;
    }
    const e = await core.putChunk(content, insertAllocBytes(core.opts.slack, HEADER_BYTES, body, body), true);
    await core.deleteAt(target).catch(ignoreGone);
    return e;
  }

  private freeReplaced(replaces: Location): Promise<void> {
    return this.core.withLock(replaces, async () => {
      await this.core.deleteAt(await this.unforward(replaces)).catch(ignoreGone);
    });
  }

  /**
   * Marks the files of these locations changed until `release()`: for a caller that frees them
   * after steps of its own (an index commit), so a crash in between makes the reopen report them
   * in `recovery.changed` instead of leaving them live and unreferenced.
   */
  async protect(locations: readonly Location[]): Promise<() => void> {
    this.checkOpen();
    return this.core.hold(locations.map((l) => this.core.resolve(l)));
  }

  /** Deletes the entry; durable when resolved. Its extent becomes a hole once no read uses it. */
  /**
   * Where an entry written at `location` is now: compaction may have moved it since (followed while the moved
   * file's forwards are held, i.e. while an operation that began before its retirement is still running).
   */
  resolve(location: Location): Location {
    return this.core.forwards.size === 0 ? location : this.core.resolve(location);
  }

  delete(location: Location): Promise<void> {
    this.checkOpen();
    return this.track(
      this.core.withLock(location, async () => {
        await this.core.deleteAt(await this.unforward(location));
      }),
    );
  }

  /** The object's data (or a range of it), checksum-verified. Singlefiles are read whole: use openRead. */
  read(location: Location, range?: ByteRange): Promise<Buffer> {
    this.checkOpen();
    return this.track(this.doRead(location, range));
  }

  private async doRead(location: Location, range?: ByteRange): Promise<Buffer> {
    const core = this.core;
    const target = core.resolve(location);
    if (target.kind === 'single') {
      const parts: Buffer[] = [];
      for await (const p of readSinglefile(core.opts.disk, core.dir, target, core.volumeCrc, range))
        parts.push(p);
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    const file = core.chunkFileOf(target);
    core.beginRead(target);
    try {
      const { data } = await readEntryAt(file.fh, target, core.volumeCrc, true);
      return sliceRange(data!, range);
    } finally {
      core.endRead(target, file);
    }
  }

  /** Streams the data; singlefile blocks are verified one by one before they are emitted. */
  openRead(location: Location, range?: ByteRange): Readable {
    this.checkOpen();
    const target = this.core.resolve(location);
    const core = this.core;
    const self = this;
    async function* gen(): AsyncGenerator<Buffer> {
      if (target.kind === 'single')
        yield* readSinglefile(core.opts.disk, core.dir, target, core.volumeCrc, range);
      else yield await self.doRead(target, range);
    }
    return Readable.from(gen(), { objectMode: false });
  }

  /** Header, key and meta of the entry (key/meta checksum verified; data not read). */
  async readEntry(location: Location): Promise<StoredEntry> {
    this.checkOpen();
    const core = this.core;
    const target = core.resolve(location);
    if (target.kind === 'single') {
      const head = await readSingleHead(core.opts.disk, core.dir, target, core.volumeCrc);
      return storedEntry(target, head.header, head.key, head.meta);
    }
    const file = core.chunkFileOf(target);
    core.beginRead(target);
    try {
      const r = await readEntryAt(file.fh, target, core.volumeCrc, false);
      return storedEntry(target, r.header, r.key, r.meta);
    } finally {
      core.endRead(target, file);
    }
  }

  /** Every live, checksum-valid entry (chunkfiles in file order, then singlefiles): rebuilds an index. */
  async *scan(): AsyncGenerator<StoredEntry> {
    this.checkOpen();
    const core = this.core;
    const files = [...core.chunks.values()].sort((a, b) => a.fileId - b.fileId);
    for (const f of files) {
      if (f.retired) continue;
      f.readers += 1;
      try {
        for await (const r of scanChunkfile(f.fh, f.end, core.volumeCrc, true)) {
          if (r.kind !== 'live') continue;
          const loc: Location = {
            kind: 'chunk',
            fileId: f.fileId,
            offset: r.offset,
            allocBytes: r.header.allocBytes,
          };
          yield storedEntry(loc, r.header, r.key, r.meta);
        }
      } finally {
        f.readers -= 1;
        if (f.retired && f.readers === 0) await f.fh.close().catch(() => undefined);
      }
    }
    const ids = (await core.opts.disk.readdir(core.dir))
      .map((n) => parseFileId(n, FILE_NAMES.singlePrefix, FILE_NAMES.singleSuffix))
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b);
    for (const id of ids) {
      const loc: Location = { kind: 'single', fileId: id, offset: 0, allocBytes: 0 };
      const head = await readSingleHead(core.opts.disk, core.dir, loc, core.volumeCrc).catch(() => undefined);
      if (!head) continue;
      const size = (await core.opts.disk.stat(join(core.dir, singleFileName(id)))).size;
      yield storedEntry({ ...loc, allocBytes: size }, head.header, head.key, head.meta);
    }
  }

  /** Rewrites chunkfiles whose live ratio is below the threshold; emits 'moved' (and calls onMoved). */
  compact(opts: CompactionOptions = {}): Promise<CompactionReport> {
    this.checkOpen();
    if (this.compacting) throw new PackingError('COMPACTION_RUNNING', 'a compaction is already running');
    this.compacting = true;
    return this.track(this.doCompact(opts)).finally(() => {
      this.compacting = false;
    });
  }

  private async doCompact(opts: CompactionOptions): Promise<CompactionReport> {
    const core = this.core;
    const below = opts.liveRatioBelow ?? DEFAULTS.compactLiveRatioBelow;
    const sparse = (f: { liveBytes: number; end: number }) =>
      f.end > HEADER_BYTES && f.liveBytes / (f.end - HEADER_BYTES) < below;
    // A write lane's file that filled at least halfway and is now mostly dead is let go of (the lane
    // starts a new file), so that deletes in the files being appended to are reclaimed too.
    for (const lane of core.lanes) {
      const f = lane.activeFile;
      if (f && f.end >= core.opts.chunkBytes / 2 && sparse(f)) lane.retire();
    }
    const candidates = [...core.chunks.values()].filter(
      (f) => !f.active && !f.compacting && !f.retired && sparse(f),
    );
    const pace = pacer(core.opts.clock, opts.bytesPerSecond);
    let entriesMoved = 0;
    let bytesMoved = 0;
    let bytesFreed = 0;
    let filesDone = 0;
    for (const f of candidates) f.compactionQueued = true;
    try {
      for (const f of candidates) {
        if (this.closed || opts.shouldStop?.()) break;
        // A file retired or taken meanwhile (nothing else compacts, but be sure) is skipped.
        if (f.retired || f.compacting) continue;
        bytesFreed += f.end;
        const r = await compactFile(core, f, {
          emit: async (m) => {
            this.emit('moved', m);
            await core.opts.onMoved?.(m);
          },
          pace,
          ...(opts.beforeRetire ? { beforeRetire: opts.beforeRetire } : {}),
        });
        this.dropForwardsWhenUnused(r.forwards);
        entriesMoved += r.entries;
        bytesMoved += r.bytes;
        filesDone += 1;
        opts.onProgress?.({ filesDone, filesTotal: candidates.length, entriesMoved, bytesMoved });
      }
    } finally {
      for (const f of candidates) f.compactionQueued = false;
    }
    return {
      filesDone,
      filesTotal: candidates.length,
      entriesMoved,
      bytesMoved,
      bytesReclaimed: bytesFreed - bytesMoved,
    };
  }

  /**
   * Forgets the forwards out of a retired chunkfile once the caller says nothing of its own can still name
   * their old locations (`forwardsUnused`) and every operation of this volume in progress now (which may
   * have resolved one, e.g. a put whose new entry was moved before it returned) has ended.
   */
  private dropForwardsWhenUnused(keys: string[]): void {
    const unused = this.core.opts.forwardsUnused;
    if (!unused || keys.length === 0) return;
    const inProgress = [...this.inflight];
    const drop = Promise.all([unused(), Promise.allSettled(inProgress)])
      .then(() => {
        for (const k of keys) this.core.forwards.delete(k);
      })
      // A caller that cannot tell: keep them (they go when the volume is reopened).
      .catch(() => undefined)
      .finally(() => this.forwardDrops.delete(drop));
    this.forwardDrops.add(drop);
  }

  /** Forwards held now (old location → copy of a moved entry): bounded by what callers still use. */
  get forwardsHeld(): number {
    return this.core.forwards.size;
  }

  /** Resolves once every drop of forwards scheduled so far has happened (tests, close). */
  async forwardsSettled(): Promise<void> {
    while (this.forwardDrops.size > 0) await Promise.all(this.forwardDrops);
  }

  stats(): VolumeStats {
    const core = this.core;
    let liveEntries = core.singlefiles;
    let liveBytes = core.singleBytes;
    let liveDataBytes = core.singleDataBytes;
    let deadBytes = 0;
    let chunkBytes = 0;
    for (const f of core.chunks.values()) {
      liveEntries += f.liveEntries;
      liveBytes += f.liveBytes;
      liveDataBytes += f.liveDataBytes;
      deadBytes += f.deadBytes;
      chunkBytes += f.end;
    }
    return {
      volumeId: core.sb.volumeId,
      liveEntries,
      liveBytes,
      liveDataBytes,
      holeBytes: core.free.bytes,
      holeCount: core.free.count,
      deadBytes,
      chunkfiles: core.chunks.size,
      singlefiles: core.singlefiles,
      diskBytes: chunkBytes + core.singleBytes,
      fragmentation: chunkBytes > 0 ? core.free.bytes / chunkBytes : 0,
      maxBytes: core.sb.maxBytes,
      reservedFreeBytes: core.sb.reservedFreeBytes,
    };
  }

  /**
   * Takes a checkpoint (checkpoint.ts): reopening after a crash then reads only the chunkfiles and
   * tails changed since. `beforeInstall` runs after the snapshot and before the checkpoint replaces
   * the previous one: a caller makes durable there whatever must be durable for every write the
   * snapshot covers (storage: their binlog records).
   */
  checkpoint(opts: CheckpointOptions = {}): Promise<{ generation: number; listed: number }> {
    this.checkOpen();
    this.checkpointing ??= this.track(takeCheckpoint(this.core, opts)).finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  /**
   * Closes the file handles without syncing or writing the summary: what a kill -9 leaves when the page
   * cache survives. For tests of the recovery scan.
   */
  async closeUnclean(): Promise<void> {
    this.closed = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.core.journal.close();
    for (const f of this.core.chunks.values()) await f.fh.close();
  }

  /** Waits for operations in flight, makes everything durable and writes a complete checkpoint (clean close). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    const core = this.core;
    for (const lane of core.lanes) lane.retire();
    const chunks = [...core.chunks.values()].sort((a, b) => a.fileId - b.fileId);
    if (core.opts.durable) for (const f of chunks) await f.fh.datasync();
    await takeCheckpoint(core, { complete: true });
    await core.journal.close();
    for (const f of chunks) await f.fh.close();
  }
}
