// A completed multipart object's checksum, computed from the checksums the gateway verified for
// each part: no object data is read. CRC32, CRC32C, SHA1, SHA256: S3's COMPOSITE checksum, the
// checksum of the concatenated binary part checksums followed by "-N". CRC64NVME: S3 offers only
// the FULL_OBJECT type, the CRC of the whole object, which is combined from the part CRCs and sizes.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { crc64nvmeCombine } from '../common/crc64nvme.mjs';
import type { ChecksumAlgorithm, Checksums } from './api.ts';

export interface PartChecksums {
  size: number;
  checksums: Checksums;
}

export interface MultipartChecksum {
  checksums: Checksums;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

/** Empty when no algorithm was chosen or a part lacks its checksum. */
export function compositeChecksums(
  alg: ChecksumAlgorithm | undefined,
  parts: PartChecksums[],
): MultipartChecksum {
  if (!alg || parts.length === 0 || !parts.every((p) => p.checksums[alg])) return { checksums: {} };
  const raw = parts.map((p) => Buffer.from(p.checksums[alg]!, 'base64'));
  if (alg === 'CRC64NVME') {
    if (!raw.every((r) => r.length === 8)) return { checksums: {} };
    let crc = raw[0]!.readBigUInt64BE(0);
    for (let i = 1; i < raw.length; i++)
      crc = crc64nvmeCombine(crc, raw[i]!.readBigUInt64BE(0), parts[i]!.size);
    const out = Buffer.allocUnsafe(8);
    out.writeBigUInt64BE(crc);
    return { checksums: { CRC64NVME: out.toString('base64') }, checksumType: 'FULL_OBJECT' };
  }
  const all = Buffer.concat(raw);
  let digest: Buffer;
  if (alg === 'CRC32' || alg === 'CRC32C') {
    digest = Buffer.allocUnsafe(4);
    digest.writeUInt32BE((alg === 'CRC32' ? crc32(all) : crc32c(all)) >>> 0);
  } else digest = createHash(alg.toLowerCase()).update(all).digest();
  return { checksums: { [alg]: `${digest.toString('base64')}-${parts.length}` }, checksumType: 'COMPOSITE' };
}
