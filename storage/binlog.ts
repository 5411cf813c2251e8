// The node's binlog: an append-only log of every accepted object operation, which the cluster
// layer ships to mirrors with `readFrom(position)`.
//
// Files `binlog-00000001.log`, ... rotated when one reaches `maxFileBytes`. Each record is framed
//   u32 LE payload length | u32 LE CRC-32 of payload | payload
// payload = version u8 | op u8 | bucket str | key bytes | opver (u64 counter, u32 node) | size num
//           | has-location u8 [volumeId str | location]
// Appends are group-committed: all records queued while a write+fdatasync is in flight go out in
// the next single write+fdatasync. On open, a torn or corrupt tail of the last file (kill -9 in the
// middle of a write) is cut off; a record is only ever acknowledged after its fdatasync.

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Opver } from './api.ts';
import { Reader, Writer } from './codec.ts';
import type { Location } from './volume-port.ts';

export type BinlogOp = 'insert' | 'replace' | 'delete';

export interface BinlogRecord {
  op: BinlogOp;
  bucket: string;
  key: Buffer;
  opver: Opver;
  size: number;
  /** Where the new version lives (absent for deletes). */
  volumeId?: string;
  location?: Location;
}

export interface BinlogPosition {
  file: number;
  offset: number;
}

const OPS: BinlogOp[] = ['insert', 'replace', 'delete'];
const FRAME_BYTES = 8;
const VERSION = 1;
/** Sanity bound on one record: S3 keys are at most 1 KiB, so anything bigger is garbage. */
const MAX_PAYLOAD_BYTES = 64 * 1024;

export function encodeBinlogRecord(rec: BinlogRecord): Buffer {
  const w = new Writer(96).u32(0).u32(0).u8(VERSION).u8(OPS.indexOf(rec.op));
  w.str(rec.bucket).bytes(rec.key).u64(rec.opver.counter).u32(rec.opver.nodeId).num(rec.size);
  if (rec.location && rec.volumeId !== undefined) {
    const l = rec.location;
    w.u8(1)
      .str(rec.volumeId)
      .u8(l.kind === 'chunk' ? 0 : 1)
      .num(l.fileId)
      .num(l.offset)
      .num(l.allocBytes);
  } else w.u8(0);
  const buf = w.done();
  const payload = buf.subarray(FRAME_BYTES);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  return buf;
}

function decodePayload(payload: Buffer): BinlogRecord {
  const r = new Reader(payload);
  if (r.u8() !== VERSION) throw new Error('unknown binlog record version');
  const op = OPS[r.u8()];
  if (!op) throw new Error('unknown binlog op');
  const rec: BinlogRecord = {
    op,
    bucket: r.str(),
    key: r.bytes(),
    opver: { counter: r.u64(), nodeId: r.u32() },
    size: r.num(),
  };
  if (r.u8() === 1) {
    rec.volumeId = r.str();
    const kind = r.u8() === 0 ? 'chunk' : 'single';
    rec.location = { kind, fileId: r.num(), offset: r.num(), allocBytes: r.num() };
  }
  return rec;
}

/** Parses whole valid records from `buf`; stops at the first torn/corrupt one. */
export function parseRecords(buf: Buffer): {
  records: Array<{ rec: BinlogRecord; end: number }>;
  validBytes: number;
} {
  const records: Array<{ rec: BinlogRecord; end: number }> = [];
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
    at += FRAME_BYTES + len;
    records.push({ rec, end: at });
  }
  return { records, validBytes: at };
}

const fileName = (n: number) => `binlog-${String(n).padStart(8, '0')}.log`;

export interface BinlogOptions {
  dir: string;
  /** Rotate after a file reaches this size. */
  maxFileBytes?: number;
  /** 'none' skips fdatasync: tests and benchmarks only. */
  durability?: 'fsync' | 'none';
}

export class Binlog {
  private fh: FileHandle | undefined;
  private fileNo = 0;
  private size = 0;
  private pending: Buffer[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;
  private readonly maxFileBytes: number;
  private readonly sync: boolean;

  private constructor(
    private readonly dir: string,
    opts: BinlogOptions,
  ) {
    this.maxFileBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
    this.sync = (opts.durability ?? 'fsync') === 'fsync';
  }

  static async open(opts: BinlogOptions): Promise<Binlog> {
    const log = new Binlog(opts.dir, opts);
    await mkdir(opts.dir, { recursive: true });
    const files = await listFiles(opts.dir);
    log.fileNo = files.at(-1) ?? 1;
    log.fh = await open(join(opts.dir, fileName(log.fileNo)), 'a+');
    const buf = await log.fh.readFile();
    const { validBytes } = parseRecords(buf);
    if (validBytes < buf.length) {
      // A torn tail from a crash mid-write: it was never acknowledged, cut it off durably.
      await log.fh.truncate(validBytes);
      await log.fh.datasync();
    }
    log.size = validBytes;
    if (files.length === 0) await syncDir(opts.dir);
    return log;
  }

  /** The position just past the last durable record. */
  get position(): BinlogPosition {
    return { file: this.fileNo, offset: this.size };
  }

  /** Resolves once the record is durable (group-committed with concurrent appends). */
  append(rec: BinlogRecord): Promise<void> {
    this.pending.push(encodeBinlogRecord(rec));
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) this.flushing = this.flushLoop();
    return done;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = Buffer.concat(this.pending);
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        await this.fh!.write(batch, 0, batch.length, this.size);
        if (this.sync) await this.fh!.datasync();
        this.size += batch.length;
        if (this.size >= this.maxFileBytes) await this.rotate();
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.flushing = undefined;
  }

  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fileNo++;
    this.size = 0;
    this.fh = await open(join(this.dir, fileName(this.fileNo)), 'a+');
    if (this.sync) await syncDir(this.dir);
  }

  /** Every durable record from `from` on, each with the position just after it. */
  async *readFrom(
    from: BinlogPosition = { file: 1, offset: 0 },
  ): AsyncIterable<{ record: BinlogRecord; next: BinlogPosition }> {
    const files = (await listFiles(this.dir)).filter((n) => n >= from.file);
    for (const n of files) {
      const limit = n === this.fileNo ? this.size : Number.POSITIVE_INFINITY;
      const fh = await open(join(this.dir, fileName(n)), 'r');
      let buf: Buffer;
      try {
        buf = await fh.readFile();
      } finally {
        await fh.close();
      }
      const start = n === from.file ? from.offset : 0;
      const { records } = parseRecords(buf.subarray(start, Math.min(buf.length, limit)));
      for (const { rec, end } of records) yield { record: rec, next: { file: n, offset: start + end } };
    }
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
  }
}

async function listFiles(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .map((n) => /^binlog-(\d{8})\.log$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
