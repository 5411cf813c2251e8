// Multipart uploads. An upload is a marker entry 'U'+uploadId; each part is an entry
// 'P'+uploadId+partNumber (data inline when small, else a blob singlefile written first).
// Completion writes the object's manifest entry listing its parts and copies no bytes; the
// parts stay where they are and become the object's segments.
import { createHash } from 'node:crypto';
import type {
  BodyFinish,
  ChecksumAlgorithm,
  Checksums,
  ListedUpload,
  ListPartsResult,
  ObjectRecord,
  Opver,
  StoredHeaders,
  UploadAttributes,
  UploadPartInput,
  VersioningMode,
} from './api.ts';
import type { Binlog, BinlogRecord } from './binlog.ts';
import { collectBody, exactly, stripQuotes } from './body.ts';
import { compositeChecksums } from './composite-checksum.ts';
import {
  EntityTooSmallError,
  InvalidPartError,
  InvalidPartOrderError,
  NoSuchUploadError,
  StorageError,
} from './errors.ts';
import type { NodeIndex } from './index-db.ts';
import {
  boundMarker,
  decodeUploadKey,
  EntryKind,
  entryKey,
  OBJECT_KEY_BYTES_MAX,
  partKey,
  prefixEnd,
  successor,
  UPLOAD_ID_BYTES_MAX,
  uploadKey,
  uploadKeyPrefix,
  uploadScanPrefix,
} from './keys.ts';
import type { KeyedLock } from './locks.ts';
import type { OpverClock } from './opver-clock.ts';
import type { Placement } from './placement.ts';
import {
  compareOpver,
  decodePartValue,
  decodeUploadValue,
  encodePartValue,
  encodeUploadValue,
  type ObjectMeta,
  type PartValue,
  type UploadMeta,
  type UploadValue,
  type VolLoc,
} from './records.ts';
import { describeUpload, partRowsOf, uploadLock } from './replica-uploads.ts';
import type { ObjectCommit } from './write-path.ts';

const MAX_PART_NUMBER = 10000;

/** What multipart uses of the node: nothing else. */
export interface MultipartDeps {
  readonly index: NodeIndex;
  readonly binlog: Binlog;
  readonly locks: KeyedLock;
  readonly clock: OpverClock;
  readonly placement: Placement;
  /** Completion is an object commit (write-path.ts) that also drops the upload. */
  commitObject(c: ObjectCommit): Promise<ObjectRecord>;
  /** The version of a key that completion `uploadId` produced, if it still exists (see `completed`). */
  completedVersion(
    bucket: string,
    key: Buffer,
    uploadId: string,
  ): { meta: ObjectMeta; record: ObjectRecord } | undefined;
  random(bytes: number): Buffer;
  /**
   * Removes an upload and leaves its tombstone (replica-uploads.ts), under the upload's lock; `onCommit` runs
   * right after its index commit.
   */
  removeUpload(
    u: { bucket: string; key: Buffer; uploadId: string; opver: Opver },
    opts?: { onCommit?: () => void; completed?: boolean },
  ): Promise<'applied' | 'stale'>;
  /** Parts up to this size are inline entries; larger ones are blobs written first. */
  readonly smallObjectMaxBytes: number;
  /** S3's 5 MiB minimum for every part but the last. */
  readonly minPartBytes: number;
}

export class Multipart {
  constructor(private readonly node: MultipartDeps) {}

  private upload(bucket: string, key: Buffer, uploadId: string): UploadValue {
    const v = this.node.index.get(this.node.index.uploads, uploadKey(bucket, key, uploadId));
    if (!v) throw new NoSuchUploadError(uploadId);
    return decodeUploadValue(v);
  }

  async create(
    bucket: string,
    key: Buffer,
    headers: StoredHeaders,
    nowMs: number,
    checksumAlgorithm?: ChecksumAlgorithm,
    attributes: UploadAttributes = {},
  ): Promise<string> {
    const node = this.node;
    const uploadId = node.random(16).toString('hex');
    const opver = node.clock.nextRecorded();
    const meta: UploadMeta = {
      bucket,
      key,
      headers,
      initiatedMs: nowMs,
      ...(checksumAlgorithm ? { checksumAlgorithm } : {}),
      ...(attributes.tags?.length ? { tags: attributes.tags } : {}),
      ...(attributes.acl ? { acl: attributes.acl } : {}),
      ...(attributes.retention ? { retention: attributes.retention } : {}),
      ...(attributes.legalHold ? { legalHold: true } : {}),
    };
    const ekey = entryKey(EntryKind.upload, Buffer.from(uploadId, 'latin1'));
    // Under the (new) upload's lock from the put to the row: a locked section counts as an operation in
    // progress, so compaction keeps a move of the marker followable until the row names where it is now.
    await node.locks.run(uploadLock(uploadId), async () => {
      const { at } = await node.placement.put({
        key: ekey,
        meta: { kind: 'upload', meta },
        opver,
        data: Buffer.alloc(0),
        dataBytes: 0,
        nowMs,
      });
      const value: UploadValue = { ...meta, uploadId, opver, at };
      await node.index.commit(() => {
        value.at = node.placement.resolve(value.at);
        node.index.uploads.put(uploadKey(bucket, key, uploadId), encodeUploadValue(value));
        node.index.putCounter(node.clock.counter);
      });
    });
    await this.record({ op: 'upload-create', bucket, key, opver, size: 0, uploadId });
    return uploadId;
  }

  async uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    const node = this.node;
    const { bucket, key, uploadId, partNumber, nowMs } = input;
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new StorageError('InvalidArgument', `part number must be 1..${MAX_PART_NUMBER}`);
    }
    this.upload(bucket, key, uploadId);
    const pk = partKey(uploadId, partNumber);
    const written: VolLoc[] = [];
    let opver: Opver | undefined;
    try {
      let data: Buffer = Buffer.alloc(0);
      let blobAt: VolLoc | undefined;
      let blobId: Buffer | undefined;
      if (input.size <= node.smallObjectMaxBytes) data = await collectBody(input.body, input.size);
      else {
        blobId = node.random(16);
        const body = exactly(input.body, input.size);
        blobAt = (
          await node.placement.put({
            key: entryKey(EntryKind.blob, blobId),
            meta: { kind: 'blob', owner: { table: 'parts', key: pk } },
            opver: node.clock.next(),
            data: body,
            dataBytes: input.size,
            nowMs,
          })
        ).at;
        written.push(blobAt);
      }
      const fin = await input.finish();
      const meta = {
        size: input.size,
        etag: stripQuotes(fin.etag),
        checksums: fin.checksums,
        lastModifiedMs: nowMs,
        ...(blobId ? { blobId } : {}),
      };
      opver = node.clock.nextRecorded();
      const partOpver = opver;
      const { at } = await node.placement.put({
        key: entryKey(EntryKind.part, pk),
        meta: { kind: 'part', meta },
        opver,
        data,
        dataBytes: data.length,
        nowMs,
      });
      written.push(at);
      const value: PartValue = { ...meta, opver: partOpver, at, ...(blobAt ? { blobAt } : {}) };
      await node.locks.run(uploadLock(uploadId), async () => {
        this.upload(bucket, key, uploadId);
        const curRow = node.index.get(node.index.parts, pk);
        const cur = curRow ? decodePartValue(curRow) : undefined;
        if (cur && compareOpver(cur.opver, partOpver) > 0) return; // a later upload of this part already won
        // The replaced part is freed after the commit: protected until then (recovery.ts).
        const release = await node.placement.protect(cur ? partLocs(cur) : []);
        try {
          await node.index.commit(() => {
            // The part's entry may have been moved by compaction since its put (there was no row to follow).
            node.index.parts.put(pk, encodePartValue({ ...value, at: node.placement.resolve(value.at) }));
            node.index.putCounter(node.clock.counter);
          });
          written.length = 0;
          await this.record({
            op: 'upload-part',
            bucket,
            key,
            opver: partOpver,
            size: meta.size,
            uploadId,
            partNumber,
          });
          if (cur) await node.placement.free(partLocs(cur));
        } finally {
          release();
        }
      });
      if (written.length) await node.placement.free(written);
      return { etag: meta.etag, checksums: meta.checksums };
    } catch (err) {
      await node.placement.free(written).catch(() => undefined);
      throw err;
    } finally {
      if (opver) node.clock.recorded(opver);
    }
  }

  private partRows(uploadId: string): Array<{ partNumber: number; key: Buffer; value: PartValue }> {
    return partRowsOf(this.node.index, uploadId);
  }

  async complete(
    bucket: string,
    key: Buffer,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
    nowMs: number,
    versioning?: VersioningMode,
  ): Promise<ObjectRecord> {
    const node = this.node;
    return node.locks.run(uploadLock(uploadId), async () => {
      const uploadRow = node.index.get(node.index.uploads, uploadKey(bucket, key, uploadId));
      if (!uploadRow) return this.completed(bucket, key, uploadId, parts);
      const upload = decodeUploadValue(uploadRow);
      const rows = new Map(this.partRows(uploadId).map((r) => [r.partNumber, r]));
      const chosen = this.validate(parts, rows);
      const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag, 'hex')));
      const sum = compositeChecksums(upload.checksumAlgorithm, chosen);
      const etag = `${createHash('md5').update(md5s).digest('hex')}-${chosen.length}`;
      const meta: ObjectMeta = {
        size: chosen.reduce((n, p) => n + p.size, 0),
        etag,
        lastModifiedMs: nowMs,
        headers: upload.headers,
        checksums: sum.checksums,
        ...(upload.tags ? { tags: upload.tags } : {}),
        ...(upload.acl ? { acl: upload.acl } : {}),
        body: {
          kind: 'multipart',
          uploadId,
          parts: chosen.map((p) => ({ partNumber: p.partNumber, size: p.size, etag: p.etag })),
        },
      };
      if (sum.checksumType) meta.checksumType = sum.checksumType;
      if (upload.retention) meta.retention = upload.retention;
      if (upload.legalHold) meta.legalHold = true;
      const used = new Set(chosen.map((p) => p.partNumber));
      const unused = [...rows.values()].filter((r) => !used.has(r.partNumber));
      const freeAfter = [upload.at, ...unused.flatMap((r) => partLocs(r.value))];
      const record = await node.commitObject({
        bucket,
        key,
        meta,
        data: Buffer.alloc(0),
        nowMs,
        versioning,
        completes: {
          uploadId,
          inTxn: () => {
            node.index.uploads.remove(uploadKey(bucket, key, uploadId));
            for (const r of unused) node.index.parts.remove(r.key);
          },
          freeAfter,
        },
      });
      // The upload's tombstone, so a late copy of it or of a part from a mirror cannot bring it back there or here
      // (until it lands, the version completed from it says the same: replica-uploads.ts `removed`).
      await node.removeUpload({ bucket, key, uploadId, opver: node.clock.next() }, { completed: true });
      return record;
    });
  }

  /**
   * A completion repeated after it succeeded (the client lost the answer and retried): AWS answers 200 with the
   * same ETag. The record of a completed upload is the manifest of the version it produced, which names its
   * upload id and parts: durable and derivable from the volumes like any object row (it survives a restart and
   * `rebuild-index`), and bounded by nothing but the object itself. It lasts as long as that version exists:
   * on a versioned bucket after later writes too (the answer names it), on an unversioned one until it is
   * overwritten or deleted; then telling the retry "200, your object is there" would be false, so the answer
   * is NoSuchUpload, as for any unknown upload. Only the same part list counts as a repeat: another list is
   * another request, and the upload it names is gone.
   */
  private completed(
    bucket: string,
    key: Buffer,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
  ): ObjectRecord {
    const cur = this.node.completedVersion(bucket, key, uploadId);
    const body = cur?.meta.body;
    if (
      !cur ||
      body?.kind !== 'multipart' ||
      body.parts.length !== parts.length ||
      body.parts.some(
        (p, i) => p.partNumber !== parts[i]!.partNumber || p.etag !== stripQuotes(parts[i]!.etag),
      )
    ) {
      throw new NoSuchUploadError(uploadId);
    }
    return cur.record;
  }

  private validate(
    parts: Array<{ partNumber: number; etag: string }>,
    rows: Map<number, { value: PartValue }>,
  ): Array<{ partNumber: number; size: number; etag: string; checksums: Checksums }> {
    if (parts.length === 0) throw new InvalidPartError('at least one part must be specified');
    const out = [];
    let prev = 0;
    for (const p of parts) {
      if (p.partNumber <= prev) throw new InvalidPartOrderError();
      prev = p.partNumber;
      const row = rows.get(p.partNumber);
      if (!row || row.value.etag !== stripQuotes(p.etag))
        throw new InvalidPartError(`part ${p.partNumber} not found or its ETag differs`);
      out.push({
        partNumber: p.partNumber,
        size: row.value.size,
        etag: row.value.etag,
        checksums: row.value.checksums,
      });
    }
    for (let i = 0; i < out.length - 1; i++) {
      if (out[i]!.size < this.node.minPartBytes)
        throw new EntityTooSmallError(
          `part ${out[i]!.partNumber} is ${out[i]!.size} bytes, below the ${this.node.minPartBytes}-byte minimum`,
        );
    }
    return out;
  }

  async abort(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    const node = this.node;
    await node.locks.run(uploadLock(uploadId), async () => {
      const upload = this.upload(bucket, key, uploadId);
      // Record first (voided if the removal does not commit; recovery voids it if a crash leaves the upload), then
      // the upload's tombstone entry, then the rows in one commit: the tombstone outranks the upload in a rebuild.
      const opver = node.clock.next(upload.opver);
      const ticket = node.binlog.begin({ op: 'upload-abort', bucket, key, opver, size: 0, uploadId });
      await ticket.durable;
      let committed = false;
      try {
        const r = await node.removeUpload(
          { bucket, key, uploadId, opver },
          {
            onCommit: () => {
              committed = true;
              node.binlog.settle(ticket);
            },
          },
        );
        // Its tombstone already here (cannot be while its row is: every removal takes both in one commit).
        if (r === 'stale') throw new NoSuchUploadError(uploadId);
      } catch (err) {
        if (!committed) await node.binlog.voidRecord(ticket);
        throw err;
      }
    });
  }

  /** Appends the record of an op that already succeeded (its entry is durable). */
  private async record(rec: BinlogRecord): Promise<void> {
    try {
      await this.node.binlog.append(rec);
    } finally {
      this.node.clock.recorded(rec.opver);
    }
  }

  async listParts(
    bucket: string,
    key: Buffer,
    uploadId: string,
    opts: { afterPart: number; limit: number },
  ): Promise<ListPartsResult> {
    const upload = this.upload(bucket, key, uploadId);
    const rows = this.partRows(uploadId).filter((r) => r.partNumber > opts.afterPart);
    const page = rows.slice(0, Math.max(0, opts.limit));
    return {
      parts: page.map((r) => ({
        partNumber: r.partNumber,
        size: r.value.size,
        etag: r.value.etag,
        lastModifiedMs: r.value.lastModifiedMs,
        checksums: r.value.checksums,
      })),
      isTruncated: rows.length > page.length,
      upload: describeUpload(upload),
    };
  }

  async listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]> {
    const out: ListedUpload[] = [];
    // No key is longer than OBJECT_KEY_BYTES_MAX, so a longer prefix matches nothing.
    if (opts.limit <= 0 || opts.prefix.length > OBJECT_KEY_BYTES_MAX) return out;
    const lo = uploadScanPrefix(bucket, opts.prefix);
    let start = lo;
    if (opts.afterKey) {
      // Markers of any length keep their meaning when cut to index size (boundMarker); a key marker longer than
      // any key is equal to none, so its upload-id marker does not apply.
      const afterKey = boundMarker(opts.afterKey, OBJECT_KEY_BYTES_MAX);
      const after =
        opts.afterUploadId && afterKey.length === opts.afterKey.length
          ? successor(
              Buffer.concat([
                uploadKeyPrefix(bucket, afterKey),
                boundMarker(Buffer.from(opts.afterUploadId, 'utf8'), UPLOAD_ID_BYTES_MAX),
              ]),
            )
          : prefixEnd(uploadKeyPrefix(bucket, afterKey))!;
      if (Buffer.compare(after, start) > 0) start = after;
    }
    for (const { key, value } of this.node.index.uploads.getRange({
      start,
      end: prefixEnd(lo),
      limit: opts.limit,
      snapshot: false,
    })) {
      const k = decodeUploadKey(key);
      out.push({ key: k.key, uploadId: k.uploadId, initiatedMs: decodeUploadValue(value).initiatedMs });
    }
    return out;
  }

  async expire(nowMs: number, maxAgeMs: number): Promise<number> {
    const stale: UploadValue[] = [];
    for (const { value } of this.node.index.uploads.getRange({ snapshot: false })) {
      const u = decodeUploadValue(value);
      if (u.initiatedMs < nowMs - maxAgeMs) stale.push(u);
    }
    for (const u of stale) {
      try {
        await this.abort(u.bucket, u.key, u.uploadId);
      } catch (err) {
        if (!(err instanceof NoSuchUploadError)) throw err;
      }
    }
    return stale.length;
  }
}

function partLocs(p: PartValue): VolLoc[] {
  return p.blobAt ? [p.at, p.blobAt] : [p.at];
}
