// Encoding and decoding of the fixed-size records described in layout.ts / FORMAT.md.
import { crc32Continue, crc32Of } from './crc.ts';
import {
  CHUNK_HEADER_FIELDS as C,
  ENTRY_FIELDS as E,
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  SINGLE_FIELDS as S,
  SUPERBLOCK_FIELDS as SB,
  VOLUME_TYPES,
} from './layout.ts';
import type { Opver } from './types.ts';

/** The fields of an entry header (chunkfile) or singlefile header, decoded. */
export interface EntryHeader {
  readonly flags: number;
  readonly keyBytes: number;
  /** Chunk entries: bytes from the header to the end of the slack. Singlefiles: block size. */
  readonly allocBytes: number;
  /** Chunk entries: where key+meta+data start, relative to the header. */
  readonly bodyOffset: number;
  readonly metaBytes: number;
  readonly dataBytes: number;
  readonly opver: Opver;
  readonly dataCrc: number;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly keyMetaCrc: number;
}

export function volumeCrcOf(volumeId: string): number {
  return crc32Of(Buffer.from(volumeId, 'utf8'));
}

/** Header checksum: CRC-32 over bytes 0..59 seeded with the volume's CRC, so foreign bytes never pass. */
function headerCrc(buf: Buffer, at: number, volumeCrc: number): number {
  return crc32Continue(buf.subarray(at, at + E.headerCrc.offset), volumeCrc);
}

export function keyMetaCrc(key: Buffer, meta: Buffer): number {
  return crc32Continue(meta, crc32Of(key));
}

function writeHeaderFields(buf: Buffer, at: number, magic: number, h: EntryHeader, single: boolean): void {
  buf.writeUInt32LE(magic, at + E.magic.offset);
  buf.writeUInt8(FORMAT_VERSION, at + E.version.offset);
  buf.writeUInt8(h.flags, at + E.flags.offset);
  buf.writeUInt16LE(h.keyBytes, at + E.keyBytes.offset);
  buf.writeUInt32LE(h.allocBytes, at + E.allocBytes.offset);
  if (single) {
    buf.writeUInt32LE(h.metaBytes, at + S.metaBytes.offset);
    buf.writeBigUInt64LE(BigInt(h.dataBytes), at + S.dataBytes.offset);
  } else {
    buf.writeUInt32LE(h.bodyOffset, at + E.bodyOffset.offset);
    buf.writeUInt32LE(h.metaBytes, at + E.metaBytes.offset);
    buf.writeUInt32LE(h.dataBytes, at + E.dataBytes.offset);
  }
  buf.writeBigUInt64LE(h.opver.counter, at + E.opverCounter.offset);
  buf.writeUInt32LE(h.opver.nodeId, at + E.opverNodeId.offset);
  buf.writeUInt32LE(h.dataCrc, at + E.dataCrc.offset);
  buf.writeBigUInt64LE(BigInt(h.createdMs), at + E.createdMs.offset);
  buf.writeBigUInt64LE(BigInt(h.updatedMs), at + E.updatedMs.offset);
  buf.writeUInt32LE(h.keyMetaCrc, at + E.keyMetaCrc.offset);
}

/** Writes a 64-byte chunk entry header at `buf[at]`. */
export function encodeEntryHeader(buf: Buffer, at: number, h: EntryHeader, volumeCrc: number): void {
  writeHeaderFields(buf, at, MAGIC.entry, h, false);
  buf.writeUInt32LE(headerCrc(buf, at, volumeCrc), at + E.headerCrc.offset);
}

export function encodeSingleHeader(buf: Buffer, at: number, h: EntryHeader, volumeCrc: number): void {
  writeHeaderFields(buf, at, MAGIC.singlefile, h, true);
  buf.writeUInt32LE(headerCrc(buf, at, volumeCrc), at + S.headerCrc.offset);
}

/** A u64 as a Number without a BigInt (timestamps stay far below 2^53); the scan decodes millions. */
function readU64AsNumber(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
}

function readCommon(buf: Buffer, at: number): Omit<EntryHeader, 'bodyOffset' | 'metaBytes' | 'dataBytes'> {
  return {
    flags: buf.readUInt8(at + E.flags.offset),
    keyBytes: buf.readUInt16LE(at + E.keyBytes.offset),
    allocBytes: buf.readUInt32LE(at + E.allocBytes.offset),
    opver: {
      counter: buf.readBigUInt64LE(at + E.opverCounter.offset),
      nodeId: buf.readUInt32LE(at + E.opverNodeId.offset),
    },
    dataCrc: buf.readUInt32LE(at + E.dataCrc.offset),
    createdMs: readU64AsNumber(buf, at + E.createdMs.offset),
    updatedMs: readU64AsNumber(buf, at + E.updatedMs.offset),
    keyMetaCrc: buf.readUInt32LE(at + E.keyMetaCrc.offset),
  };
}

function headerValid(buf: Buffer, at: number, magic: number, volumeCrc: number): boolean {
  if (at + HEADER_BYTES > buf.length) return false;
  if (buf.readUInt32LE(at) !== magic) return false;
  if (buf.readUInt8(at + E.version.offset) !== FORMAT_VERSION) return false;
  return buf.readUInt32LE(at + E.headerCrc.offset) === headerCrc(buf, at, volumeCrc);
}

/** Decodes a chunk entry header; undefined when magic, version or header checksum do not match. */
export function decodeEntryHeader(buf: Buffer, at: number, volumeCrc: number): EntryHeader | undefined {
  if (!headerValid(buf, at, MAGIC.entry, volumeCrc)) return undefined;
  const h: EntryHeader = {
    flags: buf[at + E.flags.offset]!,
    keyBytes: buf.readUInt16LE(at + E.keyBytes.offset),
    allocBytes: buf.readUInt32LE(at + E.allocBytes.offset),
    bodyOffset: buf.readUInt32LE(at + E.bodyOffset.offset),
    metaBytes: buf.readUInt32LE(at + E.metaBytes.offset),
    dataBytes: buf.readUInt32LE(at + E.dataBytes.offset),
    opver: {
      counter: buf.readBigUInt64LE(at + E.opverCounter.offset),
      nodeId: buf.readUInt32LE(at + E.opverNodeId.offset),
    },
    dataCrc: buf.readUInt32LE(at + E.dataCrc.offset),
    createdMs: readU64AsNumber(buf, at + E.createdMs.offset),
    updatedMs: readU64AsNumber(buf, at + E.updatedMs.offset),
    keyMetaCrc: buf.readUInt32LE(at + E.keyMetaCrc.offset),
  };
  // A header whose checksum passes but whose lengths do not fit is still unusable.
  const body = h.keyBytes + h.metaBytes + h.dataBytes;
  if (h.allocBytes < HEADER_BYTES || h.allocBytes % 8 !== 0) return undefined;
  if (h.flags === 0 && (h.bodyOffset < HEADER_BYTES || h.bodyOffset + body > h.allocBytes)) return undefined;
  return h;
}

export function decodeSingleHeader(buf: Buffer, volumeCrc: number): EntryHeader | undefined {
  if (!headerValid(buf, 0, MAGIC.singlefile, volumeCrc)) return undefined;
  return {
    ...readCommon(buf, 0),
    bodyOffset: HEADER_BYTES,
    metaBytes: buf.readUInt32LE(S.metaBytes.offset),
    dataBytes: Number(buf.readBigUInt64LE(S.dataBytes.offset)),
  };
}

export interface ChunkHeader {
  readonly fileId: number;
  readonly volumeCrc: number;
  readonly chunkBytes: number;
}

export function encodeChunkHeader(h: ChunkHeader): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES);
  buf.writeUInt32LE(MAGIC.chunkfile, C.magic.offset);
  buf.writeUInt16LE(FORMAT_VERSION, C.version.offset);
  buf.writeUInt32LE(h.fileId, C.fileId.offset);
  buf.writeUInt32LE(h.volumeCrc, C.volumeCrc.offset);
  buf.writeBigUInt64LE(BigInt(h.chunkBytes), C.chunkBytes.offset);
  buf.writeUInt32LE(crc32Of(buf.subarray(0, C.crc.offset)), C.crc.offset);
  return buf;
}

export function decodeChunkHeader(buf: Buffer): ChunkHeader | undefined {
  if (buf.length < HEADER_BYTES || buf.readUInt32LE(C.magic.offset) !== MAGIC.chunkfile) return undefined;
  if (buf.readUInt32LE(C.crc.offset) !== crc32Of(buf.subarray(0, C.crc.offset))) return undefined;
  return {
    fileId: buf.readUInt32LE(C.fileId.offset),
    volumeCrc: buf.readUInt32LE(C.volumeCrc.offset),
    chunkBytes: Number(buf.readBigUInt64LE(C.chunkBytes.offset)),
  };
}

export interface Superblock {
  readonly volumeId: string;
  readonly type: 'storage' | 'cache';
  readonly maxBytes: number;
  readonly reservedFreeBytes: number;
}

export function encodeSuperblock(s: Superblock): Buffer {
  const id = Buffer.from(s.volumeId, 'utf8');
  const buf = Buffer.alloc(HEADER_BYTES);
  buf.writeUInt32LE(MAGIC.volume, SB.magic.offset);
  buf.writeUInt16LE(FORMAT_VERSION, SB.version.offset);
  buf.writeUInt8(VOLUME_TYPES[s.type], SB.type.offset);
  buf.writeUInt8(id.length, SB.volumeIdBytes.offset);
  id.copy(buf, SB.volumeId.offset);
  buf.writeBigUInt64LE(BigInt(s.maxBytes), SB.maxBytes.offset);
  buf.writeBigUInt64LE(BigInt(s.reservedFreeBytes), SB.reservedFreeBytes.offset);
  buf.writeUInt32LE(crc32Of(buf.subarray(0, SB.crc.offset)), SB.crc.offset);
  return buf;
}

export function decodeSuperblock(buf: Buffer): Superblock | undefined {
  if (buf.length !== HEADER_BYTES || buf.readUInt32LE(SB.magic.offset) !== MAGIC.volume) return undefined;
  if (buf.readUInt32LE(SB.crc.offset) !== crc32Of(buf.subarray(0, SB.crc.offset))) return undefined;
  if (buf.readUInt16LE(SB.version.offset) !== FORMAT_VERSION) return undefined;
  const idLen = buf.readUInt8(SB.volumeIdBytes.offset);
  return {
    volumeId: buf.toString('utf8', SB.volumeId.offset, SB.volumeId.offset + idLen),
    type: buf.readUInt8(SB.type.offset) === VOLUME_TYPES.cache ? 'cache' : 'storage',
    maxBytes: Number(buf.readBigUInt64LE(SB.maxBytes.offset)),
    reservedFreeBytes: Number(buf.readBigUInt64LE(SB.reservedFreeBytes.offset)),
  };
}
