// Multipart uploads in progress as replication units (replica-api.ts UploadState): the upload (bucket id, key,
// upload id: its marker entry 'U'+uploadId and row) and each part (upload id, part number: entry 'P'+..., its
// bytes inline or in a blob), each applied only if its opver is newer than the row this node holds. The removal of
// an upload (completion, abort, lifecycle expiry, or a replicated removal) leaves an upload tombstone: an entry
// 'T'+uploadId of kind 'upload-removed' (records.ts) and its row in the `tombstones` table (keys.ts
// uploadTombstoneKey), which outranks the upload and every part of it whatever their opvers (an upload id is never
// handed out again), and expires by age like a version's tombstone (replica.ts purgeExpired). A version completed
// from the upload on this node counts as its removal too (a completion writes its tombstone just after the
// object's commit).
//
// Commits follow the serial order of local writes: the entry (and blob) durable, then the rows in one index commit
// (flushed unless the index syncs in the background), then the replaced entries freed (protected before the
// commit). A crash leaves a unit whole or absent: recovery keeps a changed marker, part or tombstone entry only if
// its row names it (recovery.ts), and a rebuild lets an upload tombstone outrank its upload (rebuild.ts).
import type { UploadDescription } from './api.ts';
import { collectBody, exactly } from './body.ts';
import { NoSuchUploadError, StorageError } from './errors.ts';
import type { NodeIndex } from './index-db.ts';
import {
  decodeTombstoneKey,
  EntryKind,
  entryKey,
  partKey,
  prefixEnd,
  uploadKey,
  uploadKeyPrefix,
  uploadTombstoneKey,
  versionKeyPrefix,
} from './keys.ts';
import type { KeyedLock } from './locks.ts';
import type { OpverClock } from './opver-clock.ts';
import type { PinTable } from './pins.ts';
import type { Placement } from './placement.ts';
import { openSegments } from './reading.ts';
import {
  compareOpver,
  decodePartValue,
  decodeTombstoneValue,
  decodeUploadValue,
  encodePartValue,
  encodeUploadValue,
  type PartMeta,
  type PartValue,
  type UploadMeta,
  type UploadValue,
  type VolLoc,
} from './records.ts';
import type { ApplyResult, ApplyUploadInput, PartHandle, UploadedPart, UploadState } from './replica-api.ts';
import { getTombstone, putTombstone } from './replica-tombstones.ts';

const MAX_PART_NUMBER = 10_000;
const UPLOAD_TOMBSTONE_TAG = Buffer.from([2]);
const EMPTY = Buffer.alloc(0);

export interface UploadReplicaDeps {
  readonly index: NodeIndex;
  readonly locks: KeyedLock;
  readonly clock: OpverClock;
  readonly placement: Placement;
  /** Reads' pins: a part being sent is pinned like an object being read (compaction keeps its moves followable). */
  readonly pins: PinTable;
  readonly indexSync: 'ack' | 'background';
  readonly smallObjectMaxBytes: number;
  readonly random: (bytes: number) => Buffer;
  readonly now: () => number;
  /** An apply in flight, from before its entry is written until its index commit: volume checkpoints wait. */
  readonly track: { begin(): bigint; end(id: bigint): void };
  /** The part numbers a version of the key completed from `uploadId` uses, if one exists on this node. */
  completedParts(bucket: string, key: Buffer, uploadId: string): Set<number> | undefined;
}

/** The lock of one upload: its marker, its parts and its removal are changed under it (multipart.ts too). */
export const uploadLock = (uploadId: string) => `u:${uploadId}`;

/** The part rows of one upload, by part number order. */
export function partRowsOf(
  index: NodeIndex,
  uploadId: string,
): Array<{ partNumber: number; key: Buffer; value: PartValue }> {
  const prefix = Buffer.from(uploadId, 'latin1');
  const out = [];
  for (const { key, value } of index.parts.getRange({
    start: prefix,
    end: prefixEnd(prefix),
    snapshot: false,
  })) {
    // Upload ids differ in length only if foreign: a longer id with this one as prefix is another upload.
    if (key.length !== prefix.length + 4) continue;
    out.push({
      partNumber: key.readUInt32BE(key.length - 4),
      key: Buffer.from(key),
      value: decodePartValue(value),
    });
  }
  return out;
}

/** What ListParts and replication say of an upload. */
export function describeUpload(u: UploadMeta): UploadDescription {
  const attributes = {
    ...(u.tags?.length ? { tags: u.tags } : {}),
    ...(u.retention ? { retention: u.retention } : {}),
    ...(u.legalHold ? { legalHold: true } : {}),
    ...(u.acl ? { acl: u.acl } : {}),
  };
  return {
    headers: u.headers,
    initiatedMs: u.initiatedMs,
    ...(u.checksumAlgorithm ? { checksumAlgorithm: u.checksumAlgorithm } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
}

function uploadMetaOf(bucket: string, key: Buffer, d: UploadDescription): UploadMeta {
  const a = d.attributes ?? {};
  return {
    bucket,
    key,
    headers: d.headers,
    initiatedMs: d.initiatedMs,
    ...(d.checksumAlgorithm ? { checksumAlgorithm: d.checksumAlgorithm } : {}),
    ...(a.tags?.length ? { tags: a.tags } : {}),
    ...(a.acl ? { acl: a.acl } : {}),
    ...(a.retention ? { retention: a.retention } : {}),
    ...(a.legalHold ? { legalHold: true } : {}),
  };
}

function partOf(p: PartMeta): UploadedPart {
  return { size: p.size, etag: p.etag, checksums: p.checksums, lastModifiedMs: p.lastModifiedMs };
}

function partLocs(p: PartValue): VolLoc[] {
  return p.blobAt ? [p.at, p.blobAt] : [p.at];
}

export class UploadReplica {
  constructor(private readonly d: UploadReplicaDeps) {}

  /** Every upload of the key with its parts (marker first), then every upload tombstone of the key. */
  states(bucket: string, key: Buffer): UploadState[] {
    const { index } = this.d;
    const out: UploadState[] = [];
    const lo = uploadKeyPrefix(bucket, key);
    for (const { value } of index.uploads.getRange({ start: lo, end: prefixEnd(lo), snapshot: false })) {
      const u = decodeUploadValue(value);
      out.push({ bucket, key, uploadId: u.uploadId, opver: u.opver, upload: describeUpload(u) });
      for (const p of partRowsOf(index, u.uploadId))
        out.push({
          bucket,
          key,
          uploadId: u.uploadId,
          partNumber: p.partNumber,
          opver: p.value.opver,
          part: partOf(p.value),
        });
    }
    const tlo = Buffer.concat([versionKeyPrefix(bucket, key), UPLOAD_TOMBSTONE_TAG]);
    for (const { key: tkey, value } of index.tombstones.getRange({
      start: tlo,
      end: prefixEnd(tlo),
      snapshot: false,
    })) {
      const { uploadId } = decodeTombstoneKey(Buffer.from(tkey));
      if (uploadId !== undefined)
        out.push({ bucket, key, uploadId, opver: decodeTombstoneValue(value).opver });
    }
    return out;
  }

  /** One unit's state now: the upload (or its tombstone), or one part; undefined when the node holds nothing of it. */
  unit(bucket: string, key: Buffer, uploadId: string, partNumber?: number): UploadState | undefined {
    const { index } = this.d;
    const row = index.get(index.uploads, uploadKey(bucket, key, uploadId));
    if (partNumber !== undefined) {
      const p = row && index.get(index.parts, partKey(uploadId, partNumber));
      if (!p) return undefined;
      const v = decodePartValue(p);
      return { bucket, key, uploadId, partNumber, opver: v.opver, part: partOf(v) };
    }
    if (row) {
      const u = decodeUploadValue(row);
      return { bucket, key, uploadId, opver: u.opver, upload: describeUpload(u) };
    }
    const t = getTombstone(index, uploadTombstoneKey(bucket, key, uploadId));
    return t && { bucket, key, uploadId, opver: t.opver };
  }

  async apply(input: ApplyUploadInput): Promise<ApplyResult> {
    const { state } = input;
    const { bucket, key, uploadId } = state;
    uploadKey(bucket, key, uploadId); // an id or key that cannot be an upload's: NoSuchUpload before anything
    if (state.partNumber === undefined) {
      return this.d.locks.run(uploadLock(uploadId), () =>
        state.upload ? this.placeUploadLocked(state, state.upload) : this.removeLocked(state),
      );
    }
    const n = state.partNumber;
    if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER)
      throw new StorageError('InvalidArgument', `part number must be 1..${MAX_PART_NUMBER}`);
    if (!state.part) throw new StorageError('InvalidArgument', 'a part state carries its part');
    return this.applyPart(input, state.part);
  }

  /** A part's bytes for a copy to another node (replica-ship.ts); undefined when not held (any more). */
  async openPart(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber: number,
  ): Promise<PartHandle | undefined> {
    const { index, placement } = this.d;
    const uk = uploadKey(bucket, key, uploadId);
    const pk = partKey(uploadId, partNumber);
    for (;;) {
      const row = index.get(index.parts, pk);
      if (!row || !index.get(index.uploads, uk)) return undefined;
      const p = decodePartValue(row);
      const state: UploadState = { bucket, key, uploadId, partNumber, opver: p.opver, part: partOf(p) };
      const at = p.blobAt ?? p.at;
      // Pinned in the same synchronous step as the row was read: compaction keeps a move followable meanwhile.
      const pinned = this.d.pins.tryPin([at]);
      if (pinned.wait) {
        await pinned.wait;
        continue;
      }
      if (p.blobAt) {
        // A singlefile is never reused: a removal meanwhile makes the read fail, never read another's bytes.
        return {
          state,
          stream: () => openSegments(placement, [{ at, size: p.size }], p.size),
          release: () => pinned.release(),
        };
      }
      let data: Buffer;
      try {
        data = p.size > 0 ? await placement.volume(at.volumeId).read(at.location) : EMPTY;
      } catch (err) {
        pinned.release();
        throw err;
      }
      pinned.release();
      // An entry is freed only after its row changed: the same row after the read means these are its bytes.
      const after = index.get(index.parts, pk);
      if (!after || compareOpver(decodePartValue(after).opver, p.opver) !== 0) continue;
      return { state, stream: () => once(data), release: () => undefined };
    }
  }

  /**
   * Removes the upload (its row, the part rows no version completed from it uses) and leaves its tombstone at
   * `opver`: the entry durable first, then one commit, then the space freed. `onCommit` runs right after the
   * commit (the abort settles its binlog record there). `completed`: the caller just completed the upload (its
   * commit already dropped the row and the unused parts; the parts left are the version's, which a concurrent
   * overwrite of the key frees with it), so only the tombstone is added. Under the upload's lock.
   */
  async removeLocked(
    state: Pick<UploadState, 'bucket' | 'key' | 'uploadId' | 'opver'>,
    opts: { onCommit?: () => void; completed?: boolean } = {},
  ): Promise<ApplyResult> {
    const d = this.d;
    const { bucket, key, uploadId, opver } = state;
    const tkey = uploadTombstoneKey(bucket, key, uploadId);
    const held = getTombstone(d.index, tkey);
    if (held && compareOpver(held.opver, opver) >= 0) return 'stale';
    // Removed here already (by an older removal): only the tombstone moves up to the newer one, so every node
    // ends with the same; the rows went with the first.
    const settled = opts.completed === true || held !== undefined;
    const id = d.track.begin();
    try {
      d.clock.advanceTo(opver.counter);
      const createdMs = d.now();
      const { at } = await d.placement.put({
        key: entryKey(EntryKind.uploadTombstone, Buffer.from(uploadId, 'latin1')),
        meta: { kind: 'upload-removed', bucket, key },
        opver,
        data: EMPTY,
        dataBytes: 0,
        nowMs: createdMs,
      });
      const uk = uploadKey(bucket, key, uploadId);
      // A completion's commit took the row and the unused parts (with a background index its transaction may
      // not have landed yet: never look, or they would be freed twice).
      const row = settled ? undefined : d.index.get(d.index.uploads, uk);
      const upload = row ? decodeUploadValue(row) : undefined;
      const used = d.completedParts(bucket, key, uploadId) ?? new Set<number>();
      const parts = settled ? [] : partRowsOf(d.index, uploadId).filter((p) => !used.has(p.partNumber));
      const toFree = [
        ...(upload ? [upload.at] : []),
        ...parts.flatMap((p) => partLocs(p.value)),
        ...(held?.at ? [held.at] : []),
      ];
      const release = await d.placement.protect(toFree);
      try {
        let heldAt: VolLoc | undefined;
        await this.commit(() => {
          heldAt = getTombstone(d.index, tkey)?.at; // where the older tombstone is now (compaction moves it)
          if (upload) d.index.uploads.remove(uk);
          for (const p of parts) d.index.parts.remove(p.key);
          putTombstone(d.index, tkey, { opver, createdMs, at: d.placement.resolve(at) });
          d.index.putCounter(d.clock.counter);
        });
        opts.onCommit?.();
        const rest = [...(upload ? [upload.at] : []), ...parts.flatMap((p) => partLocs(p.value))];
        await d.placement.free(heldAt ? [...rest, heldAt] : rest);
      } finally {
        release();
      }
      return 'applied';
    } finally {
      d.track.end(id);
    }
  }

  // ---- internals ----

  /** Whether the upload is gone on this node: its tombstone, or a version completed from it. */
  private removed(bucket: string, key: Buffer, uploadId: string): boolean {
    return (
      getTombstone(this.d.index, uploadTombstoneKey(bucket, key, uploadId)) !== undefined ||
      this.d.completedParts(bucket, key, uploadId) !== undefined
    );
  }

  private async placeUploadLocked(state: UploadState, upload: UploadDescription): Promise<ApplyResult> {
    const d = this.d;
    const { bucket, key, uploadId, opver } = state;
    if (this.removed(bucket, key, uploadId)) return 'stale';
    const uk = uploadKey(bucket, key, uploadId);
    const row = d.index.get(d.index.uploads, uk);
    const old = row ? decodeUploadValue(row) : undefined;
    if (old && compareOpver(old.opver, opver) >= 0) return 'stale';
    const id = d.track.begin();
    try {
      d.clock.advanceTo(opver.counter);
      const meta = uploadMetaOf(bucket, key, upload);
      const { at } = await d.placement.put({
        key: entryKey(EntryKind.upload, Buffer.from(uploadId, 'latin1')),
        meta: { kind: 'upload', meta },
        opver,
        data: EMPTY,
        dataBytes: 0,
        nowMs: d.now(),
      });
      const release = await d.placement.protect(old ? [old.at] : []);
      try {
        await this.commit(() => {
          const value: UploadValue = { ...meta, uploadId, opver, at: d.placement.resolve(at) };
          d.index.uploads.put(uk, encodeUploadValue(value));
          d.index.putCounter(d.clock.counter);
        });
        if (old) await d.placement.free([old.at]);
      } finally {
        release();
      }
      return 'applied';
    } finally {
      d.track.end(id);
    }
  }

  /** Whether a part state is new here: 'stale', 'missing' (its upload is not held), or 'new'. */
  private judgePart(state: UploadState, pk: Buffer): 'stale' | 'missing' | 'new' {
    const { index } = this.d;
    if (this.removed(state.bucket, state.key, state.uploadId)) return 'stale';
    if (!index.get(index.uploads, uploadKey(state.bucket, state.key, state.uploadId))) return 'missing';
    const row = index.get(index.parts, pk);
    if (row && compareOpver(decodePartValue(row).opver, state.opver) >= 0) return 'stale';
    return 'new';
  }

  private async applyPart(input: ApplyUploadInput, part: UploadedPart): Promise<ApplyResult> {
    const d = this.d;
    const { state } = input;
    const pk = partKey(state.uploadId, state.partNumber!);
    // Before any byte is read: duplicates and late parts of removed uploads end here.
    const first = this.judgePart(state, pk);
    if (first === 'stale') return 'stale';
    if (first === 'missing') throw new NoSuchUploadError(state.uploadId);
    const id = d.track.begin();
    const written: VolLoc[] = [];
    try {
      d.clock.advanceTo(state.opver.counter);
      const nowMs = d.now();
      let data: Buffer = EMPTY;
      let blobAt: VolLoc | undefined;
      let blobId: Buffer | undefined;
      if (part.size > 0 && !input.body) throw new StorageError('InvalidArgument', 'a part needs its bytes');
      if (part.size <= d.smallObjectMaxBytes) data = await collectBody(input.body ?? none(), part.size);
      else {
        blobId = d.random(16);
        blobAt = (
          await d.placement.put({
            key: entryKey(EntryKind.blob, blobId),
            meta: { kind: 'blob', owner: { table: 'parts', key: pk } },
            opver: state.opver,
            data: exactly(input.body!, part.size),
            dataBytes: part.size,
            nowMs,
          })
        ).at;
        written.push(blobAt);
      }
      const meta: PartMeta = { ...part, ...(blobId ? { blobId } : {}) };
      const { at } = await d.placement.put({
        key: entryKey(EntryKind.part, pk),
        meta: { kind: 'part', meta },
        opver: state.opver,
        data,
        dataBytes: data.length,
        nowMs,
      });
      written.push(at);
      return await d.locks.run(uploadLock(state.uploadId), async () => {
        const now = this.judgePart(state, pk);
        if (now === 'stale') return 'stale';
        if (now === 'missing') throw new NoSuchUploadError(state.uploadId);
        const row = d.index.get(d.index.parts, pk);
        const old = row ? decodePartValue(row) : undefined;
        const toFree = old ? partLocs(old) : [];
        const release = await d.placement.protect(toFree);
        try {
          await this.commit(() => {
            const value: PartValue = {
              ...meta,
              opver: state.opver,
              at: d.placement.resolve(at),
              ...(blobAt ? { blobAt: d.placement.resolve(blobAt) } : {}),
            };
            d.index.parts.put(pk, encodePartValue(value));
            d.index.putCounter(d.clock.counter);
          });
          written.length = 0;
          await d.placement.free(toFree);
        } finally {
          release();
        }
        return 'applied';
      });
    } finally {
      if (written.length) await d.placement.free(written).catch(() => undefined);
      d.track.end(id);
    }
  }

  /** One index commit, landed, and flushed unless the index syncs in the background. */
  private async commit(fn: () => void): Promise<void> {
    await this.d.index.commit(fn);
    if (this.d.indexSync !== 'background') await this.d.index.env.flushed;
  }
}

async function* once(b: Buffer): AsyncIterable<Buffer> {
  if (b.length > 0) yield b;
}

async function* none(): AsyncIterable<Buffer> {}
