// Binlog record encoding. Each record is framed
//   u32 LE payload length | u32 LE CRC-32 of payload | payload
// Payload v3 (written now):
//   version u8 = 3 | op u8 | bucket str | key bytes | opver (u64 counter, u32 node) | size f64
//   | uploadId optStr | partNumber u32 (0 when not a part)
//   | version flags u8 (bit 0: the record names a version of a versioned bucket, bit 1: a real version
//     whose stamp follows, bit 2: a delete marker) | [stamp: u64 counter, u32 node]
// Payload v2 (read only): the same up to partNumber, no version (the null version of an unversioned bucket).
// Payload v1 (read only, files written before v2): version u8 = 1 | op u8 (0..2) | bucket | key |
//   opver | size | has-location u8 [volumeId str | kind u8 | fileId | offset | allocBytes].
// v2 carries no volume location: the record is written at the same time as the volume entry, and
// a location goes stale after compaction anyway; mirrors fetch by key and opver.
import { crc32 } from 'node:zlib';
import type { Opver } from './api.ts';
import { Reader, Writer } from './codec.ts';
import type { Location } from './volume-port.ts';

export type BinlogOp =
  | 'insert'
  | 'replace'
  | 'delete'
  | 'upload-create'
  | 'upload-part'
  | 'upload-complete'
  | 'upload-abort'
  /** One version removed (DeleteObject with versionId). */
  | 'version-delete'
  /** A version's tags, retention or legal hold replaced (its data and id unchanged). */
  | 'attributes';

/** Which version a record is about: absent for objects of unversioned buckets (the one null version). */
export interface RecordVersion {
  /** The real version's stamp (its id); absent: the null version. */
  stamp?: Opver;
  deleteMarker?: boolean;
}

export interface BinlogRecord {
  op: BinlogOp;
  bucket: string;
  key: Buffer;
  opver: Opver;
  /** Object or part size in bytes (the deleted version's size for deletes; 0 for create/abort). */
  size: number;
  /** Multipart ops only. */
  uploadId?: string;
  /** upload-part only: 1..10000. */
  partNumber?: number;
  /** Object ops of a versioned (enabled or suspended) bucket, version ops. */
  version?: RecordVersion;
  /** v1 records only: where the version lived when it was written. */
  volumeId?: string;
  location?: Location;
}

export interface BinlogPosition {
  file: number;
  offset: number;
}

export const OPS: readonly BinlogOp[] = [
  'insert',
  'replace',
  'delete',
  'upload-create',
  'upload-part',
  'upload-complete',
  'upload-abort',
  'version-delete',
  'attributes',
];
export const FRAME_BYTES = 8;
const V1 = 1;
const V2 = 2;
const V3 = 3;
const VF_PRESENT = 1;
const VF_STAMP = 2;
const VF_DELETE_MARKER = 4;
/** Sanity bound on one record: S3 keys are at most 1 KiB, so anything bigger is garbage. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function encodeBinlogRecord(rec: BinlogRecord): Buffer {
  const w = new Writer(64 + rec.key.length + rec.bucket.length).u32(0).u32(0);
  w.u8(V3).u8(OPS.indexOf(rec.op)).str(rec.bucket).bytes(rec.key);
  w.u64(rec.opver.counter).u32(rec.opver.nodeId).num(rec.size);
  w.optStr(rec.uploadId).u32(rec.partNumber ?? 0);
  const v = rec.version;
  if (!v) w.u8(0);
  else {
    w.u8(VF_PRESENT | (v.stamp ? VF_STAMP : 0) | (v.deleteMarker ? VF_DELETE_MARKER : 0));
    if (v.stamp) w.u64(v.stamp.counter).u32(v.stamp.nodeId);
  }
  const buf = w.done();
  const payload = buf.subarray(FRAME_BYTES);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  return buf;
}

function decodePayload(payload: Buffer): BinlogRecord {
  const r = new Reader(payload);
  const version = r.u8();
  if (version !== V1 && version !== V2 && version !== V3) throw new Error('unknown binlog record version');
  const op = OPS[r.u8()];
  if (!op || (version === V1 && OPS.indexOf(op) > 2) || (version === V2 && OPS.indexOf(op) > 6))
    throw new Error('unknown binlog op');
  const rec: BinlogRecord = {
    op,
    bucket: r.str(),
    key: r.bytes(),
    opver: { counter: r.u64(), nodeId: r.u32() },
    size: r.num(),
  };
  if (version !== V1) {
    const uploadId = r.optStr();
    if (uploadId !== undefined) rec.uploadId = uploadId;
    const partNumber = r.u32();
    if (partNumber > 0) rec.partNumber = partNumber;
    const flags = version === V3 ? r.u8() : 0;
    if (flags & VF_PRESENT) {
      const v: RecordVersion = {};
      if (flags & VF_STAMP) v.stamp = { counter: r.u64(), nodeId: r.u32() };
      if (flags & VF_DELETE_MARKER) v.deleteMarker = true;
      rec.version = v;
    }
  } else if (r.u8() === 1) {
    rec.volumeId = r.str();
    const kind = r.u8() === 0 ? 'chunk' : 'single';
    rec.location = { kind, fileId: r.num(), offset: r.num(), allocBytes: r.num() };
  }
  if (r.remaining !== 0) throw new Error('trailing bytes in binlog record');
  return rec;
}

export interface ParsedRecord {
  rec: BinlogRecord;
  /** Offset of the frame within the parsed buffer. */
  start: number;
  /** Offset just past the frame. */
  end: number;
}

/** Parses whole valid records from `buf`; stops at the first torn/corrupt one (or a partial frame). */
export function parseRecords(buf: Buffer): { records: ParsedRecord[]; validBytes: number } {
  const records: ParsedRecord[] = [];
  let at = 0;
  while (at + FRAME_BYTES <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len === 0 || len > MAX_PAYLOAD_BYTES || at + FRAME_BYTES + len > buf.length) break;
    const payload = buf.subarray(at + FRAME_BYTES, at + FRAME_BYTES + len);
    if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
    let rec: BinlogRecord;
    try {
      rec = decodePayload(payload);
    } catch {
      break;
    }
    const start = at;
    at += FRAME_BYTES + len;
    records.push({ rec, start, end: at });
  }
  return { records, validBytes: at };
}
