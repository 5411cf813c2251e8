// The storage node: volumes + the LMDB index + the binlog, behind StorageApi.
//
// Entry keys in the volumes (keys.ts EntryKind): 'O'+objectKey (object: inline data, or a manifest
// for blob/multipart bodies), 'B'+blobId (a large body, written before its manifest because its
// ETag is known only after streaming), 'U'+uploadId (upload marker), 'P'+uploadId+partNumber.
// The volume is the truth: every index row is derivable from entry keys, metas, opvers and
// locations (rebuild.ts). After an unclean stop, recovery (recovery.ts) settles what changed since
// the checkpoints (checkpoints.ts), or rebuilds the index from the volumes, and reconciles the
// binlog with it (binlog-reconcile.ts); old versions are freed last, or later if a pinned read
// still uses them (protected first, so a crash before the free leaves them to recovery).
//
// An object write (commitStaged) starts three things at once and acknowledges when all are done:
// the 'O' entry's group commit in the volume, the binlog record's fsync, and the index commit of
// the new row plus (indexSync 'ack') its flush. The row is committed as soon as the entry's bytes
// are written and its location is known, before the volume has synced them. Why that is safe:
//   - A machine crash before the volume sync may leave a flushed row pointing at an entry that is
//     not on disk: after one (index-guard.ts sees another boot) recovery rebuilds the index from
//     the volumes, so such a row is never read. A process crash (kill -9) keeps every written
//     byte; recovery checks each key written since the checkpoints against the volume anyway.
//     The write was not acknowledged, so losing it is allowed.
//   - While the three are in flight, readers (GET, HEAD, LIST) keep seeing the previous row
//     through ObjectRows' shadow, so nobody observes a version a crash could still take back.
//     The key's lock keeps other writers of the key out until the write is finished.
//   - If the volume sync fails, the previous row is committed back before the shadow goes and
//     the durable record (if any) is voided; if the record fails, the entry is freed. Either way
//     nothing is acknowledged and readers never saw the new row.
//   - The ack still waits for `flushed`, so an acknowledged write's row is on disk ('ack').
// Multipart completes and versions with part rows use the serial order (entry and record
// durable, then the index). A delete makes its binlog record durable first, then removes the
// entry from the volume (or, when a read pins it, writes a tombstone entry that outranks it), then
// commits the index.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type {
  BodyFinish,
  CopyDestination,
  CopySource,
  DroppedBucket,
  ListedObject,
  ListedUpload,
  ListPartsResult,
  NodeStats,
  ObjectRecord,
  Opver,
  PutObjectInput,
  ReadHandle,
  StorageApi,
  StoredHeaders,
  UploadPartCopyInput,
  UploadPartInput,
  WriteCondition,
} from './api.ts';
import { Binlog, type BinlogOp, type BinlogTicket } from './binlog.ts';
import { CHECKPOINT_KEY, loadCheckpoint } from './binlog-reconcile.ts';
import { collectBody, exactly, md5Tee, stripQuotes } from './body.ts';
import { dropBucket } from './bucket-purge.ts';
import { Checkpoints } from './checkpoints.ts';
import { writeCheckpointFile } from './durable-file.ts';
import { NoSuchKeyError, PreconditionFailedError, StorageFullError } from './errors.ts';
import { NodeIndex } from './index-db.ts';
import { guardIndexClosed, guardIndexOpen } from './index-guard.ts';
import {
  boundMarker,
  bucketPrefix,
  EntryKind,
  entryKey,
  OBJECT_KEY_BYTES_MAX,
  objectKey,
  prefixEnd,
  successor,
} from './keys.ts';
import { KeyedLock } from './locks.ts';
import { Multipart } from './multipart.ts';
import { ObjectRows } from './object-rows.ts';
import { openSegments, type Segment } from './reading.ts';
import {
  type BinlogCheckpoint,
  compareOpver,
  decodeObjectSummary,
  decodeObjectValue,
  decodePartValue,
  type EntryMeta,
  encodeCheckpoint,
  encodeEntryMeta,
  encodeObjectValue,
  encodePartValue,
  encodePendingValue,
  type ObjectMeta,
  type ObjectValue,
  objectValueFromEntryMeta,
  type PendingValue,
  type VolLoc,
} from './records.ts';
import { type RecoveryReport, recoverNode } from './recovery.ts';
import {
  type EntryMoved,
  isVolumeFull,
  type StoredEntry,
  type VolumeOpener,
  type VolumePort,
  type VolumeSpec,
} from './volume-port.ts';

export interface StorageNodeOptions {
  dataDir: string;
  nodeId: number;
  volumes: VolumeSpec[];
  /** How volumes are opened; default: packing's Volume. */
  volumeOpener?: VolumeOpener;
  /** Bodies up to this size are inline entries; larger ones are blobs (singlefiles). */
  smallObjectMaxBytes?: number;
  /** S3's 5 MiB minimum for every part but the last; lowered in tests. */
  minPartBytes?: number;
  /** 'none' skips fsyncs of the index and binlog: tests and benchmarks only. */
  durability?: 'fsync' | 'none';
  /**
   * 'ack' (default, what DESIGN.md requires): an object write is acknowledged only when its volume
   * entry and binlog record are durable AND its index commit is flushed to disk. 'background': the
   * index flushes on its own (it is rebuilt from the volumes after an unclean stop, and a machine
   * crash is detected by index-guard.ts) — faster, for operators who accept a rebuild after a crash.
   */
  indexSync?: 'background' | 'ack';
  binlogMaxFileBytes?: number;
  /** Recorded ops between two checkpoints of volumes, index and binlog (checkpoints.ts); default 20,000. */
  checkpointEveryOps?: number;
  /** Random source for upload and blob ids. */
  random?: (bytes: number) => Buffer;
}

interface Pinned {
  count: number;
  deferred?: PendingValue;
}

/** Object commits between two binlog checkpoints written to the index. */
const CHECKPOINT_EVERY = 1024;
/** Recorded ops between two node checkpoints (checkpoints.ts): bounds what a reopen after a crash reads. */
const CHECKPOINT_EVERY_OPS = 20_000;

export const locKey = (v: VolLoc) =>
  `${v.volumeId}\0${v.location.kind}\0${v.location.fileId}\0${v.location.offset}`;

export class StorageNode implements StorageApi {
  /** @internal */ readonly locks = new KeyedLock();
  /** @internal */ counter = 0n;
  private readonly pins = new Map<string, Pinned>();
  /** Opver counters of ops whose binlog record is not durable yet (for the checkpoint). */
  private readonly unrecorded = new Set<bigint>();
  private commitsSinceCheckpoint = 0;
  /** @internal */ readonly multipart: Multipart;
  /** @internal */ readonly smallObjectMaxBytes: number;
  /** @internal */ readonly rows: ObjectRows;
  /** What recovery did at open (logged by the caller). */
  recovery: RecoveryReport | undefined;
  /** @internal */ readonly checkpoints: Checkpoints;

  private constructor(
    /** @internal */ readonly opts: StorageNodeOptions,
    /** @internal */ readonly index: NodeIndex,
    /** @internal */ readonly binlog: Binlog,
    /** @internal */ readonly volumes: Map<string, VolumePort>,
  ) {
    this.smallObjectMaxBytes = opts.smallObjectMaxBytes ?? 1024 * 1024;
    this.rows = new ObjectRows(index);
    this.multipart = new Multipart(this, opts.minPartBytes ?? 5 * 1024 * 1024);
    this.checkpoints = new Checkpoints(
      {
        volumes,
        unrecorded: () => this.unrecorded,
        writeIndexCheckpoint: async () => {
          const cp = this.checkpoint();
          await this.index.write(() => this.index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(cp)));
          // Also beside the index: a lost index must not send recovery before the removed segments.
          await writeCheckpointFile(opts.dataDir, cp);
          return cp;
        },
        pruneBinlog: (floor) => this.binlog.prune(floor),
        // A failed checkpoint leaves the previous one in force: recovery reads more, nothing is lost.
        onError: () => undefined,
      },
      opts.checkpointEveryOps ?? CHECKPOINT_EVERY_OPS,
    );
  }

  static async open(opts: StorageNodeOptions): Promise<StorageNode> {
    await mkdir(opts.dataDir, { recursive: true });
    const opener = opts.volumeOpener ?? (await import('./packing-opener.ts')).packingOpener;
    const specs = opts.volumes.map((s) => ({ ...s, volumeId: s.volumeId ?? basename(s.dir) }));
    await writeNodeFile(opts.dataDir, opts.nodeId, specs);
    const moved = new MovedRouter();
    const volumes = new Map<string, VolumePort>();
    for (const spec of specs) {
      const hooks = {
        durability: opts.durability ?? 'fsync',
        onMoved: (m: EntryMoved) => moved.route(spec.volumeId, m),
      };
      volumes.set(spec.volumeId, await opener.openOrCreate(spec, opts.nodeId, hooks));
    }
    const sync = indexSyncMode(opts);
    const guard = await guardIndexOpen(opts.dataDir, join(opts.dataDir, 'index'), sync);
    const { index, fresh } = await openIndex(join(opts.dataDir, 'index'), sync);
    const binlog = await Binlog.open({
      dir: join(opts.dataDir, 'binlog'),
      validUpTo: await loadCheckpoint(index, opts.dataDir),
      durability: opts.durability ?? 'fsync',
      maxFileBytes: opts.binlogMaxFileBytes,
    });
    const node = new StorageNode(opts, index, binlog, volumes);
    node.recovery = await recoverNode(node, {
      movedBeforeOpen: moved.movedBeforeReady,
      indexFresh: fresh || guard.discarded,
      sameBoot: guard.sameBoot,
      indexFlushed: sync === 'flush',
    });
    moved.node = node;
    return node;
  }

  /** Everything before the confirmed binlog position is settled; every op up to `counter` recorded. */
  private checkpoint(): BinlogCheckpoint {
    let counter = this.counter;
    for (const c of this.unrecorded) if (c <= counter) counter = c - 1n;
    const at = this.binlog.confirmed;
    return { file: at.file, offset: at.offset, counter };
  }

  /** Inside an index transaction. */
  private putCheckpoint(): void {
    this.index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(this.checkpoint()));
  }

  /** Sets or deletes an object row (see ObjectRows); waits for the LMDB flush unless indexSync is 'background'. */
  private async writeRow(okey: Buffer, row: Buffer | null, alsoInTxn: () => void): Promise<void> {
    const landed = this.rows.write(okey, row, alsoInTxn);
    if (this.opts.indexSync !== 'background') {
      await landed;
      await this.index.env.flushed;
    } else landed.catch(() => undefined);
  }

  // ---- opver, volumes, pins ----

  /** @internal */ nextOpver(floor?: Opver): Opver {
    if (floor && floor.counter > this.counter) this.counter = floor.counter;
    this.counter++;
    return { counter: this.counter, nodeId: this.opts.nodeId };
  }

  /** An opver whose op will get a binlog record: tracked until `recorded` (binlog checkpoint). @internal */
  nextRecordedOpver(floor?: Opver): Opver {
    const o = this.nextOpver(floor);
    this.unrecorded.add(o.counter);
    return o;
  }

  /** @internal */ recorded(o: Opver): void {
    if (this.unrecorded.delete(o.counter)) this.checkpoints.recorded(o.counter);
  }

  /** @internal */ volume(id: string): VolumePort {
    const v = this.volumes.get(id);
    if (!v) throw new Error(`unknown volume ${id}`);
    return v;
  }

  /** Volumes ordered by free space (most first), only those with room for `bytes`. */
  private candidates(bytes: number): string[] {
    const rows: Array<[string, number]> = [];
    for (const [id, v] of this.volumes) {
      const free = freeBytes(v);
      if (free >= bytes) rows.push([id, free]);
    }
    return rows.sort((a, b) => b[1] - a[1]).map((r) => r[0]);
  }

  /**
   * Writes one entry on the roomiest volume (trying the next on VolumeFull when the data is a
   * Buffer). `replace`: the current version; reused as `replaces` when it lies on the chosen volume.
   * @internal
   */
  async putEntry(
    key: Buffer,
    meta: EntryMeta | Buffer,
    opver: Opver,
    data: Buffer | AsyncIterable<Buffer>,
    dataBytes: number,
    nowMs: number | undefined,
    replace?: VolLoc,
    staged = false,
  ): Promise<{ at: VolLoc; replaced: boolean; durable: Promise<void> }> {
    const metaBuf = Buffer.isBuffer(meta) ? meta : encodeEntryMeta(meta);
    let ids = this.candidates(dataBytes + metaBuf.length + key.length);
    if (replace && ids.includes(replace.volumeId) && !this.isPinned(replace)) {
      ids = [replace.volumeId, ...ids.filter((i) => i !== replace.volumeId)];
    }
    for (const id of ids) {
      const replaces = replace?.volumeId === id && !this.isPinned(replace) ? replace.location : undefined;
      try {
        const vol = this.volume(id);
        const input = { key, meta: metaBuf, opver, data, dataBytes, replaces, nowMs };
        let e: StoredEntry;
        let durable = RESOLVED;
        if (staged && vol.putStaged) ({ entry: e, durable } = await vol.putStaged(input));
        else e = await vol.put(input);
        return { at: { volumeId: id, location: e.location }, replaced: replaces !== undefined, durable };
      } catch (err) {
        if (!isVolumeFull(err) || !Buffer.isBuffer(data))
          throw isVolumeFull(err) ? new StorageFullError() : err;
      }
    }
    throw new StorageFullError();
  }

  private isPinned(v: VolLoc): boolean {
    return (this.pins.get(locKey(v))?.count ?? 0) > 0;
  }

  /** Splits locations to free into those deletable now and those a pinned read still uses. @internal */
  splitPinned(locs: VolLoc[]): { now: VolLoc[]; later: VolLoc[] } {
    const now: VolLoc[] = [];
    const later: VolLoc[] = [];
    for (const l of locs) (this.isPinned(l) ? later : now).push(l);
    return { now, later };
  }

  /**
   * Hands locations a pinned read still uses to their pins (freed on release) and returns the
   * pending rows to write in the same index transaction; a location whose pins went away meanwhile
   * is returned in `free` instead (its tombstone, if any, right after it). @internal
   */
  deferPinned(
    later: VolLoc[],
    tombstone?: { of: VolLoc; at: VolLoc },
  ): { rows: Array<[Buffer, Buffer]>; free: VolLoc[] } {
    const rows: Array<[Buffer, Buffer]> = [];
    const free: VolLoc[] = [];
    for (const l of later) {
      const v: PendingValue = { at: l };
      if (tombstone && tombstone.of === l) v.tombstone = tombstone.at;
      const pin = this.pins.get(locKey(l));
      if (!pin) {
        free.push(l);
        if (v.tombstone) free.push(v.tombstone);
        continue;
      }
      pin.deferred = v;
      rows.push([Buffer.from(locKey(l)), encodePendingValue(v)]);
    }
    return { rows, free };
  }

  /** Inside an index transaction. @internal */
  putPending(rows: Array<[Buffer, Buffer]>): void {
    for (const [k, v] of rows) this.index.pending.put(k, v);
  }

  /**
   * Before an index commit after which these locations are freed: a crash in between leaves them
   * to recovery's look at what changed (recovery.ts). Release after the frees. @internal
   */
  async protect(locs: VolLoc[]): Promise<() => void> {
    const releases: Array<() => void> = [];
    const release = () => {
      for (const r of releases.splice(0)) r();
    };
    try {
      for (const [id, v] of this.volumes) {
        const mine = locs.filter((l) => l.volumeId === id).map((l) => l.location);
        if (mine.length > 0 && v.protect) releases.push(await v.protect(mine));
      }
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** @internal */ async freeNow(locs: VolLoc[]): Promise<void> {
    for (const l of locs) await this.deleteFromVolume(l, false);
  }

  private async deleteFromVolume(l: VolLoc, tolerant: boolean): Promise<void> {
    try {
      await this.volume(l.volumeId).delete(l.location);
    } catch (err) {
      if (!tolerant) throw err;
    }
  }

  private pin(segs: Segment[]): () => void {
    const keys = segs.map((s) => locKey(s.at));
    for (const k of keys) {
      const p = this.pins.get(k);
      if (p) p.count++;
      else this.pins.set(k, { count: 1 });
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const k of keys) {
        const p = this.pins.get(k)!;
        if (--p.count > 0) continue;
        this.pins.delete(k);
        if (p.deferred) void this.finishDeferred(k, p.deferred);
      }
    };
  }

  private async finishDeferred(k: string, v: PendingValue): Promise<void> {
    await this.finishPending(v);
    await this.index.write(() => this.index.pending.remove(Buffer.from(k)));
  }

  /** The entry first, its tombstone only after: a crash in between cannot resurrect the entry. */
  private async finishPending(v: PendingValue): Promise<void> {
    await this.deleteFromVolume(v.at, true);
    if (v.tombstone) await this.deleteFromVolume(v.tombstone, true);
  }

  // ---- objects ----

  /** @internal */ currentObject(okey: Buffer): ObjectValue | undefined {
    const v = this.rows.get(okey);
    return v ? decodeObjectValue(v) : undefined;
  }

  /** Everything a version occupies besides its 'O' entry, plus the part rows to drop. @internal */
  bodyLocations(v: ObjectValue): { locs: VolLoc[]; partKeys: Buffer[] } {
    if (v.body.kind === 'inline') return { locs: [], partKeys: [] };
    if (v.body.kind === 'blob') return { locs: v.blobAt ? [v.blobAt] : [], partKeys: [] };
    const locs: VolLoc[] = [];
    const partKeys: Buffer[] = [];
    for (const p of v.body.parts) {
      const pk = this.multipart.partRowKey(v.body.uploadId, p.partNumber);
      const row = this.index.get(this.index.parts, pk);
      if (!row) continue;
      const pv = decodePartValue(row);
      locs.push(pv.at);
      if (pv.blobAt) locs.push(pv.blobAt);
      partKeys.push(pk);
    }
    return { locs, partKeys };
  }

  async putObject(input: PutObjectInput): Promise<ObjectRecord> {
    const okey = objectKey(input.bucket, input.key);
    if (input.size <= this.smallObjectMaxBytes) {
      const data = await collectBody(input.body, input.size);
      const fin = await input.finish();
      return this.commitObject(
        input.bucket,
        input.key,
        okey,
        objectMeta(input, fin, { kind: 'inline' }),
        data,
        input.nowMs,
        input.condition,
      );
    }
    const blobId = this.random(16);
    const bkey = entryKey(EntryKind.blob, blobId);
    const body = exactly(input.body, input.size);
    const { at } = await this.putEntry(
      bkey,
      { kind: 'blob', owner: { table: 'objects', key: okey } },
      this.nextOpver(),
      body,
      input.size,
      input.nowMs,
    );
    let fin: BodyFinish;
    try {
      fin = await input.finish();
    } catch (err) {
      await this.freeNow([at]);
      throw err;
    }
    const meta = objectMeta(input, fin, { kind: 'blob', blobId });
    try {
      return await this.commitObject(
        input.bucket,
        input.key,
        okey,
        meta,
        Buffer.alloc(0),
        input.nowMs,
        input.condition,
        at,
      );
    } catch (err) {
      await this.freeNow([at]);
      throw err;
    }
  }

  /**
   * The atomic step of every object write: under the key's lock check the condition, write the
   * 'O' entry and the binlog record at once, commit the index, settle the record, then free the
   * old version. @internal
   */
  async commitObject(
    bucket: string,
    key: Buffer,
    okey: Buffer,
    meta: ObjectMeta,
    data: Buffer,
    nowMs: number,
    condition: WriteCondition | undefined,
    blobAt?: VolLoc,
    extra?: { inTxn: () => void; freeAfter: VolLoc[]; uploadId: string },
  ): Promise<ObjectRecord> {
    return this.locks.run(okey.toString('latin1'), async () => {
      const cur = this.currentObject(okey);
      checkCondition(cur, condition);
      const opver = this.nextRecordedOpver(cur?.opver);
      const op: BinlogOp = extra ? 'upload-complete' : cur ? 'replace' : 'insert';
      const rec = { op, bucket, key, opver, size: meta.size, uploadId: extra?.uploadId };
      const ticket = this.binlog.begin(rec);
      const entry = encodeEntryMeta({ kind: 'object', meta });
      const ekey = entryKey(EntryKind.object, okey);
      const old = cur ? this.bodyLocations(cur) : { locs: [], partKeys: [] };
      const checkpoint = ++this.commitsSinceCheckpoint >= CHECKPOINT_EVERY;
      if (checkpoint) this.commitsSinceCheckpoint = 0;
      let at: VolLoc;
      let replaced: boolean;
      let deferred: { rows: Array<[Buffer, Buffer]>; free: VolLoc[] };
      let now: VolLoc[];
      const toFree = [...(cur ? [cur.at] : []), ...old.locs, ...(extra?.freeAfter ?? [])];
      let release = () => {};
      if (!extra && old.partKeys.length === 0) {
        ({ at, replaced, release } = await this.commitStaged(
          okey,
          ekey,
          entry,
          opver,
          data,
          nowMs,
          cur?.at,
          ticket,
          () => {
            this.index.putCounter(this.counter);
            if (checkpoint) this.putCheckpoint();
          },
          blobAt,
          toFree,
        ));
        if (cur && !replaced) old.locs.unshift(cur.at);
        const split = this.splitPinned(old.locs);
        now = split.now;
        deferred = this.deferPinned(split.later);
        if (deferred.rows.length > 0) await this.index.write(() => this.putPending(deferred.rows));
      } else {
        const put = this.putEntry(ekey, entry, opver, data, data.length, nowMs, cur?.at);
        ({ at, replaced } = await this.bothDurable(put, ticket, opver));
        release = await this.protect(toFree);
        if (cur && !replaced) old.locs.unshift(cur.at);
        const split = this.splitPinned(old.locs);
        now = split.now;
        deferred = this.deferPinned(split.later);
        try {
          await this.writeRow(okey, objectValueFromEntryMeta(entry, opver, at, blobAt), () => {
            for (const pk of old.partKeys) this.index.parts.remove(pk);
            this.putPending(deferred.rows);
            extra?.inTxn();
            this.index.putCounter(this.counter);
            if (checkpoint) this.putCheckpoint();
          });
        } catch (err) {
          release();
          throw err;
        } finally {
          // Volume entry and record are durable: the record is true whatever the index did.
          this.binlog.settle(ticket);
        }
      }
      try {
        await this.freeNow([...now, ...deferred.free, ...(extra?.freeAfter ?? [])]);
      } finally {
        release();
      }
      return toRecord(bucket, key, meta, opver);
    });
  }

  /**
   * Writes the 'O' entry, and as soon as its location is known (bytes written, not yet synced)
   * commits its index row hidden behind the previous one (readers see the old row), so the index
   * commit and its flush overlap the volume's group commit and the binlog record's fsync. Returns
   * once all three are done, with the new row revealed. See the header for why this is safe.
   */
  private async commitStaged(
    okey: Buffer,
    ekey: Buffer,
    entry: Buffer,
    opver: Opver,
    data: Buffer,
    nowMs: number,
    curAt: VolLoc | undefined,
    ticket: BinlogTicket,
    inTxn: () => void,
    blobAt: VolLoc | undefined,
    toFree: VolLoc[],
  ): Promise<{ at: VolLoc; replaced: boolean; release: () => void }> {
    let put: Awaited<ReturnType<StorageNode['putEntry']>>;
    let release: () => void;
    try {
      put = await this.putEntry(ekey, entry, opver, data, data.length, nowMs, curAt, true);
      release = await this.protect(toFree);
    } catch (err) {
      await this.bothDurable(Promise.reject(err), ticket, opver);
      throw err;
    }
    const hidden = this.rows.writeHidden(okey, objectValueFromEntryMeta(entry, opver, put.at, blobAt), inTxn);
    let indexDone: Promise<unknown> | undefined;
    if (this.opts.indexSync !== 'background') indexDone = hidden.landed.then(() => this.index.env.flushed);
    else hidden.landed.catch(() => undefined);
    const [v, t, i] = await Promise.allSettled([put.durable, ticket.durable, indexDone]);
    this.recorded(opver);
    if (v.status === 'fulfilled' && t.status === 'fulfilled') {
      // Volume entry and record are durable: the record is true whatever the index did.
      this.binlog.settle(ticket);
      hidden.reveal();
      if (i.status === 'rejected') {
        release();
        throw i.reason;
      }
      return { ...put, release };
    }
    // The new row must not outlive this failure: put the previous one back (readers never saw it).
    release();
    await this.writeRow(okey, hidden.previous, () => undefined);
    hidden.reveal();
    if (v.status === 'fulfilled') {
      await this.freeNow([put.at]).catch(() => undefined);
      throw (t as PromiseRejectedResult).reason;
    }
    if (t.status === 'fulfilled') await this.binlog.voidRecord(ticket);
    throw v.reason;
  }

  /**
   * Waits for a volume put and its binlog record, written at the same time. If the put fails the
   * durable record is voided; if the record fails the entry is freed. Either way nothing is acked.
   */
  private async bothDurable<T extends { at: VolLoc }>(
    put: Promise<T>,
    ticket: BinlogTicket,
    opver: Opver,
  ): Promise<T> {
    const [p, t] = await Promise.allSettled([put, ticket.durable]);
    this.recorded(opver);
    if (p.status === 'fulfilled' && t.status === 'fulfilled') return p.value;
    if (p.status === 'fulfilled') {
      await this.freeNow([p.value.at]).catch(() => undefined);
      throw (t as PromiseRejectedResult).reason;
    }
    if (t.status === 'fulfilled') await this.binlog.voidRecord(ticket);
    throw p.reason;
  }

  async headObject(bucket: string, key: Buffer): Promise<ObjectRecord | undefined> {
    const v = this.currentObject(objectKey(bucket, key));
    return v ? toRecord(bucket, key, v, v.opver) : undefined;
  }

  async openObject(bucket: string, key: Buffer): Promise<ReadHandle | undefined> {
    const v = this.currentObject(objectKey(bucket, key));
    if (!v) return undefined;
    const segs = this.segments(v);
    const release = this.pin(segs);
    return {
      record: toRecord(bucket, key, v, v.opver),
      stream: (range) => openSegments(this, segs, v.size, range),
      release,
    };
  }

  /** Where the bytes of a version are, in order. @internal */
  segments(v: ObjectValue): Segment[] {
    if (v.body.kind === 'inline') return [{ at: v.at, size: v.size }];
    if (v.body.kind === 'blob') return [{ at: v.blobAt!, size: v.size }];
    return v.body.parts.map((p) => {
      const row = this.index.get(
        this.index.parts,
        this.multipart.partRowKey((v.body as { uploadId: string }).uploadId, p.partNumber),
      );
      if (!row) throw new Error('multipart object lost a part row');
      const pv = decodePartValue(row);
      return { at: pv.blobAt ?? pv.at, size: p.size };
    });
  }

  async deleteObject(bucket: string, key: Buffer): Promise<boolean> {
    const okey = objectKey(bucket, key);
    return this.locks.run(okey.toString('latin1'), async () => {
      const cur = this.currentObject(okey);
      if (!cur) return false;
      const opver = this.nextOpver(cur.opver);
      const old = this.bodyLocations(cur);
      const { now, later } = this.splitPinned([cur.at, ...old.locs]);
      // Record first: a crash after it but before the volume change leaves a record recovery voids;
      // the other order could delete the object here and never tell the mirrors.
      const ticket = this.binlog.begin({ op: 'delete', bucket, key, opver, size: cur.size });
      await ticket.durable;
      let tombstone: { of: VolLoc; at: VolLoc } | undefined;
      let touched = false;
      try {
        // The volume is the truth: the entry goes (or is outranked by a tombstone) before the ack,
        // so neither a crash nor a lost index can resurrect an acknowledged delete.
        if (later.includes(cur.at)) {
          const ekey = entryKey(EntryKind.object, okey);
          const t = await this.putEntry(ekey, { kind: 'tombstone' }, opver, EMPTY, 0, undefined);
          tombstone = { of: cur.at, at: t.at };
        }
        touched = true;
        await this.freeNow(now);
      } catch (err) {
        // Untouched volume: the record describes nothing. Otherwise leave it to a rebuild's reconcile.
        if (touched) this.binlog.settle(ticket);
        else await this.binlog.voidRecord(ticket);
        throw err;
      }
      const deferred = this.deferPinned(later, tombstone);
      const release = await this.protect(deferred.free);
      try {
        await this.writeRow(okey, null, () => {
          for (const pk of old.partKeys) this.index.parts.remove(pk);
          this.putPending(deferred.rows);
          this.index.putCounter(this.counter);
        });
      } finally {
        this.binlog.settle(ticket);
      }
      try {
        await this.freeNow(deferred.free);
      } finally {
        release();
      }
      return true;
    });
  }

  async copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    const h = await this.openObject(src.bucket, src.key);
    if (!h) throw new NoSuchKeyError();
    try {
      const r = h.record;
      const size = src.range ? src.range.end - src.range.start + 1 : r.size;
      const tee = md5Tee(h.stream(src.range));
      const whole = !src.range && r.checksumType !== 'COMPOSITE';
      return await this.putObject({
        bucket: dst.bucket,
        key: dst.key,
        size,
        body: tee.body,
        headers: dst.headers ?? r.headers,
        nowMs: dst.nowMs,
        condition: dst.condition,
        finish: async () => ({ etag: tee.etag(), checksums: whole ? r.checksums : {} }),
      });
    } finally {
      h.release();
    }
  }

  async listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    // No key is longer than OBJECT_KEY_BYTES_MAX: a longer prefix matches nothing, a longer marker is cut.
    if (opts.limit <= 0 || opts.prefix.length > OBJECT_KEY_BYTES_MAX) return out;
    const lo = objectKey(bucket, opts.prefix);
    const after = opts.after && boundMarker(opts.after, OBJECT_KEY_BYTES_MAX);
    const afterKey = after ? successor(objectKey(bucket, after)) : undefined;
    const start = afterKey && Buffer.compare(afterKey, lo) > 0 ? afterKey : lo;
    const end = prefixEnd(lo);
    const head = bucketPrefix(bucket).length;
    for (const { key, value } of this.rows.range(start, end, opts.limit)) {
      const v = decodeObjectSummary(value);
      out.push({
        key: Buffer.from(key.subarray(head)),
        size: v.size,
        etag: v.etag,
        lastModifiedMs: v.lastModifiedMs,
      });
    }
    return out;
  }

  async hasObjects(bucket: string): Promise<boolean> {
    const lo = bucketPrefix(bucket);
    for (const _ of this.rows.range(lo, prefixEnd(lo), 1)) return true;
    return false;
  }

  dropBucket(bucket: string): Promise<DroppedBucket> {
    return dropBucket(this, bucket);
  }

  // ---- multipart (multipart.ts) ----

  createUpload(...a: Parameters<Multipart['create']>): Promise<string> {
    return this.multipart.create(...a);
  }
  uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    return this.multipart.uploadPart(input);
  }
  async uploadPartCopy(input: UploadPartCopyInput): Promise<BodyFinish> {
    const h = await this.openObject(input.src.bucket, input.src.key);
    if (!h) throw new NoSuchKeyError();
    try {
      const r = input.src.range;
      const size = r ? r.end - r.start + 1 : h.record.size;
      const tee = md5Tee(h.stream(r));
      const { src: _src, ...rest } = input;
      return await this.multipart.uploadPart({
        ...rest,
        size,
        body: tee.body,
        finish: async () => ({ etag: tee.etag(), checksums: {} }),
      });
    } finally {
      h.release();
    }
  }
  completeUpload(...a: Parameters<Multipart['complete']>): Promise<ObjectRecord> {
    return this.multipart.complete(...a);
  }
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    return this.multipart.abort(bucket, key, uploadId);
  }
  listParts(...a: Parameters<Multipart['listParts']>): Promise<ListPartsResult> {
    return this.multipart.listParts(...a);
  }
  listUploads(...a: Parameters<Multipart['listUploads']>): Promise<ListedUpload[]> {
    return this.multipart.listUploads(...a);
  }
  /** Aborts uploads initiated before `nowMs - maxAgeMs`, freeing their space; returns how many. */
  expireUploads(nowMs: number, maxAgeMs: number): Promise<number> {
    return this.multipart.expire(nowMs, maxAgeMs);
  }

  // ---- node ----

  /** @internal */ random(n: number): Buffer {
    return (this.opts.random ?? randomBytes)(n);
  }

  async stats(): Promise<NodeStats> {
    const volumes = [...this.volumes.values()].map((v) => {
      const s = v.stats();
      const free = freeBytes(v);
      return {
        volumeId: s.volumeId,
        liveBytes: s.liveBytes,
        holeBytes: s.holeBytes,
        diskBytes: s.diskBytes,
        liveEntries: s.liveEntries,
        freeBytes: free,
        full: free <= 0,
      };
    });
    return {
      nodeId: this.opts.nodeId,
      volumes,
      objects: this.index.objects.getCount(),
      uploads: this.index.uploads.getCount(),
    };
  }

  async close(): Promise<void> {
    await this.checkpoints.close();
    await this.rows.settle();
    await this.binlog.close();
    for (const v of this.volumes.values()) await v.close();
    await writeCheckpointFile(this.opts.dataDir, this.checkpoint());
    await this.index.write(() => this.putCheckpoint());
    await this.index.setClean(true);
    await this.index.syncToDisk();
    await this.index.close();
    await guardIndexClosed(this.opts.dataDir, indexSyncMode(this.opts));
  }
}

/** Follows compaction: a moved 'O' or 'P' entry gets its new location in the index. */
class MovedRouter {
  node: StorageNode | undefined;
  /** Moves reported while volumes open (compaction rolled forward) force a rebuild. */
  movedBeforeReady = false;
  async route(volumeId: string, m: EntryMoved): Promise<void> {
    const node = this.node;
    if (!node) {
      this.movedBeforeReady = true;
      return;
    }
    const k = m.key.subarray(1);
    if (m.key[0] === EntryKind.object) {
      // Through the object rows: the row may still be in their overlay.
      // The newest row, even one still hidden from readers (object-rows.ts).
      const row = node.rows.latest(k);
      const v = row ? decodeObjectValue(row) : undefined;
      if (!v || !sameLoc(v.at, volumeId, m.from)) return;
      v.at = { volumeId, location: m.to };
      await node.rows.write(k, encodeObjectValue(v), () => undefined);
    } else if (m.key[0] === EntryKind.part) {
      await node.index.write(() => {
        const row = node.index.get(node.index.parts, k);
        const v = row ? decodePartValue(row) : undefined;
        if (!v || !sameLoc(v.at, volumeId, m.from)) return;
        v.at = { volumeId, location: m.to };
        node.index.parts.put(k, encodePartValue(v));
      });
    }
  }
}

function sameLoc(at: VolLoc, volumeId: string, l: EntryMoved['from']): boolean {
  const a = at.location;
  return at.volumeId === volumeId && a.fileId === l.fileId && a.offset === l.offset && a.kind === l.kind;
}

/** 'ack' needs every commit flushed; otherwise the OS writes the index back (index-guard.ts). */
function indexSyncMode(opts: StorageNodeOptions): 'flush' | 'os' {
  return opts.indexSync !== 'background' && opts.durability !== 'none' ? 'flush' : 'os';
}

/** A damaged index is thrown away: the volumes hold everything it had. */
async function openIndex(path: string, sync: 'flush' | 'os'): Promise<{ index: NodeIndex; fresh: boolean }> {
  try {
    const index = NodeIndex.open(path, { sync });
    index.readCounter();
    index.wasClean();
    // Unreadable, or of another format: discarded; the fresh index is rebuilt from the volumes (and stamped).
    if (index.formatIsCurrent()) return { index, fresh: false };
    await index.close();
  } catch {
    // unreadable
  }
  await rm(path, { recursive: true, force: true });
  return { index: NodeIndex.open(path, { sync }), fresh: true };
}

async function writeNodeFile(dataDir: string, nodeId: number, volumes: VolumeSpec[]): Promise<void> {
  const path = join(dataDir, 'node.json');
  const fh = await open(`${path}.tmp`, 'w');
  await fh.writeFile(JSON.stringify({ nodeId, volumes }, null, 2));
  await fh.datasync();
  await fh.close();
  await rename(`${path}.tmp`, path);
}

function freeBytes(v: VolumePort): number {
  const s = v.stats();
  return s.maxBytes - s.reservedFreeBytes - (s.diskBytes - s.holeBytes);
}

function objectMeta(
  input: { size: number; headers: StoredHeaders; nowMs: number },
  fin: BodyFinish,
  body: ObjectMeta['body'],
): ObjectMeta {
  return {
    size: input.size,
    etag: stripQuotes(fin.etag),
    lastModifiedMs: input.nowMs,
    headers: input.headers,
    checksums: fin.checksums,
    ...(Object.keys(fin.checksums).length ? { checksumType: 'FULL_OBJECT' as const } : {}),
    body,
  };
}

function checkCondition(cur: ObjectValue | undefined, c: WriteCondition | undefined): void {
  if (!c) return;
  if (c.ifNoneMatchStar && cur) throw new PreconditionFailedError('the key exists (If-None-Match: *)');
  if (c.ifMatchEtag !== undefined) {
    if (!cur) throw new NoSuchKeyError();
    const want = stripQuotes(c.ifMatchEtag);
    if (want !== '*' && want !== cur.etag)
      throw new PreconditionFailedError('ETag does not match (If-Match)');
  }
}

export function toRecord(bucket: string, key: Buffer, v: ObjectMeta, opver: Opver): ObjectRecord {
  const r: ObjectRecord = {
    bucket,
    key,
    size: v.size,
    etag: v.etag,
    lastModifiedMs: v.lastModifiedMs,
    headers: v.headers,
    checksums: v.checksums,
    opver,
  };
  if (v.checksumType) r.checksumType = v.checksumType;
  if (v.body.kind === 'multipart') r.parts = v.body.parts.map((p) => ({ size: p.size, etag: p.etag }));
  return r;
}

const EMPTY = Buffer.alloc(0);
const RESOLVED = Promise.resolve();

export { compareOpver };
