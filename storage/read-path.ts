// The read path: find the current version of an object, pin where its bytes are (pins.ts) in the same
// synchronous step, and stream them. Also what a writer needs to know about a version's space: its
// locations, and the frees deferred to the last reader of a location (persisted as pending rows, so
// a clean restart finishes them; an unclean one rebuilds the index from the volumes anyway).
import {
  type ByteRangeInclusive,
  NULL_VERSION,
  type ObjectRecord,
  type Opver,
  type ReadHandle,
  type VersionSelector,
} from './api.ts';
import type { OperationEpochs } from './epochs.ts';
import type { NodeIndex } from './index-db.ts';
import {
  objectKey,
  parseVersionId,
  partKey,
  prefixEnd,
  versionIdOf,
  versionKey,
  versionKeyPrefix,
} from './keys.ts';
import type { ObjectRows } from './object-rows.ts';
import { type PinHold, PinTable } from './pins.ts';
import type { Placement } from './placement.ts';
import { openSegments, type Segment } from './reading.ts';
import {
  decodeObjectValue,
  decodePartValue,
  type ObjectMeta,
  type ObjectValue,
  type PendingValue,
  type VolLoc,
} from './records.ts';

export interface ReadPathDeps {
  readonly index: NodeIndex;
  readonly rows: ObjectRows;
  readonly placement: Placement;
  /** Operations in progress (pins here, key locks of the writers): see unusedBefore. */
  readonly epochs?: OperationEpochs;
}

/** Where a version lives besides its 'O' entry, and the part rows that go with it. */
export interface VersionSpace {
  locs: VolLoc[];
  partKeys: Buffer[];
}

export class ReadPath {
  /** Reads' pins and writers' claims: no read ever sees reused or rewritten space. */
  readonly pins: PinTable;
  /** Deferred frees under way (old versions whose last reader just let go). */
  private readonly deferredFrees = new Set<Promise<void>>();

  constructor(private readonly d: ReadPathDeps) {
    this.pins = new PinTable((rowKey, v) => this.track(this.finishDeferred(rowKey, v)), d.epochs);
  }

  /** The version readers see now (object-rows.ts), decoded. */
  current(okey: Buffer): ObjectValue | undefined {
    const v = this.d.rows.get(okey);
    return v ? decodeObjectValue(v) : undefined;
  }

  /**
   * A version of (bucket, key): the current one, or the one `versionId` names (`null`: the null version).
   * `vkey` is set when it is noncurrent (its row in the versions table).
   */
  find(
    bucket: string,
    key: Buffer,
    okey: Buffer,
    versionId: string | undefined,
  ): { v: ObjectValue; isLatest: boolean; vkey?: Buffer } | undefined {
    const cur = this.current(okey);
    if (versionId === undefined) return cur && { v: cur, isLatest: true };
    if (versionId === NULL_VERSION) {
      if (!cur) return undefined;
      if (!cur.versioned) return { v: cur, isLatest: true };
      const lo = versionKeyPrefix(bucket, key);
      for (const { key: vkey, value } of this.d.rows.versionRange(lo, prefixEnd(lo), Infinity)) {
        const v = decodeObjectValue(value);
        if (!v.versioned) return { v, isLatest: false, vkey: Buffer.from(vkey) };
      }
      return undefined;
    }
    const stamp = parseVersionId(versionId);
    if (!stamp || !cur) return undefined;
    if (cur.versioned && cur.seq!.counter === stamp.counter && cur.seq!.nodeId === stamp.nodeId)
      return { v: cur, isLatest: true };
    const vkey = versionKey(bucket, key, stamp);
    const row = this.d.rows.getVersion(vkey);
    if (!row) return undefined;
    const v = decodeObjectValue(row);
    return v.versioned ? { v, isLatest: false, vkey } : undefined;
  }

  head(bucket: string, key: Buffer, which: VersionSelector = {}): ObjectRecord | undefined {
    const f = this.find(bucket, key, objectKey(bucket, key), which.versionId);
    return f ? toRecord(bucket, key, f.v, f.v.opver, which.versionId ? f.isLatest : undefined) : undefined;
  }

  async open(bucket: string, key: Buffer, which: VersionSelector = {}): Promise<ReadHandle | undefined> {
    const okey = objectKey(bucket, key);
    for (;;) {
      // Row, segments and pins in one synchronous step: nothing can free or rewrite them in between.
      const f = this.find(bucket, key, okey, which.versionId);
      if (!f) return undefined;
      const v = f.v;
      const isLatest = which.versionId ? f.isLatest : undefined;
      if (v.deleteMarker) {
        // Nothing to read or pin: S3 answers with the marker's headers only.
        return { record: toRecord(bucket, key, v, v.opver, isLatest), stream: noBytes, release: () => {} };
      }
      const segs = this.segments(v);
      const pinned = this.pins.tryPin(segs.map((s) => s.at));
      if (pinned.wait) {
        // A writer is replacing or deleting this version: look again once its row is visible.
        await pinned.wait;
        continue;
      }
      return new PinnedRead(
        toRecord(bucket, key, v, v.opver, isLatest),
        this.d.placement,
        segs,
        v.size,
        pinned,
      );
    }
  }

  /** Where the bytes of a version are, in order. */
  segments(v: ObjectValue): Segment[] {
    const body = v.body;
    if (body.kind === 'inline') return [{ at: v.at, size: v.size }];
    if (body.kind === 'blob') return [{ at: v.blobAt!, size: v.size }];
    return body.parts.map((p) => {
      const row = this.d.index.get(this.d.index.parts, partKey(body.uploadId, p.partNumber));
      if (!row) throw new Error('multipart object lost a part row');
      const pv = decodePartValue(row);
      return { at: pv.blobAt ?? pv.at, size: p.size };
    });
  }

  /** Everything a version occupies besides its 'O' entry, plus the part rows to drop with it. */
  space(v: ObjectValue): VersionSpace {
    const body = v.body;
    if (body.kind === 'inline') return { locs: [], partKeys: [] };
    if (body.kind === 'blob') return { locs: v.blobAt ? [v.blobAt] : [], partKeys: [] };
    const locs: VolLoc[] = [];
    const partKeys: Buffer[] = [];
    for (const p of body.parts) {
      const pk = partKey(body.uploadId, p.partNumber);
      const row = this.d.index.get(this.d.index.parts, pk);
      if (!row) continue;
      const pv = decodePartValue(row);
      locs.push(pv.at);
      if (pv.blobAt) locs.push(pv.blobAt);
      partKeys.push(pk);
    }
    return { locs, partKeys };
  }

  /** Inside an index transaction: the pending rows of frees handed to pins (pins.ts defer). */
  putPending(rows: Array<[Buffer, Buffer]>): void {
    for (const [k, v] of rows) this.d.index.pending.put(k, v);
  }

  /** The entry first, its tombstone only after: a crash in between cannot resurrect the entry. */
  async finishPending(v: PendingValue): Promise<void> {
    await this.d.placement.freeIfThere(v.at);
    if (v.tombstone) await this.d.placement.freeIfThere(v.tombstone);
  }

  /**
   * Resolves once nothing that began before this call can still name a location it got from the index then:
   * every read (pin) and locked write begun before has ended, and so has every deferred free under way.
   * Compaction waits for it before forgetting where a moved entry was (packing's forwards).
   */
  async unusedBefore(): Promise<void> {
    const before = [...this.deferredFrees];
    await this.pins.epochs.barrier();
    // Also the frees that the last of those reads started as they released their pins.
    await Promise.allSettled([...before, ...this.deferredFrees]);
  }

  /** Resolves when the frees that released reads handed back are done. */
  async deferredFreesDone(): Promise<void> {
    while (this.deferredFrees.size > 0) await Promise.all(this.deferredFrees);
  }

  private track(p: Promise<void>): void {
    const done = p.catch(() => undefined).finally(() => this.deferredFrees.delete(done));
    this.deferredFrees.add(done);
  }

  private async finishDeferred(rowKey: string, v: PendingValue): Promise<void> {
    await this.finishPending(v);
    await this.d.index.write(() => this.d.index.pending.remove(Buffer.from(rowKey)));
  }
}

/** An open read: the version's record, its bytes, and the pins that keep them (a class: no closures per read). */
class PinnedRead implements ReadHandle {
  constructor(
    readonly record: ObjectRecord,
    private readonly placement: Placement,
    private readonly segs: Segment[],
    private readonly size: number,
    private readonly pins: PinHold,
  ) {}

  stream(range?: ByteRangeInclusive): AsyncIterable<Buffer> {
    return openSegments(this.placement, this.segs, this.size, range);
  }

  release(): void {
    this.pins.release();
  }
}

async function* noBytes(): AsyncIterable<Buffer> {}

/** A version's S3 id: its stamp for a real version, `null` for the null version. */
export function versionIdOfMeta(v: ObjectMeta): string {
  return v.versioned && v.seq ? versionIdOf(v.seq) : NULL_VERSION;
}

export function toRecord(
  bucket: string,
  key: Buffer,
  v: ObjectMeta,
  opver: Opver,
  isLatest?: boolean,
): ObjectRecord {
  const r: ObjectRecord = {
    bucket,
    key,
    size: v.size,
    etag: v.etag,
    lastModifiedMs: v.lastModifiedMs,
    headers: v.headers,
    checksums: v.checksums,
    opver,
    versionId: versionIdOfMeta(v),
  };
  if (v.checksumType) r.checksumType = v.checksumType;
  if (v.deleteMarker) r.deleteMarker = true;
  if (isLatest !== undefined) r.isLatest = isLatest;
  if (v.tags?.length) r.tags = v.tags;
  if (v.retention) r.retention = v.retention;
  if (v.legalHold) r.legalHold = true;
  if (v.acl) r.acl = v.acl;
  // A multipart object, or one replicated as a single body that keeps its parts list (records.ts ObjectBody).
  if (v.body.parts)
    r.parts = v.body.parts.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag }));
  return r;
}
