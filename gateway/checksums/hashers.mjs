// Incremental hashers for every digest S3 speaks about: MD5 (the ETag) and the x-amz-checksum-* family.
// Plain JS, shared by the event loop (through index.ts) and the hashing worker (hash-worker.mjs).
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { Crc64Nvme } from '../../common/crc64nvme.mjs';

export const HASH_NAMES = Object.freeze(['MD5', 'CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);

class Crc32Family {
  /** @param {(data: Uint8Array, prev: number) => number} fn */
  constructor(fn) {
    this.fn = fn;
    this.state = 0;
  }
  /** @param {Uint8Array} data */
  update(data) {
    this.state = this.fn(data, this.state);
    return this;
  }
  digest() {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32BE(this.state >>> 0, 0);
    return out;
  }
}

/**
 * @param {string} name one of HASH_NAMES
 * @returns {{ update(data: Uint8Array): unknown; digest(): Buffer }}
 */
export function createRawHasher(name) {
  switch (name) {
    case 'MD5':
      return createHash('md5');
    case 'SHA1':
      return createHash('sha1');
    case 'SHA256':
      return createHash('sha256');
    case 'CRC32':
      return new Crc32Family((data, prev) => crc32(data, prev));
    case 'CRC32C':
      return new Crc32Family((data, prev) => crc32c(data, prev));
    case 'CRC64NVME':
      return new Crc64Nvme();
    default:
      throw new TypeError(`unknown hash ${name}`);
  }
}
