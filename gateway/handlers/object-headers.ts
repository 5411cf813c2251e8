// Response headers shared by GET, HEAD, PUT and multipart answers.
import type { ChecksumAlgorithm } from '../auth/types.ts';

/** `x-amz-checksum-<algo>` headers: only for algorithms we computed, never a guessed value. */
export function checksumResponseHeaders(
  checksums: Partial<Record<ChecksumAlgorithm, string>>,
  only?: ChecksumAlgorithm,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [algo, value] of Object.entries(checksums)) {
    if (value === undefined || (only !== undefined && algo !== only)) continue;
    out[`x-amz-checksum-${algo.toLowerCase()}`] = value;
  }
  return out;
}
