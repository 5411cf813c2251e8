// Expected full-object checksums, computed independently of the SDK so a server that echoes
// whatever it was sent cannot pass by accident.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';

export type ChecksumName = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

function u32b64(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

// CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones.
const CRC64_TABLE = (() => {
  const poly = 0x9a6c9329ac4bc9b5n;
  const table: bigint[] = [];
  for (let i = 0n; i < 256n; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    table.push(c);
  }
  return table;
})();

export function crc64nvme(data: Uint8Array): bigint {
  const mask = 0xffffffffffffffffn;
  let c = mask;
  for (const byte of data) c = CRC64_TABLE[Number((c ^ BigInt(byte)) & 0xffn)]! ^ (c >> 8n);
  return (c ^ mask) & mask;
}

/** The base64 value S3 returns in x-amz-checksum-<name> for a whole object. */
export function checksumB64(name: ChecksumName, data: Uint8Array): string {
  switch (name) {
    case 'CRC32':
      return u32b64(crc32(data));
    case 'CRC32C':
      return u32b64(crc32c(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
    case 'CRC64NVME': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(crc64nvme(data));
      return b.toString('base64');
    }
    case 'SHA1':
      return createHash('sha1').update(data).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(data).digest('base64');
  }
}
