// Digests a request declares up front: Content-MD5 and x-amz-checksum-* headers, and the checksum algorithm.
import type { IncomingMessage } from 'node:http';
import type { ChecksumAlgorithm, ExpectedDigests } from '../auth/types.ts';
import { CHECKSUM_ALGORITHMS, isValidDigestBase64 } from '../checksums/index.ts';
import { S3Error } from '../errors.ts';

/** Each algorithm with its header name, built once. */
const CHECKSUM_HEADERS: ReadonlyArray<readonly [ChecksumAlgorithm, string]> = CHECKSUM_ALGORITHMS.map(
  (algo) => [algo, `x-amz-checksum-${algo.toLowerCase()}`] as const,
);

export function expectedDigests(h: IncomingMessage['headers']): ExpectedDigests {
  const md5 = h['content-md5'];
  if (md5 !== undefined && (typeof md5 !== 'string' || !isValidDigestBase64('MD5', md5)))
    throw new S3Error('InvalidDigest');
  const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const [algo, name] of CHECKSUM_HEADERS) {
    const value = h[name];
    if (typeof value === 'string') checksums[algo] = value;
  }
  return { ...(typeof md5 === 'string' ? { contentMd5: md5 } : {}), checksums };
}

/**
 * Calls AWS will not take without an integrity check of the body (PutBucketLifecycleConfiguration,
 * PutBucketTagging): Content-MD5, an x-amz-checksum-* header, or a checksum announced as a trailer.
 */
export function requireBodyDigest(h: IncomingMessage['headers']): void {
  if (h['content-md5'] !== undefined || checksumAlgorithm(h) !== undefined) return;
  throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5');
}

/** The algorithm the client asked for: named in a header, announced as a trailer, or given as a value. */
export function checksumAlgorithm(h: IncomingMessage['headers']): ChecksumAlgorithm | undefined {
  const named = h['x-amz-sdk-checksum-algorithm'] ?? h['x-amz-checksum-algorithm'];
  if (typeof named === 'string') {
    const algo = named.toUpperCase() as ChecksumAlgorithm;
    if (!CHECKSUM_ALGORITHMS.includes(algo)) {
      throw new S3Error('InvalidRequest', `Checksum algorithm ${named} is not supported.`);
    }
    return algo;
  }
  const trailer = h['x-amz-trailer'];
  if (typeof trailer === 'string') {
    const algo = CHECKSUM_ALGORITHMS.find(
      (a) => trailer.trim().toLowerCase() === `x-amz-checksum-${a.toLowerCase()}`,
    );
    if (algo) return algo;
  }
  return CHECKSUM_HEADERS.find(([, name]) => h[name] !== undefined)?.[0];
}
