// Building the bytes of a chunk entry, and reading one back with its checksums verified.
import type { DiskFile } from '../common/disk.ts';
import { decodeEntryHeader, type EntryHeader, encodeEntryHeader, keyMetaCrc } from './codec.ts';
import { crc32Of } from './crc.ts';
import { CorruptEntryError, EntryNotFoundError } from './errors.ts';
import { ENTRY_FLAGS, HEADER_BYTES } from './layout.ts';
import type { Location, Opver } from './types.ts';

export interface EntryContent {
  readonly key: Buffer;
  readonly meta: Buffer;
  readonly data: Buffer;
  readonly opver: Opver;
  readonly dataCrc: number;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export function bodyBytesOf(c: { key: Buffer; meta: Buffer; data: Buffer }): number {
  return c.key.length + c.meta.length + c.data.length;
}

export function headerFor(c: EntryContent, allocBytes: number, bodyOffset: number): EntryHeader {
  return {
    flags: 0,
    keyBytes: c.key.length,
    allocBytes,
    bodyOffset,
    metaBytes: c.meta.length,
    dataBytes: c.data.length,
    opver: c.opver,
    dataCrc: c.dataCrc,
    createdMs: c.createdMs,
    updatedMs: c.updatedMs,
    keyMetaCrc: keyMetaCrc(c.key, c.meta),
  };
}

export function encodeHeader(h: EntryHeader, volumeCrc: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES);
  encodeEntryHeader(buf, 0, h, volumeCrc);
  return buf;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Zero buffers totalling `n` bytes (slack written as zeros keeps appends one contiguous writev). */
export function zeroPad(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let left = n; left > 0; left -= ZEROS.length)
    out.push(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
  return out;
}

/** A free filler header: lets a sequential scan hop over the unused rest of a split hole. */
export function fillerHeader(sizeBytes: number, volumeCrc: number): Buffer {
  return encodeHeader(
    {
      flags: ENTRY_FLAGS.filler,
      keyBytes: 0,
      allocBytes: sizeBytes,
      bodyOffset: HEADER_BYTES,
      metaBytes: 0,
      dataBytes: 0,
      opver: { counter: 0n, nodeId: 0 },
      dataCrc: 0,
      createdMs: 0,
      updatedMs: 0,
      keyMetaCrc: 0,
    },
    volumeCrc,
  );
}

export interface ReadBack {
  readonly header: EntryHeader;
  readonly key: Buffer;
  readonly meta: Buffer;
  /** Present only when the data was requested (and then verified). */
  readonly data?: Buffer;
}

const READ_WHOLE_MAX = 256 * 1024;

/** Reads the entry at `loc`: header always, data only when `withData`; every read byte is verified. */
export async function readEntryAt(
  fh: DiskFile,
  loc: Location,
  volumeCrc: number,
  withData: boolean,
): Promise<ReadBack> {
  // Small allocations come in one read; bigger ones read the header first, then just the body.
  const first = Buffer.allocUnsafe(loc.allocBytes <= READ_WHOLE_MAX ? loc.allocBytes : HEADER_BYTES);
  const { bytesRead } = await fh.read(first, 0, first.length, loc.offset);
  const header = decodeEntryHeader(first.subarray(0, bytesRead), 0, volumeCrc);
  if (!header) throw new CorruptEntryError(loc, 'invalid entry header');
  if (header.flags & ENTRY_FLAGS.deleted) throw new EntryNotFoundError(loc, 'deleted');
  if (header.flags !== 0 || header.allocBytes !== loc.allocBytes) {
    throw new EntryNotFoundError(loc, 'location holds another allocation');
  }
  const keyMetaLen = header.keyBytes + header.metaBytes;
  const bodyLen = keyMetaLen + (withData ? header.dataBytes : 0);
  let body: Buffer;
  if (header.bodyOffset + bodyLen <= bytesRead) {
    body = first.subarray(header.bodyOffset, header.bodyOffset + bodyLen);
  } else {
    body = Buffer.allocUnsafe(bodyLen);
    const r = await fh.read(body, 0, bodyLen, loc.offset + header.bodyOffset);
    if (r.bytesRead !== bodyLen) throw new CorruptEntryError(loc, 'entry body is cut short');
  }
  const key = Buffer.from(body.subarray(0, header.keyBytes));
  const meta = Buffer.from(body.subarray(header.keyBytes, keyMetaLen));
  if (keyMetaCrc(key, meta) !== header.keyMetaCrc)
    throw new CorruptEntryError(loc, 'key/meta checksum mismatch');
  if (!withData) return { header, key, meta };
  const data = body.subarray(keyMetaLen);
  if (crc32Of(data) !== header.dataCrc) throw new CorruptEntryError(loc, 'data checksum mismatch');
  return { header, key, meta, data };
}
