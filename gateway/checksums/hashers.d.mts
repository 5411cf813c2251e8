export type HashName = 'MD5' | 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export declare const HASH_NAMES: readonly HashName[];
export declare function createRawHasher(name: HashName): {
  update(data: Uint8Array): unknown;
  digest(): Buffer;
};
