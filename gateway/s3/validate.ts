// Name, key and metadata rules, as AWS applies them when a bucket or object is created.

import { S3Error } from '../errors.ts';

export const KEY_BYTES_MAX = 1024;
export const USER_METADATA_BYTES_MAX = 2048;

const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** Why a name is not a valid new general-purpose bucket name, or undefined if it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long';
  if (!BUCKET_CHARS.test(name)) {
    return 'must use only lowercase letters, digits, dots and hyphens, and begin and end with a letter or digit';
  }
  if (name.includes('..')) return 'must not contain two adjacent periods';
  if (IPV4_LIKE.test(name)) return 'must not be formatted as an IP address';
  if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) return 'uses a reserved prefix';
  if (RESERVED_SUFFIXES.some((s) => name.endsWith(s))) return 'uses a reserved suffix';
  return undefined;
}

/** Throws `InvalidBucketName` (with the BucketName detail, as AWS sends) unless the name is allowed. */
export function validateBucketName(name: string): void {
  if (bucketNameProblem(name) !== undefined) {
    throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
  }
}

/**
 * Keys are 1..1024 UTF-8 bytes and otherwise opaque: `../`, `//`, NUL, `%`, `+` are all just bytes.
 * A decoded JS string is valid UTF-8 by construction (the target parser rejects bad bytes).
 */
export function validateKey(key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'Object key must not be empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > KEY_BYTES_MAX) {
    throw new S3Error('KeyTooLongError', undefined, { Size: String(bytes), MaxSizeAllowed: '1024' });
  }
}

/** Bytes a header string occupied on the wire: Node decodes header bytes as latin1, one char per byte. */
export function headerValueBytes(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) return Buffer.byteLength(value, 'utf8');
  }
  return value.length;
}

/**
 * User metadata is limited to 2 KiB, counted as AWS documents it: the bytes of each name and value.
 * We count the name without its `x-amz-meta-` prefix (the part the user chose).
 */
export function validateUserMetadata(meta: Readonly<Record<string, string>>): void {
  let total = 0;
  for (const [name, value] of Object.entries(meta)) total += headerValueBytes(name) + headerValueBytes(value);
  if (total > USER_METADATA_BYTES_MAX) {
    throw new S3Error('MetadataTooLarge', undefined, {
      Size: String(total),
      MaxSizeAllowed: String(USER_METADATA_BYTES_MAX),
    });
  }
}
