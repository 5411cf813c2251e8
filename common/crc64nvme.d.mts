/** Incremental CRC-64/NVME. `digest()` is the 8-byte big-endian CRC, as S3 base64-encodes it. */
export declare class Crc64Nvme {
  lo: number;
  hi: number;
  update(data: Uint8Array): this;
  digest(): Buffer;
}

/** CRC-64/NVME of `data` as a number. */
export declare function crc64nvme(data: Uint8Array): bigint;
/** CRC of A‖B from crc(A), crc(B) and B's length in bytes. */
export declare function crc64nvmeCombine(crcA: bigint, crcB: bigint, bytesB: number): bigint;
