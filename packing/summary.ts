// The volume checkpoint (`summary.qs`): per-chunkfile end, counters and free extents, with a checksum,
// written periodically and at a clean close. It describes only the chunkfiles it lists, as they were
// at its snapshot; what changed since is found through the change journal (checkpoint.ts, FORMAT.md).
import { crc32Of } from './crc.ts';
import { FORMAT_VERSION, MAGIC } from './layout.ts';

export interface ChunkSummary {
  readonly fileId: number;
  readonly end: number;
  readonly liveEntries: number;
  readonly liveBytes: number;
  readonly liveDataBytes: number;
  readonly deadBytes: number;
  readonly holes: ReadonlyArray<{ readonly offset: number; readonly size: number }>;
}

export interface VolumeSummary {
  readonly volumeCrc: number;
  /** Checkpoint number: journals of this generation and later list what changed since. */
  readonly generation: number;
  /** Written by a clean close: lists every chunkfile, and the singlefile counts are exact. */
  readonly complete: boolean;
  readonly nextChunkId: number;
  readonly nextSingleId: number;
  readonly singlefiles: number;
  readonly singleBytes: number;
  readonly singleDataBytes: number;
  readonly chunks: readonly ChunkSummary[];
}

const HEAD_BYTES = 48;
const CHUNK_BYTES = 48;
const HOLE_BYTES = 12;

export function encodeSummary(s: VolumeSummary): Buffer {
  let size = HEAD_BYTES + 4;
  for (const c of s.chunks) size += CHUNK_BYTES + HOLE_BYTES * c.holes.length;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(MAGIC.summary, 0);
  buf.writeUInt16LE(FORMAT_VERSION, 4);
  buf.writeUInt16LE(s.complete ? 1 : 0, 6);
  buf.writeUInt32LE(s.volumeCrc, 8);
  buf.writeUInt32LE(s.nextChunkId, 12);
  buf.writeUInt32LE(s.nextSingleId, 16);
  buf.writeUInt32LE(s.singlefiles, 20);
  buf.writeBigUInt64LE(BigInt(s.singleBytes), 24);
  buf.writeBigUInt64LE(BigInt(s.singleDataBytes), 32);
  buf.writeUInt32LE(s.chunks.length, 40);
  buf.writeUInt32LE(s.generation, 44);
  let p = HEAD_BYTES;
  for (const c of s.chunks) {
    buf.writeUInt32LE(c.fileId, p);
    buf.writeUInt32LE(c.liveEntries, p + 4);
    buf.writeBigUInt64LE(BigInt(c.end), p + 8);
    buf.writeBigUInt64LE(BigInt(c.liveBytes), p + 16);
    buf.writeBigUInt64LE(BigInt(c.liveDataBytes), p + 24);
    buf.writeBigUInt64LE(BigInt(c.deadBytes), p + 32);
    buf.writeUInt32LE(c.holes.length, p + 40);
    p += CHUNK_BYTES;
    for (const h of c.holes) {
      buf.writeBigUInt64LE(BigInt(h.offset), p);
      buf.writeUInt32LE(h.size, p + 8);
      p += HOLE_BYTES;
    }
  }
  buf.writeUInt32LE(crc32Of(buf.subarray(0, p)), p);
  return buf;
}

/** Undefined when the bytes are not a complete, checksummed summary of this volume. */
export function decodeSummary(buf: Buffer, volumeCrc: number): VolumeSummary | undefined {
  if (buf.length < HEAD_BYTES + 4 || buf.readUInt32LE(0) !== MAGIC.summary) return undefined;
  if (buf.readUInt32LE(buf.length - 4) !== crc32Of(buf.subarray(0, buf.length - 4))) return undefined;
  if (buf.readUInt16LE(4) !== FORMAT_VERSION || buf.readUInt32LE(8) !== volumeCrc) return undefined;
  const chunks: ChunkSummary[] = [];
  let p = HEAD_BYTES;
  const n = buf.readUInt32LE(40);
  for (let i = 0; i < n; i++) {
    const holeCount = buf.readUInt32LE(p + 40);
    const holes: { offset: number; size: number }[] = [];
    for (let j = 0, q = p + CHUNK_BYTES; j < holeCount; j++, q += HOLE_BYTES) {
      holes.push({ offset: Number(buf.readBigUInt64LE(q)), size: buf.readUInt32LE(q + 8) });
    }
    chunks.push({
      fileId: buf.readUInt32LE(p),
      liveEntries: buf.readUInt32LE(p + 4),
      end: Number(buf.readBigUInt64LE(p + 8)),
      liveBytes: Number(buf.readBigUInt64LE(p + 16)),
      liveDataBytes: Number(buf.readBigUInt64LE(p + 24)),
      deadBytes: Number(buf.readBigUInt64LE(p + 32)),
      holes,
    });
    p += CHUNK_BYTES + HOLE_BYTES * holeCount;
  }
  return {
    volumeCrc,
    generation: buf.readUInt32LE(44),
    complete: (buf.readUInt16LE(6) & 1) === 1,
    nextChunkId: buf.readUInt32LE(12),
    nextSingleId: buf.readUInt32LE(16),
    singlefiles: buf.readUInt32LE(20),
    singleBytes: Number(buf.readBigUInt64LE(24)),
    singleDataBytes: Number(buf.readBigUInt64LE(32)),
    chunks,
  };
}
