// Order-preserving binary keys for the LMDB index (keyEncoding 'binary', compared with memcmp).
//
// objectKey(bucket, key) = esc(bucket) 0x00 key
//   esc() maps 0x00 -> 0x01 0x01 and 0x01 -> 0x01 0x02 and leaves other bytes alone, so the 0x00
//   terminator sorts below every escaped byte. Hence (bucket, key) order is memcmp order: buckets in
//   byte order (a bucket that is a prefix of another sorts first), then raw key bytes in
//   Buffer.compare order. S3 bucket names never hold 0x00/0x01, so esc() is the identity for them,
//   but the encoding stays correct for any string.
// uploadKey(bucket, key, uploadId) = esc(bucket) 0x00 esc(key) 0x00 uploadId
//   the key is escaped too because the upload id follows it (keys may contain 0x00).

const SEP = 0x00;
const ESC = 0x01;

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

export function objectKey(bucket: string, key: Buffer): Buffer {
  return Buffer.concat([bucketPrefix(bucket), key]);
}

export function decodeObjectKey(encoded: Buffer): { bucket: string; key: Buffer } {
  const { bytes, next } = readEscaped(encoded, 0);
  return { bucket: bytes.toString('utf8'), key: Buffer.from(encoded.subarray(next)) };
}

/** Prefix of every upload key for (bucket, key): esc(bucket) 0 esc(key) 0. */
export function uploadKeyPrefix(bucket: string, key: Buffer): Buffer {
  const head = bucketPrefix(bucket);
  const out = Buffer.allocUnsafe(head.length + escapedLength(key) + 1);
  head.copy(out, 0);
  const at = writeEscaped(key, out, head.length);
  out[at] = SEP;
  return out;
}

export function uploadKey(bucket: string, key: Buffer, uploadId: string): Buffer {
  return Buffer.concat([uploadKeyPrefix(bucket, key), Buffer.from(uploadId, 'latin1')]);
}

/** Prefix under which all uploads of keys starting with `keyPrefix` lie (escaped, no terminator). */
export function uploadScanPrefix(bucket: string, keyPrefix: Buffer): Buffer {
  const head = bucketPrefix(bucket);
  const out = Buffer.allocUnsafe(head.length + escapedLength(keyPrefix));
  head.copy(out, 0);
  writeEscaped(keyPrefix, out, head.length);
  return out;
}

export function decodeUploadKey(encoded: Buffer): { bucket: string; key: Buffer; uploadId: string } {
  const b = readEscaped(encoded, 0);
  const k = readEscaped(encoded, b.next);
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
  object: 0x4f /* O */,
  upload: 0x55 /* U */,
  part: 0x50 /* P */,
  blob: 0x42 /* B */,
} as const;

export function entryKey(kind: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 1);
  out[0] = kind;
  body.copy(out, 1);
  return out;
}

/** Part key inside the index and the volume: uploadId (ASCII) then part number big-endian. */
export function partKey(uploadId: string, partNumber: number): Buffer {
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
