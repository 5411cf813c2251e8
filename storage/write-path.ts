// The write path of objects: PUT (inline or blob), the atomic commit every object write ends in
// (also multipart completion), DELETE and CopyObject.
//
// An object write (commitStaged) starts three things at once and acknowledges when all are done:
// the 'O' entry's group commit in the volume, the binlog record's fsync, and the index commit of
// the new row plus (indexSync 'ack') its flush. The row is committed as soon as the entry's bytes
// are written and its location is known, before the volume has synced them. Why that is safe:
//   - A machine crash before the volume sync may leave a flushed row pointing at an entry that is
//     not on disk: after one (index-guard.ts sees another boot) recovery rebuilds the index from
//     the volumes, so such a row is never read. A process crash (kill -9) keeps every written
//     byte; recovery checks each key written since the checkpoints against the volume anyway
//     (recovery.ts). The write was not acknowledged, so losing it is allowed.
//   - Whatever is freed after the index commit (the old version, unused parts) is protected first
//     (Placement.protect), so a crash between the commit and the free leaves it to recovery.
//   - While the three are in flight, readers (GET, HEAD, LIST) keep seeing the previous row
//     through ObjectRows' shadow, so nobody observes a version a crash could still take back.
//     The key's lock keeps other writers of the key out until the write is finished.
//   - If the volume sync fails, the previous row is committed back before the shadow goes and
//     the durable record (if any) is voided; if the record fails, the entry is freed. Either way
//     nothing is acknowledged and readers never saw the new row.
//   - The ack still waits for `flushed`, so an acknowledged write's row is on disk ('ack').
// Multipart completes and versions with part rows use the serial order (entry and record
// durable, then the index). A delete makes its binlog record durable first, then writes a tombstone
// entry that outranks the version's entries, removes them from the volume (or defers that to the last
// read that pins them), then commits the index with the tombstone's row (kept for replication).
//
// Every writer claims the current version's locations in the same synchronous step as it reads its
// row (pins.ts): the unpinned ones are its to rewrite or free, the pinned ones are deferred to their
// last reader.
//
// Versions (index-db.ts: the current version in `objects`, the others in `versions`): a write to an
// unversioned bucket, or a null-version write whose key's current version is the null version, is the
// path above, unchanged. Any write that moves versions between the two tables (a new version pushes the
// current one down; a null write replaces a noncurrent null version; removing the current version
// promotes the newest noncurrent one) uses the serial order, so the rows of both tables change together
// in one commit and become visible together (object-rows.ts).
import type {
  BodyFinish,
  CopyDestination,
  CopySource,
  DeleteOptions,
  ObjectRecord,
  Opver,
  PutObjectInput,
  ReadHandle,
  RemoveObjectInput,
  RemoveObjectResult,
  UpdateAttributesInput,
  VersioningMode,
  WriteCondition,
} from './api.ts';
import { copyHeaders } from './api.ts';
import type { Binlog, BinlogOp, BinlogRecord, BinlogTicket } from './binlog.ts';
import { CHECKPOINT_KEY } from './binlog-reconcile.ts';
import { collectBody, exactly, md5Tee, stripQuotes } from './body.ts';
import { NoSuchKeyError, PreconditionFailedError, StorageError } from './errors.ts';
import type { NodeIndex } from './index-db.ts';
import {
  EntryKind,
  entryKey,
  objectKey,
  prefixEnd,
  versionEntryKey,
  versionKey,
  versionKeyPrefix,
} from './keys.ts';
import type { KeyedLock } from './locks.ts';
import { removalRefusal, retentionChangeRefusal } from './object-lock.ts';
import type { ObjectRows, VersionRowChange } from './object-rows.ts';
import type { OpverClock } from './opver-clock.ts';
import type { ClaimedVersion } from './pins.ts';
import type { Placement } from './placement.ts';
import { type ReadPath, toRecord, type VersionSpace, versionIdOfMeta } from './read-path.ts';
import { openSegments } from './reading.ts';
import {
  decodeObjectValue,
  encodeCheckpoint,
  encodeEntryMeta,
  encodeObjectValue,
  type ObjectMeta,
  type ObjectValue,
  objectValueFromEntryMeta,
  type VolLoc,
} from './records.ts';
import { getTombstone, putTombstone, tombstoneKeyOfEntry } from './replica-tombstones.ts';

export interface WritePathDeps {
  readonly index: NodeIndex;
  readonly rows: ObjectRows;
  readonly binlog: Binlog;
  /** Per-key mutual exclusion (object keys as latin1, uploads as `u:` + id). */
  readonly locks: KeyedLock;
  readonly clock: OpverClock;
  readonly placement: Placement;
  readonly reads: ReadPath;
  /** 'ack': wait for the index flush before acknowledging (see StorageNodeOptions.indexSync). */
  readonly indexSync: 'ack' | 'background';
  /** Bodies up to this size are inline entries; larger ones are blobs (singlefiles). */
  readonly smallObjectMaxBytes: number;
  readonly random: (bytes: number) => Buffer;
  /** The node's wall clock: when a tombstone was written (it expires by age). */
  readonly now: () => number;
}

/** One object version to commit (commitObject). */
export interface ObjectCommit {
  bucket: string;
  key: Buffer;
  meta: ObjectMeta;
  /** Inline data ('O' entry body); empty for blob and multipart bodies. */
  data: Buffer;
  nowMs: number;
  condition?: WriteCondition;
  /** The blob (singlefile) holding a large body, written before. */
  blobAt?: VolLoc;
  /** Completing a multipart upload: what goes into the same index commit, and what is freed after. */
  completes?: { uploadId: string; inTxn: () => void; freeAfter: VolLoc[] };
  /** The bucket's versioning state (default 'unversioned'). */
  versioning?: VersioningMode;
}

/** The volume already rewrote or freed the previous version: the new one stays although this failed. */
class CommittedError extends Error {
  readonly committed = true;
}

const EMPTY = Buffer.alloc(0);

export class WritePath {
  constructor(private readonly d: WritePathDeps) {}

  async putObject(input: PutObjectInput): Promise<ObjectRecord> {
    const d = this.d;
    const base = {
      bucket: input.bucket,
      key: input.key,
      nowMs: input.nowMs,
      condition: input.condition,
      versioning: input.versioning,
    };
    if (input.size <= d.smallObjectMaxBytes) {
      const data = await collectBody(input.body, input.size);
      const fin = await input.finish();
      return this.commitObject({ ...base, meta: objectMeta(input, fin, { kind: 'inline' }), data });
    }
    const blobId = d.random(16);
    const { at } = await d.placement.put({
      key: entryKey(EntryKind.blob, blobId),
      meta: { kind: 'blob', owner: { table: 'objects', key: objectKey(input.bucket, input.key) } },
      opver: d.clock.next(),
      data: exactly(input.body, input.size),
      dataBytes: input.size,
      nowMs: input.nowMs,
    });
    let fin: BodyFinish;
    try {
      fin = await input.finish();
    } catch (err) {
      await d.placement.free([at]);
      throw err;
    }
    const meta = objectMeta(input, fin, { kind: 'blob', blobId });
    try {
      return await this.commitObject({ ...base, meta, data: EMPTY, blobAt: at });
    } catch (err) {
      if (!(err instanceof CommittedError)) await d.placement.free([at]);
      throw err;
    }
  }

  /**
   * The atomic step of every object write: under the key's lock check the condition, claim the
   * current version's locations, write the 'O' entry and the binlog record at once, commit the
   * index, settle the record, then free the old version (or defer what reads still pin).
   */
  commitObject(c: ObjectCommit): Promise<ObjectRecord> {
    const okey = objectKey(c.bucket, c.key);
    return this.d.locks.run(okey.toString('latin1'), async () => {
      const cur = this.d.reads.current(okey);
      checkCondition(cur, c.condition);
      // A new version, or a null write beside real versions: the rows of both tables change.
      if (c.versioning === 'enabled' || cur?.versioned) return this.commitVersion(c, okey, cur);
      // Same synchronous step as reading `cur`: from here no new read can pin its claimed locations.
      const old = cur ? this.d.reads.space(cur) : { locs: [], partKeys: [] };
      const claim = this.d.reads.pins.claim(cur ? [cur.at, ...old.locs] : []);
      try {
        return await this.commitClaimed(c, okey, cur, old, claim);
      } finally {
        claim.release();
      }
    });
  }

  /** Inside an index transaction: the binlog checkpoint (binlog-reconcile.ts). */
  putCheckpoint(): void {
    this.d.index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(this.d.clock.checkpoint(this.d.binlog.confirmed)));
  }

  private async commitClaimed(
    c: ObjectCommit,
    okey: Buffer,
    cur: ObjectValue | undefined,
    old: VersionSpace,
    claim: ClaimedVersion,
  ): Promise<ObjectRecord> {
    const d = this.d;
    const opver = d.clock.nextRecorded(cur?.opver);
    const op: BinlogOp = c.completes ? 'upload-complete' : cur ? 'replace' : 'insert';
    const meta: ObjectMeta = { ...c.meta, seq: c.meta.seq ?? opver };
    const rec: BinlogRecord = {
      op,
      bucket: c.bucket,
      key: c.key,
      opver,
      size: c.meta.size,
      uploadId: c.completes?.uploadId,
    };
    if (c.versioning === 'suspended') rec.version = markerOf(meta);
    const ticket = d.binlog.begin(rec);
    const entry = encodeEntryMeta({ kind: 'object', meta });
    const ekey = entryKey(EntryKind.object, okey);
    const checkpoint = d.clock.checkpointDue();
    // The volume may rewrite or free the current entry itself only when no read pins it.
    const replace = cur && claim.now.includes(cur.at) ? cur.at : undefined;
    const freeable = (replaced: boolean) => ({
      now: replaced ? claim.now.filter((l) => l !== cur?.at) : claim.now,
      // Once the new row is visible no read can pin an old location any more: a pin released
      // meanwhile hands its location back in `free`.
      deferred: d.reads.pins.defer(claim.later),
    });
    let freed: ReturnType<typeof freeable>;
    const toFree = [...claim.now, ...claim.later, ...(c.completes?.freeAfter ?? [])];
    // Released (idempotent) once the old version is freed, or on any failure.
    let release = () => {};
    try {
      if (!c.completes && old.partKeys.length === 0) {
        let replaced: boolean;
        ({ replaced, release } = await this.commitStaged({
          okey,
          ekey,
          entry,
          opver,
          data: c.data,
          nowMs: c.nowMs,
          replace,
          ticket,
          blobAt: c.blobAt,
          protect: toFree,
          inTxn: () => {
            d.index.putCounter(d.clock.counter);
            if (checkpoint) this.putCheckpoint();
          },
        }));
        freed = freeable(replaced);
        if (freed.deferred.rows.length > 0)
          await d.index.write(() => d.reads.putPending(freed.deferred.rows));
      } else {
        const put = d.placement.put({
          key: ekey,
          meta: entry,
          opver,
          data: c.data,
          dataBytes: c.data.length,
          nowMs: c.nowMs,
          replace,
        });
        const { at, replaced } = await this.bothDurable(put, ticket, opver);
        release = await d.placement.protect(toFree);
        // Synchronously before the new row becomes visible (writeRow sets it at once).
        freed = freeable(replaced);
        const pending = freed.deferred.rows;
        try {
          await this.writeRow(
            okey,
            objectValueFromEntryMeta(entry, opver, d.placement.resolve(at), c.blobAt),
            () => {
              for (const pk of old.partKeys) d.index.parts.remove(pk);
              d.reads.putPending(pending);
              c.completes?.inTxn();
              d.index.putCounter(d.clock.counter);
              if (checkpoint) this.putCheckpoint();
            },
          );
        } finally {
          // Volume entry and record are durable: the record is true whatever the index did.
          d.binlog.settle(ticket);
        }
      }
      claim.release();
      await d.placement.free([...freed.now, ...freed.deferred.free, ...(c.completes?.freeAfter ?? [])]);
    } finally {
      release();
    }
    return toRecord(c.bucket, c.key, meta, opver);
  }

  /**
   * A write that moves versions between the tables (see the header): a new real version ('enabled'),
   * or a null write while the current version is a real one. Serial order: entry and record durable,
   * then one commit of the current row and the versions rows, then the replaced null version is freed.
   */
  private async commitVersion(
    c: ObjectCommit,
    okey: Buffer,
    cur: ObjectValue | undefined,
  ): Promise<ObjectRecord> {
    const d = this.d;
    const versioned = c.versioning === 'enabled';
    // A null write replaces the null version wherever it is; a real version replaces nothing.
    const oldNull = versioned ? undefined : this.noncurrentNull(c.bucket, c.key);
    const old = oldNull ? d.reads.space(oldNull.v) : { locs: [], partKeys: [] };
    const claim = d.reads.pins.claim(oldNull ? [oldNull.v.at, ...old.locs] : []);
    try {
      const opver = d.clock.nextRecorded(cur?.opver);
      const meta: ObjectMeta = { ...c.meta, seq: opver, ...(versioned ? { versioned: true } : {}) };
      const rec: BinlogRecord = {
        op: c.completes ? 'upload-complete' : 'insert',
        bucket: c.bucket,
        key: c.key,
        opver,
        size: meta.size,
        uploadId: c.completes?.uploadId,
        version: markerOf(meta),
      };
      const ticket = d.binlog.begin(rec);
      const entry = encodeEntryMeta({ kind: 'object', meta });
      const checkpoint = d.clock.checkpointDue();
      const put = d.placement.put({
        key: versionEntryKey(okey, versioned ? opver : undefined),
        meta: entry,
        opver,
        data: c.data,
        dataBytes: c.data.length,
        nowMs: c.nowMs,
      });
      const { at } = await this.bothDurable(put, ticket, opver);
      const toFree = [...claim.now, ...claim.later, ...(c.completes?.freeAfter ?? [])];
      const release = await d.placement.protect(toFree);
      try {
        const deferred = d.reads.pins.defer(claim.later);
        const changes: VersionRowChange[] = [];
        if (cur) changes.push({ vkey: versionKey(c.bucket, c.key, cur.seq!), row: encodeObjectValue(cur) });
        if (oldNull) changes.push({ vkey: oldNull.vkey, row: null });
        try {
          await this.writeRow(
            okey,
            objectValueFromEntryMeta(entry, opver, d.placement.resolve(at), c.blobAt),
            () => {
              for (const pk of old.partKeys) d.index.parts.remove(pk);
              d.reads.putPending(deferred.rows);
              c.completes?.inTxn();
              d.index.putCounter(d.clock.counter);
              if (checkpoint) this.putCheckpoint();
            },
            changes,
          );
        } finally {
          d.binlog.settle(ticket);
        }
        claim.release();
        await d.placement.free([...claim.now, ...deferred.free, ...(c.completes?.freeAfter ?? [])]);
      } finally {
        release();
      }
      return toRecord(c.bucket, c.key, meta, opver);
    } finally {
      claim.release();
    }
  }

  /** The null version of a key when it is not the current one (its row in the versions table). */
  private noncurrentNull(bucket: string, key: Buffer): { v: ObjectValue; vkey: Buffer } | undefined {
    const lo = versionKeyPrefix(bucket, key);
    for (const { key: vkey, value } of this.d.rows.versionRange(lo, prefixEnd(lo), Infinity)) {
      const v = decodeObjectValue(value);
      if (!v.versioned) return { v, vkey: Buffer.from(vkey) };
    }
    return undefined;
  }

  /**
   * Writes the 'O' entry, and as soon as its location is known (bytes written, not yet synced)
   * commits its index row hidden behind the previous one (readers see the old row), so the index
   * commit and its flush overlap the volume's group commit and the binlog record's fsync. Returns
   * once all three are done, with the new row revealed. See the header for why this is safe.
   */
  private async commitStaged(s: {
    okey: Buffer;
    ekey: Buffer;
    entry: Buffer;
    opver: Opver;
    data: Buffer;
    nowMs: number;
    replace: VolLoc | undefined;
    ticket: BinlogTicket;
    blobAt: VolLoc | undefined;
    /** Freed after the commit: protected before the row is committed (released by the caller). */
    protect: VolLoc[];
    inTxn: () => void;
  }): Promise<{ at: VolLoc; replaced: boolean; release: () => void }> {
    const d = this.d;
    let put: Awaited<ReturnType<Placement['put']>>;
    let release: () => void;
    try {
      put = await d.placement.put({
        key: s.ekey,
        meta: s.entry,
        opver: s.opver,
        data: s.data,
        dataBytes: s.data.length,
        nowMs: s.nowMs,
        replace: s.replace,
        staged: true,
      });
      release = await d.placement.protect(s.protect);
    } catch (err) {
      await this.bothDurable(Promise.reject(err), s.ticket, s.opver);
      throw err;
    }
    const hidden = d.rows.writeHidden(
      s.okey,
      objectValueFromEntryMeta(s.entry, s.opver, put.at, s.blobAt),
      s.inTxn,
    );
    let indexDone: Promise<unknown> | undefined;
    if (d.indexSync !== 'background') indexDone = hidden.landed.then(() => d.index.env.flushed);
    else hidden.landed.catch(() => undefined);
    const [v, t, i] = await Promise.allSettled([put.durable, s.ticket.durable, indexDone]);
    d.clock.recorded(s.opver);
    if (v.status === 'fulfilled' && t.status === 'fulfilled') {
      // Volume entry and record are durable: the record is true whatever the index did.
      d.binlog.settle(s.ticket);
      hidden.reveal();
      if (i.status === 'rejected') {
        release();
        throw i.reason;
      }
      return { ...put, release };
    }
    release();
    if (v.status === 'fulfilled' && put.replaced) {
      // The volume already rewrote or freed the previous entry: the new version is all there is.
      hidden.reveal();
      throw new CommittedError('the binlog record failed after the volume replaced the entry', {
        cause: (t as PromiseRejectedResult).reason,
      });
    }
    // The new row must not outlive this failure: put the previous one back (readers never saw it).
    await this.writeRow(s.okey, hidden.previous, () => undefined);
    hidden.reveal();
    if (v.status === 'fulfilled') {
      await d.placement.free([put.at]).catch(() => undefined);
      throw (t as PromiseRejectedResult).reason;
    }
    if (t.status === 'fulfilled') await d.binlog.voidRecord(s.ticket);
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
    const d = this.d;
    const [p, t] = await Promise.allSettled([put, ticket.durable]);
    d.clock.recorded(opver);
    if (p.status === 'fulfilled' && t.status === 'fulfilled') return p.value;
    if (p.status === 'fulfilled') {
      await d.placement.free([p.value.at]).catch(() => undefined);
      throw (t as PromiseRejectedResult).reason;
    }
    if (t.status === 'fulfilled') await d.binlog.voidRecord(ticket);
    throw p.reason;
  }

  /** Sets or deletes an object row (see ObjectRows); waits for the LMDB flush unless indexSync is 'background'. */
  private async writeRow(
    okey: Buffer | undefined,
    row: Buffer | null,
    alsoInTxn: () => void,
    versions?: VersionRowChange[],
    /** Wait for the commit even with a background index (a tombstone row has no overlay: replica.ts). */
    land = false,
  ): Promise<void> {
    const landed = this.d.rows.write(okey, row, alsoInTxn, versions);
    if (this.d.indexSync !== 'background') {
      await landed;
      await this.d.index.env.flushed;
    } else if (land) await landed;
    else landed.catch(() => undefined);
  }

  async deleteObject(bucket: string, key: Buffer, opts: DeleteOptions = {}): Promise<boolean> {
    const okey = objectKey(bucket, key);
    return this.d.locks.run(okey.toString('latin1'), async () => {
      const cur = this.d.reads.current(okey);
      // If-Match: checked under the key's lock, so nothing can replace the object between check and delete.
      checkCondition(cur, opts.condition);
      if (!cur) return false;
      if (opts.lock) {
        const refused = removalRefusal(cur, opts.nowMs ?? Date.now(), opts.lock.bypassGovernance);
        if (refused) throw refused;
      }
      // A key with versions: remove exactly its current version (the next newest becomes current), so
      // no noncurrent version is ever left without a current one.
      if (cur.versioned || this.noncurrentCount(bucket, key) > 0) {
        const id = versionIdOfMeta(cur);
        return (await this.deleteVersionLocked({ bucket, key, nowMs: opts.nowMs ?? 0 }, id, okey)).existed;
      }
      const old = this.d.reads.space(cur);
      // Same synchronous step as reading `cur`: reads that come later wait for the delete, then miss.
      const claim = this.d.reads.pins.claim([cur.at, ...old.locs]);
      try {
        const opver = this.d.clock.next(cur.opver);
        await this.deleteClaimed({
          okey,
          cur,
          partKeys: old.partKeys,
          claim,
          record: { op: 'delete', bucket, key, opver, size: cur.size },
          ekey: entryKey(EntryKind.object, okey),
          rows: { okey, row: null, versions: [] },
        });
        return true;
      } finally {
        claim.release();
      }
    });
  }

  /** DeleteObject as versioning defines it (api.ts RemoveObjectInput). */
  async removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult> {
    if (input.versionId !== undefined) return this.deleteVersion(input, input.versionId);
    const mode = input.versioning ?? 'unversioned';
    if (mode === 'unversioned') {
      const existed = await this.deleteObject(input.bucket, input.key, {
        ...(input.condition ? { condition: input.condition } : {}),
        ...(input.lock ? { lock: input.lock } : {}),
        nowMs: input.nowMs,
      });
      return { existed };
    }
    const r = await this.commitObject({
      bucket: input.bucket,
      key: input.key,
      meta: {
        size: 0,
        etag: '',
        lastModifiedMs: input.nowMs,
        headers: { userMeta: {} },
        checksums: {},
        body: { kind: 'inline' },
        deleteMarker: true,
      },
      data: EMPTY,
      nowMs: input.nowMs,
      versioning: mode,
      ...(input.condition ? { condition: input.condition } : {}),
    });
    return { existed: true, versionId: r.versionId, deleteMarker: true };
  }

  /** Removes exactly one version (its space freed under the pin rule); the next newest becomes current. */
  private deleteVersion(input: RemoveObjectInput, versionId: string): Promise<RemoveObjectResult> {
    const okey = objectKey(input.bucket, input.key);
    return this.d.locks.run(okey.toString('latin1'), () => this.deleteVersionLocked(input, versionId, okey));
  }

  /** deleteVersion under the key's lock (held by the caller). */
  private async deleteVersionLocked(
    input: RemoveObjectInput,
    versionId: string,
    okey: Buffer,
  ): Promise<RemoveObjectResult> {
    const d = this.d;
    const { bucket, key } = input;
    {
      const f = d.reads.find(bucket, key, okey, versionId);
      if (!f) return { existed: false, versionId };
      const cur = d.reads.current(okey)!;
      if (input.condition?.ifMatchEtag !== undefined)
        checkCondition(f.v.deleteMarker ? undefined : f.v, input.condition);
      if (input.lock) {
        const refused = removalRefusal(f.v, input.nowMs, input.lock.bypassGovernance);
        if (refused) throw refused;
      }
      const stamp = f.v.versioned ? f.v.seq : undefined;
      const old = d.reads.space(f.v);
      const claim = d.reads.pins.claim([f.v.at, ...old.locs]);
      try {
        const rows = {
          okey: undefined as Buffer | undefined,
          row: null as Buffer | null,
          versions: [] as VersionRowChange[],
        };
        if (f.isLatest) {
          // The newest noncurrent version (if any) becomes current.
          rows.okey = okey;
          const lo = versionKeyPrefix(bucket, key);
          for (const next of d.rows.versionRange(lo, prefixEnd(lo), 1)) {
            rows.row = next.value;
            rows.versions.push({ vkey: Buffer.from(next.key), row: null });
          }
        } else rows.versions.push({ vkey: f.vkey!, row: null });
        const opver = d.clock.next(cur.opver);
        const version = { ...(stamp ? { stamp } : {}), ...(f.v.deleteMarker ? { deleteMarker: true } : {}) };
        await this.deleteClaimed({
          okey,
          cur: f.v,
          partKeys: old.partKeys,
          claim,
          record: { op: 'version-delete', bucket, key, opver, size: f.v.size, version },
          ekey: versionEntryKey(okey, stamp),
          rows,
        });
        return { existed: true, versionId, ...(f.v.deleteMarker ? { deleteMarker: true } : {}) };
      } finally {
        claim.release();
      }
    }
  }

  /** How many noncurrent versions (up to 1) the key has. */
  private noncurrentCount(bucket: string, key: Buffer): number {
    const lo = versionKeyPrefix(bucket, key);
    let n = 0;
    for (const _ of this.d.rows.versionRange(lo, prefixEnd(lo), 1)) n++;
    return n;
  }

  /**
   * Rewrites a version's 'O'/'V' entry with new tags, retention or legal hold: same data (inline data is
   * written again; a blob or multipart body is only referenced), same stamp, a new opver.
   */
  updateAttributes(input: UpdateAttributesInput): Promise<ObjectRecord> {
    const d = this.d;
    const { bucket, key } = input;
    const okey = objectKey(bucket, key);
    return d.locks.run(okey.toString('latin1'), async () => {
      const f = d.reads.find(bucket, key, okey, input.versionId);
      if (!f) {
        if (input.versionId === undefined) throw new NoSuchKeyError();
        throw new StorageError('NoSuchVersion', 'the version does not exist');
      }
      if (f.v.deleteMarker) throw new StorageError('MethodNotAllowed', 'a delete marker has no attributes');
      const cur = d.reads.current(okey)!;
      const { opver: _o, at: oldAt, blobAt, ...fields } = f.v;
      const meta: ObjectMeta = { ...fields };
      const u = input.update;
      if (u.tags !== undefined) {
        if (u.tags.length > 0) meta.tags = u.tags;
        else delete meta.tags;
      }
      if (u.retention !== undefined) {
        const refused = retentionChangeRefusal(
          f.v.retention,
          u.retention,
          input.nowMs,
          input.bypassGovernance === true,
        );
        if (refused) throw refused;
        if (u.retention) meta.retention = u.retention;
        else delete meta.retention;
      }
      if (u.legalHold !== undefined) {
        if (u.legalHold) meta.legalHold = true;
        else delete meta.legalHold;
      }
      if (u.acl !== undefined) {
        if (u.acl) meta.acl = u.acl;
        else delete meta.acl;
      }
      // Only the 'O'/'V' entry is rewritten: its data (inline bodies) is read while the claim holds it.
      const claim = d.reads.pins.claim([oldAt]);
      try {
        const data =
          meta.body.kind === 'inline' && meta.size > 0
            ? await collect(openSegments(d.placement, [{ at: oldAt, size: meta.size }], meta.size))
            : EMPTY;
        const opver = d.clock.nextRecorded(cur.opver);
        const rec: BinlogRecord = {
          op: 'attributes',
          bucket,
          key,
          opver,
          size: meta.size,
          version: markerOf(meta),
        };
        const ticket = d.binlog.begin(rec);
        const entry = encodeEntryMeta({ kind: 'object', meta });
        const put = d.placement.put({
          key: versionEntryKey(okey, meta.versioned ? meta.seq : undefined),
          meta: entry,
          opver,
          data,
          dataBytes: data.length,
          nowMs: input.nowMs,
          replace: claim.now.includes(oldAt) ? oldAt : undefined,
        });
        const { at, replaced } = await this.bothDurable(put, ticket, opver);
        const freeOld = replaced ? [] : [oldAt];
        const release = await d.placement.protect(freeOld);
        try {
          const deferred = d.reads.pins.defer(replaced ? [] : claim.later);
          const row = objectValueFromEntryMeta(entry, opver, at, blobAt);
          const inTxn = () => {
            d.reads.putPending(deferred.rows);
            d.index.putCounter(d.clock.counter);
          };
          try {
            if (f.isLatest) await this.writeRow(okey, row, inTxn);
            else await this.writeRow(undefined, null, inTxn, [{ vkey: f.vkey!, row }]);
          } finally {
            d.binlog.settle(ticket);
          }
          claim.release();
          const now = replaced ? [] : claim.now;
          await d.placement.free([...now, ...deferred.free]);
        } finally {
          release();
        }
        return toRecord(bucket, key, meta, opver, input.versionId ? f.isLatest : undefined);
      } finally {
        claim.release();
      }
    });
  }

  private async deleteClaimed(x: {
    okey: Buffer;
    /** The version removed. */
    cur: ObjectValue;
    partKeys: Buffer[];
    claim: ClaimedVersion;
    record: BinlogRecord;
    /** Its entry key (a tombstone takes the same key). */
    ekey: Buffer;
    /** The index change: the current row (okey undefined: unchanged) and versions rows. */
    rows: { okey: Buffer | undefined; row: Buffer | null; versions: VersionRowChange[] };
  }): Promise<void> {
    const d = this.d;
    const { claim } = x;
    const opver = x.record.opver;
    // Record first: a crash after it but before the volume change leaves a record recovery voids;
    // the other order could delete the object here and never tell the mirrors.
    const ticket = d.binlog.begin(x.record);
    await ticket.durable;
    let tombstone: VolLoc;
    const createdMs = d.now();
    const tkey = tombstoneKeyOfEntry(x.ekey);
    try {
      // The volume is the truth: a tombstone outranks the entry, then the entry goes, before the ack, so
      // neither a crash nor a lost index can resurrect an acknowledged delete. The tombstone stays (its row
      // in the same index commit) so that an older replicated write cannot either (replica-tombstones.ts).
      ({ at: tombstone } = await d.placement.put({
        key: x.ekey,
        meta: { kind: 'tombstone' },
        opver,
        data: EMPTY,
        dataBytes: 0,
        nowMs: createdMs,
      }));
    } catch (err) {
      // Untouched volume: the record describes nothing.
      await d.binlog.voidRecord(ticket);
      throw err;
    }
    try {
      await d.placement.free(claim.now);
    } catch (err) {
      // Leave it to a rebuild's reconcile.
      d.binlog.settle(ticket);
      throw err;
    }
    const deferred = d.reads.pins.defer(claim.later);
    // A tombstone the version had before it was written again: superseded (freed after the commit).
    const older = getTombstone(d.index, tkey)?.at;
    const toFree = [...deferred.free, ...(older ? [older] : [])];
    const release = await d.placement.protect(toFree);
    try {
      try {
        await this.writeRow(
          x.rows.okey,
          x.rows.row,
          () => {
            for (const pk of x.partKeys) d.index.parts.remove(pk);
            d.reads.putPending(deferred.rows);
            putTombstone(d.index, tkey, { opver, createdMs, at: d.placement.resolve(tombstone) });
            d.index.putCounter(d.clock.counter);
          },
          x.rows.versions,
          true,
        );
      } finally {
        d.binlog.settle(ticket);
      }
      claim.release();
      await d.placement.free(toFree);
    } finally {
      release();
    }
  }

  async copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    const h = await this.openSource(src);
    try {
      const r = h.record;
      const size = src.range ? src.range.end - src.range.start + 1 : r.size;
      const tee = md5Tee(h.stream(src.range));
      const whole = !src.range && r.checksumType !== 'COMPOSITE';
      const tags = dst.tags ?? r.tags;
      return await this.putObject({
        bucket: dst.bucket,
        key: dst.key,
        size,
        body: tee.body,
        headers: copyHeaders(dst, r.headers),
        nowMs: dst.nowMs,
        condition: dst.condition,
        versioning: dst.versioning,
        ...(tags?.length ? { tags } : {}),
        ...(dst.retention ? { retention: dst.retention } : {}),
        ...(dst.legalHold ? { legalHold: true } : {}),
        ...(dst.acl ? { acl: dst.acl } : {}),
        finish: async () => ({ etag: tee.etag(), checksums: whole ? r.checksums : {} }),
      });
    } finally {
      h.release();
    }
  }

  /** A copy source, pinned; only the version with `src.etag` when given. */
  async openSource(src: CopySource): Promise<ReadHandle> {
    const h = await this.d.reads.open(src.bucket, src.key, src.versionId ? { versionId: src.versionId } : {});
    if (!h) {
      if (src.versionId !== undefined)
        throw new StorageError('NoSuchVersion', 'the source version does not exist');
      throw new NoSuchKeyError();
    }
    if (h.record.deleteMarker) {
      // S3: a current delete marker is NoSuchKey; naming a delete marker as the source is InvalidRequest.
      if (src.versionId !== undefined)
        throw new StorageError(
          'InvalidRequest',
          'The source of a copy request may not specifically refer to a delete marker by version id.',
        );
      throw new NoSuchKeyError();
    }
    if (src.etag !== undefined && stripQuotes(src.etag) !== h.record.etag) {
      h.release();
      throw new PreconditionFailedError('the copy source changed since its conditions were checked');
    }
    return h;
  }
}

function objectMeta(
  input: Pick<PutObjectInput, 'size' | 'headers' | 'nowMs' | 'tags' | 'retention' | 'legalHold' | 'acl'>,
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
    ...(input.tags?.length ? { tags: input.tags } : {}),
    ...(input.retention ? { retention: input.retention } : {}),
    ...(input.legalHold ? { legalHold: true } : {}),
    ...(input.acl ? { acl: input.acl } : {}),
  };
}

/** What a binlog record says about the version it writes. */
function markerOf(meta: ObjectMeta): { stamp?: Opver; deleteMarker?: boolean } {
  return {
    ...(meta.versioned ? { stamp: meta.seq! } : {}),
    ...(meta.deleteMarker ? { deleteMarker: true } : {}),
  };
}

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of src) out.push(b);
  return Buffer.concat(out);
}

/** A current delete marker counts as no object. */
function checkCondition(cur: ObjectValue | undefined, c: WriteCondition | undefined): void {
  if (!c) return;
  if (cur?.deleteMarker) cur = undefined;
  if (c.ifNoneMatchStar && cur) throw new PreconditionFailedError('the key exists (If-None-Match: *)');
  if (c.ifMatchEtag !== undefined) {
    if (!cur) throw new NoSuchKeyError();
    const want = stripQuotes(c.ifMatchEtag);
    if (want !== '*' && want !== cur.etag)
      throw new PreconditionFailedError('ETag does not match (If-Match)');
  }
}
