/** Incremental CRC-64/NVME. `digest()` is the 8-byte big-endian CRC, as S3 base64-encodes it. */
export declare class Crc64Nvme {
  lo: number;
  hi: number;
  update(data: Uint8Array): this;
  digest(): Buffer;
}
