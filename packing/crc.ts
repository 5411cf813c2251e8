// CRC-32/IEEE (zlib.crc32, the checksum of S3's x-amz-checksum-crc32), with a safe continuation.
import { crc32 } from 'node:zlib';

/**
 * Continues `seed` over `data`. Node 20's zlib.crc32 can return 0 for an empty buffer whose memory was
 * handed to a write (seen after FileHandle.writev), so an empty input returns the seed unchanged.
 */
export function crc32Continue(data: Uint8Array, seed: number): number {
  return data.length === 0 ? seed : crc32(data, seed);
}

export function crc32Of(data: Uint8Array): number {
  return data.length === 0 ? 0 : crc32(data);
}
