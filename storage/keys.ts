// Order-preserving binary keys for the LMDB index (keyEncoding 'binary', compared with memcmp).
//
// objectKey(bucket, key) = esc(bucket) 0x00 key
//   esc() maps 0x00 -> 0x01 0x01 and 0x01 -> 0x01 0x02 and leaves other bytes alone, so the 0x00
//   terminator sorts below every escaped byte. Hence (bucket, key) order is memcmp order: buckets in
//   byte order (a bucket that is a prefix of another sorts first), then raw key bytes in
//   Buffer.compare order. S3 bucket names never hold 0x00/0x01, so esc() is the identity for them,
//   but the encoding stays correct for any string.
// uploadKey(bucket, key, uploadId) = esc(bucket) 0x00 lift(key) 0x00 uploadId
//   the key needs a terminator because the upload id follows it (keys may contain 0x00). lift() adds 1 to
//   every byte below 0xFE and writes 0xFE as 0xFF 0x01, 0xFF as 0xFF 0x02: order-preserving, no 0x00 in
//   its output, and no longer than its input for UTF-8 (which never holds 0xFE or 0xFF). Escaping 0x00/0x01
//   instead doubled a key of control characters: 1,024 x U+0001 became 2,048 bytes, beyond LMDB's limit.
//
// LMDB keys are at most INDEX_KEY_BYTES_MAX bytes, and lmdb-js is left broken for the whole process by a
// longer one, so every component is bounded before it gets here: object keys at OBJECT_KEY_BYTES_MAX
// (S3's 1,024), upload ids at UPLOAD_ID_BYTES_MAX, bucket ids at 63 (an incarnation id is 33 bytes; a bucket
// created before incarnations uses its name, at most 63). The longest index key is then
// 63 + 1 + 1,024 + 1 + 128 = 1,217 bytes (an upload), see keys.test.ts.

import { NoSuchUploadError, StorageError } from './errors.ts';

const SEP = 0x00;
const ESC = 0x01;

/** LMDB's compiled-in maximum key size. */
export const INDEX_KEY_BYTES_MAX = 1978;
/** The longest object key storage accepts (S3's limit); a longer prefix matches nothing. */
export const OBJECT_KEY_BYTES_MAX = 1024;
/** Upload ids are ours (32 hex digits today); anything longer cannot name an upload. */
export const UPLOAD_ID_BYTES_MAX = 128;

/**
 * A listing marker of any length, made index-sized without changing its meaning: for values of at most
 * `max` bytes, "greater than m" equals "greater than m's first `max` bytes" (the first difference lies
 * within them, or m is longer than every candidate and they stop before it).
 */
export function boundMarker(marker: Buffer, max: number): Buffer {
  return marker.length > max ? marker.subarray(0, max) : marker;
}

function escapedLength(src: Buffer): number {
  let n = src.length;
  for (let i = 0; i < src.length; i++) if (src[i]! <= ESC) n++;
  return n;
}

function writeEscaped(src: Buffer, dst: Buffer, at: number): number {
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b <= ESC) {
      dst[at++] = ESC;
      dst[at++] = b + 1;
    } else dst[at++] = b;
  }
  return at;
}

/** Reads an escaped run ending at a 0x00 terminator; returns the bytes and the index after the terminator. */
function readEscaped(src: Buffer, from: number): { bytes: Buffer; next: number } {
  const out = Buffer.allocUnsafe(src.length - from);
  let n = 0;
  let i = from;
  while (i < src.length && src[i] !== SEP) {
    const b = src[i++]!;
    if (b === ESC) out[n++] = src[i++]! - 1;
    else out[n++] = b;
  }
  if (i >= src.length) throw new Error('index key without terminator');
  return { bytes: out.subarray(0, n), next: i + 1 };
}

/** The prefix every object key of `bucket` starts with. */
export function bucketPrefix(bucket: string): Buffer {
  const b = Buffer.from(bucket, 'utf8');
  const out = Buffer.allocUnsafe(escapedLength(b) + 1);
  const at = writeEscaped(b, out, 0);
  out[at] = SEP;
  return out;
}

/** The index key of an object; a key longer than S3 allows never reaches LMDB (KeyTooLongError). */
export function objectKey(bucket: string, key: Buffer): Buffer {
  if (key.length > OBJECT_KEY_BYTES_MAX) {
    throw new StorageError('KeyTooLongError', `key of ${key.length} bytes; at most ${OBJECT_KEY_BYTES_MAX}`);
  }
  return Buffer.concat([bucketPrefix(bucket), key]);
}

export function decodeObjectKey(encoded: Buffer): { bucket: string; key: Buffer } {
  const { bytes, next } = readEscaped(encoded, 0);
  return { bucket: bytes.toString('utf8'), key: Buffer.from(encoded.subarray(next)) };
}

const LIFT_HIGH = 0xff;

function liftedLength(src: Buffer): number {
  let n = src.length;
  for (let i = 0; i < src.length; i++) if (src[i]! >= 0xfe) n++;
  return n;
}

function writeLifted(src: Buffer, dst: Buffer, at: number): number {
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b < 0xfe) dst[at++] = b + 1;
    else {
      dst[at++] = LIFT_HIGH;
      dst[at++] = b - 0xfd; // 0xFE -> 1, 0xFF -> 2
    }
  }
  return at;
}

/** Reads a lifted run ending at a 0x00 terminator; returns the bytes and the index after the terminator. */
function readLifted(src: Buffer, from: number): { bytes: Buffer; next: number } {
  const out = Buffer.allocUnsafe(src.length - from);
  let n = 0;
  let i = from;
  while (i < src.length && src[i] !== SEP) {
    const b = src[i++]!;
    out[n++] = b === LIFT_HIGH ? src[i++]! + 0xfd : b - 1;
  }
  if (i >= src.length) throw new Error('index key without terminator');
  return { bytes: out.subarray(0, n), next: i + 1 };
}

/** Prefix of every upload key for (bucket, key): esc(bucket) 0 lift(key) 0. */
export function uploadKeyPrefix(bucket: string, key: Buffer): Buffer {
  const head = bucketPrefix(bucket);
  const out = Buffer.allocUnsafe(head.length + liftedLength(key) + 1);
  head.copy(out, 0);
  const at = writeLifted(key, out, head.length);
  out[at] = SEP;
  return fitsIndex(out);
}

/**
 * The last guard before LMDB. Unreachable for S3 input (UTF-8 keys of at most 1,024 bytes never lift longer),
 * but a storage caller with other bytes gets a typed error instead of a process-wide broken lmdb-js.
 */
function fitsIndex(k: Buffer): Buffer {
  if (k.length + UPLOAD_ID_BYTES_MAX > INDEX_KEY_BYTES_MAX) {
    throw new StorageError('KeyTooLongError', 'key too long for the index once encoded');
  }
  return k;
}

/** Whether `uploadId` could name an upload of ours: printable ASCII, not longer than any we hand out. */
export function isPossibleUploadId(uploadId: string): boolean {
  return uploadId.length > 0 && uploadId.length <= UPLOAD_ID_BYTES_MAX && /^[\x21-\x7e]+$/.test(uploadId);
}

/** The index key of an upload; ids that cannot be ours and over-long keys are NoSuchUpload, never an LMDB key. */
export function uploadKey(bucket: string, key: Buffer, uploadId: string): Buffer {
  if (!isPossibleUploadId(uploadId) || key.length > OBJECT_KEY_BYTES_MAX)
    throw new NoSuchUploadError(uploadId);
  return Buffer.concat([uploadKeyPrefix(bucket, key), Buffer.from(uploadId, 'latin1')]);
}

/** Prefix under which all uploads of keys starting with `keyPrefix` lie (lifted, no terminator). */
export function uploadScanPrefix(bucket: string, keyPrefix: Buffer): Buffer {
  const head = bucketPrefix(bucket);
  const out = Buffer.allocUnsafe(head.length + liftedLength(keyPrefix));
  head.copy(out, 0);
  writeLifted(keyPrefix, out, head.length);
  return out;
}

export function decodeUploadKey(encoded: Buffer): { bucket: string; key: Buffer; uploadId: string } {
  const b = readEscaped(encoded, 0);
  const k = readLifted(encoded, b.next);
  return {
    bucket: b.bytes.toString('utf8'),
    key: Buffer.from(k.bytes),
    uploadId: encoded.subarray(k.next).toString('latin1'),
  };
}

/** Smallest key strictly greater than every key starting with `prefix` (undefined: no upper bound). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** Smallest key strictly greater than `k`: k followed by 0x00. */
export function successor(k: Buffer): Buffer {
  const out = Buffer.alloc(k.length + 1);
  k.copy(out, 0);
  return out;
}

/** Volume entry keys: a one-byte namespace so objects, uploads, parts and blobs never collide. */
export const EntryKind = {
  /** The null version of an object: 'O' + objectKey. */
  object: 0x4f /* O */,
  /** Any other version: 'V' + objectKey + the 12-byte version stamp (versionStamp). */
  version: 0x56 /* V */,
  upload: 0x55 /* U */,
  /** A removed upload's tombstone: 'T' + uploadId (replica-uploads.ts); apart from 'U' so neither replaces the other. */
  uploadTombstone: 0x54 /* T */,
  part: 0x50 /* P */,
  blob: 0x42 /* B */,
} as const;

export function entryKey(kind: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = kind;
  body.copy(out, 1);
  return out;
}

// ---- versions ----
//
// A version is identified by its creation opver (the "stamp": counter and node id). Its id as S3 sees it is
// the stamp's 12 bytes (counter u64 BE, node id u32 BE) in base64url: opaque, URL-safe, unique per key.
// The null version has the id `null` and lives in the 'O' entry.
//
// versionKey(bucket, key, stamp) = esc(bucket) 0x00 lift(key) 0x00 ~stamp (12 bytes, every bit inverted)
//   the noncurrent versions table: key ascending (lifted, as uploads), then newest first. The longest is
//   63 + 1 + 1,024 + 1 + 12 = 1,101 bytes.

export const STAMP_BYTES = 12;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

export interface Stamp {
  counter: bigint;
  nodeId: number;
}

export function versionStamp(s: Stamp): Buffer {
  const out = Buffer.allocUnsafe(STAMP_BYTES);
  out.writeBigUInt64BE(s.counter, 0);
  out.writeUInt32BE(s.nodeId, 8);
  return out;
}

export function readStamp(b: Buffer, at = 0): Stamp {
  return { counter: b.readBigUInt64BE(at), nodeId: b.readUInt32BE(at + 8) };
}

/** The S3 version id of a version stamp. */
export function versionIdOf(s: Stamp): string {
  return versionStamp(s).toString('base64url');
}

const VERSION_ID_RE = /^[A-Za-z0-9_-]{16}$/;

/** The stamp a version id names, or undefined when it cannot be one of ours (`null` included). */
export function parseVersionId(id: string): Stamp | undefined {
  if (!VERSION_ID_RE.test(id)) return undefined;
  const b = Buffer.from(id, 'base64url');
  if (b.length !== STAMP_BYTES || b.toString('base64url') !== id) return undefined;
  return readStamp(b);
}

/** Prefix of every noncurrent version of (bucket, key). */
export function versionKeyPrefix(bucket: string, key: Buffer): Buffer {
  if (key.length > OBJECT_KEY_BYTES_MAX) {
    throw new StorageError('KeyTooLongError', `key of ${key.length} bytes; at most ${OBJECT_KEY_BYTES_MAX}`);
  }
  return uploadKeyPrefix(bucket, key);
}

/** Prefix under which the noncurrent versions of every key starting with `keyPrefix` lie. */
export function versionScanPrefix(bucket: string, keyPrefix: Buffer): Buffer {
  return uploadScanPrefix(bucket, keyPrefix);
}

export function versionKey(bucket: string, key: Buffer, s: Stamp): Buffer {
  const head = versionKeyPrefix(bucket, key);
  const out = Buffer.allocUnsafe(head.length + STAMP_BYTES);
  head.copy(out, 0);
  out.writeBigUInt64BE(U64_MAX - s.counter, head.length);
  out.writeUInt32BE(0xffff_ffff - s.nodeId, head.length + 8);
  return out;
}

export function decodeVersionKey(encoded: Buffer): { bucket: string; key: Buffer; stamp: Stamp } {
  const b = readEscaped(encoded, 0);
  const k = readLifted(encoded, b.next);
  const at = k.next;
  return {
    bucket: b.bytes.toString('utf8'),
    key: Buffer.from(k.bytes),
    stamp: {
      counter: U64_MAX - encoded.readBigUInt64BE(at),
      nodeId: 0xffff_ffff - encoded.readUInt32BE(at + 8),
    },
  };
}

/** The volume entry key of a version: 'O' + objectKey for the null version, else 'V' + objectKey + stamp. */
export function versionEntryKey(okey: Buffer, stamp: Stamp | undefined): Buffer {
  if (!stamp) return entryKey(EntryKind.object, okey);
  const out = Buffer.allocUnsafe(1 + okey.length + STAMP_BYTES);
  out[0] = EntryKind.version;
  okey.copy(out, 1);
  versionStamp(stamp).copy(out, 1 + okey.length);
  return out;
}

/** An 'O' or 'V' entry key's object key and (for 'V') stamp. */
export function decodeVersionEntryKey(ekey: Buffer): { okey: Buffer; stamp?: Stamp } {
  if (ekey[0] === EntryKind.object) return { okey: ekey.subarray(1) };
  const end = ekey.length - STAMP_BYTES;
  return { okey: ekey.subarray(1, end), stamp: readStamp(ekey, end) };
}

/** Part key inside the index and the volume: uploadId (ASCII) then part number big-endian. */
export function partKey(uploadId: string, partNumber: number): Buffer {
  if (!isPossibleUploadId(uploadId)) throw new NoSuchUploadError(uploadId);
  const id = Buffer.from(uploadId, 'latin1');
  const out = Buffer.allocUnsafe(id.length + 4);
  id.copy(out, 0);
  out.writeUInt32BE(partNumber, id.length);
  return out;
}

export function decodePartKey(k: Buffer): { uploadId: string; partNumber: number } {
  return {
    uploadId: k.subarray(0, k.length - 4).toString('latin1'),
    partNumber: k.readUInt32BE(k.length - 4),
  };
}

// ---- replication tombstones ----
//
// tombstoneKey(bucket, key, stamp) = esc(bucket) 0x00 lift(key) 0x00 then 0x00 (the null version) or
//   0x01 + the 12-byte stamp: key ascending as the versions table, so the replica key scan merges them.
// uploadTombstoneKey(bucket, key, uploadId) = the same head, then 0x02 + the upload id: a removed (completed,
//   aborted, expired) multipart upload, in the same table (replica-uploads.ts).

export function tombstoneKey(bucket: string, key: Buffer, stamp: Stamp | undefined): Buffer {
  const head = versionKeyPrefix(bucket, key);
  const out = Buffer.alloc(head.length + 1 + (stamp ? STAMP_BYTES : 0));
  head.copy(out, 0);
  if (stamp) {
    out[head.length] = 1;
    versionStamp(stamp).copy(out, head.length + 1);
  }
  return out;
}

const UPLOAD_TOMBSTONE = 2;

export function uploadTombstoneKey(bucket: string, key: Buffer, uploadId: string): Buffer {
  if (!isPossibleUploadId(uploadId)) throw new NoSuchUploadError(uploadId);
  const head = versionKeyPrefix(bucket, key);
  return Buffer.concat([head, Buffer.from([UPLOAD_TOMBSTONE]), Buffer.from(uploadId, 'latin1')]);
}

/** A version's tombstone (`stamp` absent: the null version's), or an upload's (`uploadId`). */
export function decodeTombstoneKey(encoded: Buffer): {
  bucket: string;
  key: Buffer;
  stamp?: Stamp;
  uploadId?: string;
} {
  const b = readEscaped(encoded, 0);
  const k = readLifted(encoded, b.next);
  const out = { bucket: b.bytes.toString('utf8'), key: Buffer.from(k.bytes) };
  if (encoded[k.next] === UPLOAD_TOMBSTONE)
    return { ...out, uploadId: encoded.subarray(k.next + 1).toString('latin1') };
  return encoded[k.next] === 1 ? { ...out, stamp: readStamp(encoded, k.next + 1) } : out;
}
