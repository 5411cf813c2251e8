// Digests S3 names in headers and trailers: x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256} and MD5.
// Values are base64 of the big-endian digest, exactly as S3 sends them.
import { createRawHasher, HASH_NAMES, type HashName } from './hashers.mjs';

export type { HashName };
export { HASH_NAMES };

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
];

/** Digest length in bytes, used to validate base64 values from headers. */
export const DIGEST_BYTES: Readonly<Record<HashName, number>> = {
  MD5: 16,
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

export interface IncrementalHasher {
  update(data: Uint8Array): IncrementalHasher;
  /** The raw big-endian digest; call once. */
  digest(): Buffer;
  /** base64 of `digest()`, the form S3 headers carry; call once, instead of digest(). */
  digestBase64(): string;
}

/** An incremental hasher for one algorithm (or MD5). */
export function createHasher(algo: HashName): IncrementalHasher {
  const raw = createRawHasher(algo);
  const hasher: IncrementalHasher = {
    update(data) {
      raw.update(data);
      return hasher;
    },
    digest: () => raw.digest(),
    digestBase64: () => raw.digest().toString('base64'),
  };
  return hasher;
}

/** base64 checksum of a whole buffer, as in `x-amz-checksum-<algo>`. */
export function computeChecksum(algo: HashName, buf: Uint8Array): string {
  return createHasher(algo).update(buf).digestBase64();
}

/** 'crc32' / 'CRC32' → 'CRC32'; undefined when the name is not one S3 knows. */
export function parseChecksumAlgorithm(name: string): ChecksumAlgorithm | undefined {
  const upper = name.trim().toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper)
    ? (upper as ChecksumAlgorithm)
    : undefined;
}

/** The header (and trailer) name carrying a checksum: 'CRC32' → 'x-amz-checksum-crc32'. */
export function checksumHeaderName(algo: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algo.toLowerCase()}`;
}

/** True when `value` is canonical base64 of exactly the digest length of `algo`. */
export function isValidDigestBase64(algo: HashName, value: string): boolean {
  const want = DIGEST_BYTES[algo];
  if (value.length !== Math.ceil(want / 3) * 4) return false;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === want && bytes.toString('base64') === value;
}

export { type BodyHasher, INLINE_HASH_BYTES_MAX, openBodyHasher } from './body-hasher.ts';
export { createHashingPool, HashingPool, type HashingPoolOptions } from './pool.ts';
