// Byte layouts of every record the packing format persists. FORMAT.md documents the same tables and
// layout.test.ts parses FORMAT.md and checks it against these objects, so the two cannot drift apart.

/** A field: byte offset inside its record and width in bytes. Every integer is little-endian. */
export interface Field {
  readonly offset: number;
  readonly width: number;
}

export const FORMAT_VERSION = 1;
/** Entries, holes and fillers start on multiples of this inside a chunkfile. */
export const ALIGN_BYTES = 8;
/** A header never straddles a boundary of this size, so a header rewrite is one atomic sector write. */
export const SECTOR_BYTES = 512;
export const HEADER_BYTES = 64;

export const MAGIC = {
  volume: 0x4c4f5651, // 'QVOL' read as a little-endian u32
  chunkfile: 0x4b484351, // 'QCHK'
  entry: 0x544e4551, // 'QENT'
  singlefile: 0x4c475351, // 'QSGL'
  summary: 0x4d4d5351, // 'QSMM'
  compaction: 0x504d4351, // 'QCMP'
} as const;

export const SUPERBLOCK_FIELDS = {
  magic: { offset: 0, width: 4 },
  version: { offset: 4, width: 2 },
  type: { offset: 6, width: 1 },
  volumeIdBytes: { offset: 7, width: 1 },
  volumeId: { offset: 8, width: 32 },
  maxBytes: { offset: 40, width: 8 },
  reservedFreeBytes: { offset: 48, width: 8 },
  reserved: { offset: 56, width: 4 },
  crc: { offset: 60, width: 4 },
} as const satisfies Record<string, Field>;

export const CHUNK_HEADER_FIELDS = {
  magic: { offset: 0, width: 4 },
  version: { offset: 4, width: 2 },
  reserved: { offset: 6, width: 2 },
  fileId: { offset: 8, width: 4 },
  volumeCrc: { offset: 12, width: 4 },
  chunkBytes: { offset: 16, width: 8 },
  zero: { offset: 24, width: 36 },
  crc: { offset: 60, width: 4 },
} as const satisfies Record<string, Field>;

export const ENTRY_FIELDS = {
  magic: { offset: 0, width: 4 },
  version: { offset: 4, width: 1 },
  flags: { offset: 5, width: 1 },
  keyBytes: { offset: 6, width: 2 },
  allocBytes: { offset: 8, width: 4 },
  bodyOffset: { offset: 12, width: 4 },
  metaBytes: { offset: 16, width: 4 },
  dataBytes: { offset: 20, width: 4 },
  opverCounter: { offset: 24, width: 8 },
  opverNodeId: { offset: 32, width: 4 },
  dataCrc: { offset: 36, width: 4 },
  createdMs: { offset: 40, width: 8 },
  updatedMs: { offset: 48, width: 8 },
  keyMetaCrc: { offset: 56, width: 4 },
  headerCrc: { offset: 60, width: 4 },
} as const satisfies Record<string, Field>;

export const SINGLE_FIELDS = {
  magic: { offset: 0, width: 4 },
  version: { offset: 4, width: 1 },
  flags: { offset: 5, width: 1 },
  keyBytes: { offset: 6, width: 2 },
  blockBytes: { offset: 8, width: 4 },
  metaBytes: { offset: 12, width: 4 },
  dataBytes: { offset: 16, width: 8 },
  opverCounter: { offset: 24, width: 8 },
  opverNodeId: { offset: 32, width: 4 },
  dataCrc: { offset: 36, width: 4 },
  createdMs: { offset: 40, width: 8 },
  updatedMs: { offset: 48, width: 8 },
  keyMetaCrc: { offset: 56, width: 4 },
  headerCrc: { offset: 60, width: 4 },
} as const satisfies Record<string, Field>;

export const MARKER_FIELDS = {
  magic: { offset: 0, width: 4 },
  fileId: { offset: 4, width: 4 },
  state: { offset: 8, width: 4 },
  crc: { offset: 12, width: 4 },
} as const satisfies Record<string, Field>;

export const ENTRY_FLAGS = {
  deleted: 0x01,
  filler: 0x02,
} as const;

export const VOLUME_TYPES = { storage: 1, cache: 2 } as const;

export const FILE_NAMES = {
  superblock: 'volume.qv',
  summary: 'summary.qs',
  journalPrefix: 'changes-',
  journalSuffix: '.qj',
  chunkPrefix: 'c-',
  chunkSuffix: '.qc',
  singlePrefix: 's-',
  singleSuffix: '.qf',
  compactionPrefix: 'compact-',
  compactionSuffix: '.qm',
  tmpSuffix: '.tmp',
} as const;

export function chunkFileName(fileId: number): string {
  return `${FILE_NAMES.chunkPrefix}${String(fileId).padStart(8, '0')}${FILE_NAMES.chunkSuffix}`;
}

export function singleFileName(fileId: number): string {
  return `${FILE_NAMES.singlePrefix}${String(fileId).padStart(8, '0')}${FILE_NAMES.singleSuffix}`;
}

export function journalName(generation: number): string {
  return `${FILE_NAMES.journalPrefix}${String(generation).padStart(8, '0')}${FILE_NAMES.journalSuffix}`;
}

export function compactionMarkerName(fileId: number): string {
  return `${FILE_NAMES.compactionPrefix}${String(fileId).padStart(8, '0')}${FILE_NAMES.compactionSuffix}`;
}

/** Parses `<prefix><8 digits><suffix>`; undefined for any other name. */
export function parseFileId(name: string, prefix: string, suffix: string): number | undefined {
  if (!name.startsWith(prefix) || !name.endsWith(suffix)) return undefined;
  const digits = name.slice(prefix.length, name.length - suffix.length);
  if (!/^[0-9]{8}$/.test(digits)) return undefined;
  return Number(digits);
}

export function alignUp(n: number, to: number = ALIGN_BYTES): number {
  return Math.ceil(n / to) * to;
}

/** True when a header placed at `offset` would cross a sector boundary. */
export function headerStraddles(offset: number): boolean {
  return offset % SECTOR_BYTES > SECTOR_BYTES - HEADER_BYTES;
}

/**
 * Grows an allocation that starts at `offset` so the NEXT header (at its end) does not straddle a sector.
 * Entries tile the chunkfile, so every entry end is a header position.
 */
export function padAllocation(offset: number, allocBytes: number): number {
  const end = offset + alignUp(allocBytes);
  return (headerStraddles(end) ? alignUp(end, SECTOR_BYTES) : end) - offset;
}
