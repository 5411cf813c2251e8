// The node's binlog: an append-only log of every accepted operation (objects and multipart
// uploads), which the cluster layer ships to mirrors with `readFrom(position)`. Record format in
// binlog-record.ts.
//
// Files `binlog-00000001.log`, ... rotated when one reaches `maxFileBytes`; segments wholly before
// the retention floor are removed (`prune`, driven by checkpoints.ts). Appends are
// group-committed: all records queued while a write+fdatasync is in flight go out in the next
// single write+fdatasync. On open, a torn or corrupt tail of the last file (kill -9 in the middle
// of a write) is cut off.
//
// A record may be written at the same time as the volume entry it describes (`begin`), so it can
// be durable before the operation has succeeded. Such a record is *unsettled* until the node calls
// `settle` (the index has the op) or `voidRecord` (the op failed: the record is listed in
// `voids.dat` and never read again). `readFrom` stops at the *confirmed* position, before the
// first unsettled record, so nothing is shipped before the index has it. After a crash the node
// checks the unsettled tail against the rebuilt index and voids what the volumes do not back.
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Disk, type DiskFile, nodeDisk } from '../common/disk.ts';
import { mkdirDurable, syncDir, writeFileDurable } from '../common/durable-file.ts';
import {
  type BinlogPosition,
  type BinlogRecord,
  encodeBinlogRecord,
  FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  parseRecords,
} from './binlog-record.ts';

export type { BinlogOp, BinlogPosition, BinlogRecord } from './binlog-record.ts';
export { encodeBinlogRecord, parseRecords } from './binlog-record.ts';

export interface BinlogOptions {
  dir: string;
  /**
   * A position known to follow only whole durable records (the index's checkpoint): opening checks
   * for a torn tail from there instead of reading the whole last segment.
   */
  validUpTo?: BinlogPosition;
  /** Rotate after a file reaches this size. */
  maxFileBytes?: number;
  /** 'none' skips fdatasync: tests and benchmarks only. */
  durability?: 'fsync' | 'none';
  /** Where the files live (default: the real disk). */
  disk?: Disk;
}

/** One appended record: `durable` resolves once it is on disk; then settle or void it. */
export class BinlogTicket {
  file = 0;
  start = 0;
  end = 0;
  written = false;
  failed = false;
  settled = false;
  readonly durable: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  constructor(
    readonly bytes: Buffer,
    /** The record's object bytes (BinlogRecord.size): what push sync reports as lag. */
    readonly size = 0,
  ) {
    this.durable = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }
}

const VOIDS_FILE = 'voids.dat';
const VOID_BYTES = 12;
const READ_CHUNK_BYTES = 256 * 1024;
const posKey = (file: number, offset: number) => file * 2 ** 32 + offset;

export class Binlog {
  private fh: DiskFile | undefined;
  private voidsFh: DiskFile | undefined;
  private readonly voids = new Set<number>();
  private voidsChain: Promise<void> = Promise.resolve();
  private fileNo = 0;
  private size = 0;
  private pending: BinlogTicket[] = [];
  /** Tickets in file order not yet passed by the confirmed position. */
  private order: BinlogTicket[] = [];
  private orderHead = 0;
  private confirmedAt: BinlogPosition = { file: 1, offset: 0 };
  /** Live records (and their object bytes) the confirmed position has passed since open: push sync's lag. */
  private confirmedTally = { records: 0, bytes: 0 };
  private flushing: Promise<void> | undefined;
  private readonly maxFileBytes: number;
  private readonly sync: boolean;
  private readonly disk: Disk;

  private constructor(
    private readonly dir: string,
    opts: BinlogOptions,
  ) {
    this.maxFileBytes = opts.maxFileBytes ?? 64 * 1024 * 1024;
    this.sync = (opts.durability ?? 'fsync') === 'fsync';
    this.disk = opts.disk ?? nodeDisk;
  }

  static async open(opts: BinlogOptions): Promise<Binlog> {
    const log = new Binlog(opts.dir, opts);
    await mkdirDurable(log.disk, opts.dir);
    const files = await listFiles(log.disk, opts.dir);
    log.fileNo = files.at(-1) ?? 1;
    log.fh = await log.disk.open(join(opts.dir, fileName(log.fileNo)), 'a+');
    const from = opts.validUpTo?.file === log.fileNo ? opts.validUpTo.offset : 0;
    log.size = await cutTornTail(log.fh, log.sync, from);
    log.confirmedAt = { file: log.fileNo, offset: log.size };
    log.voidsFh = await log.disk.open(join(opts.dir, VOIDS_FILE), 'a+');
    const v = await log.voidsFh.readFile();
    for (let at = 0; at + VOID_BYTES <= v.length; at += VOID_BYTES) {
      if (crc32(v.subarray(at, at + 8)) !== v.readUInt32LE(at + 8)) break;
      log.voids.add(posKey(v.readUInt32LE(at), v.readUInt32LE(at + 4)));
    }
    if (files.length === 0 && log.sync) await syncDir(log.disk, opts.dir);
    return log;
  }

  /** The position just past the last durable record. */
  get position(): BinlogPosition {
    return { file: this.fileNo, offset: this.size };
  }

  /** Everything before this position is settled: what `readFrom` may ship. */
  get confirmed(): BinlogPosition {
    return this.confirmedAt;
  }

  /**
   * Live records (not voided) below the confirmed position that were appended since open, and the sum of their
   * sizes; read together with `confirmed` in one synchronous step, a reader counting what it has passed knows
   * how far behind it is (push-sync.ts).
   */
  get confirmedCount(): { records: number; bytes: number } {
    return { ...this.confirmedTally };
  }

  /** Where the oldest segment still on disk starts: nothing before it can be read any more. */
  async oldest(): Promise<BinlogPosition> {
    const files = await listFiles(this.disk, this.dir);
    return { file: files[0] ?? this.fileNo, offset: 0 };
  }

  /** Bytes of the segments from `from` to the end (what keeping everything from `from` costs). */
  async bytesFrom(from: BinlogPosition): Promise<number> {
    let n = 0;
    for (const f of await listFiles(this.disk, this.dir)) {
      if (f < from.file) continue;
      const size = f === this.fileNo ? this.size : (await this.disk.stat(join(this.dir, fileName(f)))).size;
      n += f === from.file ? Math.max(0, size - from.offset) : size;
    }
    return n;
  }

  /** Queues a record; `ticket.durable` resolves once it is on disk. The caller must settle or void it. */
  begin(rec: BinlogRecord): BinlogTicket {
    const t = new BinlogTicket(encodeBinlogRecord(rec), rec.size);
    this.pending.push(t);
    this.order.push(t);
    if (!this.flushing) this.flushing = this.flushLoop();
    return t;
  }

  /** Appends a record for an op that already succeeded; resolves once durable (and settled). */
  async append(rec: BinlogRecord): Promise<void> {
    const t = this.begin(rec);
    try {
      await t.durable;
    } finally {
      this.settle(t);
    }
  }

  /** The op the record describes is in the index: the record may be shipped. */
  settle(t: BinlogTicket): void {
    t.settled = true;
    this.advance();
  }

  /** The op failed after its record became durable: mark the record dead, durably, then settle. */
  async voidRecord(t: BinlogTicket): Promise<void> {
    await this.voidAt([{ file: t.file, offset: t.start }]);
    this.settle(t);
  }

  /** Durably marks the records starting at these positions as never having happened. */
  async voidAt(positions: BinlogPosition[]): Promise<void> {
    if (positions.length === 0) return;
    const buf = Buffer.allocUnsafe(VOID_BYTES * positions.length);
    positions.forEach((p, i) => {
      buf.writeUInt32LE(p.file, i * VOID_BYTES);
      buf.writeUInt32LE(p.offset, i * VOID_BYTES + 4);
      buf.writeUInt32LE(crc32(buf.subarray(i * VOID_BYTES, i * VOID_BYTES + 8)), i * VOID_BYTES + 8);
      this.voids.add(posKey(p.file, p.offset));
    });
    await this.withVoids(async () => {
      await this.voidsFh!.appendFile(buf);
      if (this.sync) await this.voidsFh!.datasync();
    });
  }

  /** Writes to voids.dat one at a time (appends, and the rewrite after a prune). */
  private withVoids(fn: () => Promise<void>): Promise<void> {
    const p = this.voidsChain.then(fn);
    this.voidsChain = p.catch(() => undefined);
    return p;
  }

  private advance(): void {
    const order = this.order;
    let h = this.orderHead;
    while (h < order.length) {
      const t = order[h]!;
      if (!t.failed && !(t.settled && t.written)) break;
      if (!t.failed) {
        this.confirmedAt = { file: t.file, offset: t.end };
        if (!this.voids.has(posKey(t.file, t.start))) {
          this.confirmedTally.records++;
          this.confirmedTally.bytes += t.size;
        }
      }
      h++;
    }
    if (h > 1024 && h * 2 > order.length) {
      this.order = order.slice(h);
      h = 0;
    }
    this.orderHead = h;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      let at = this.size;
      const bufs: Buffer[] = [];
      for (const t of batch) {
        t.file = this.fileNo;
        t.start = at;
        at += t.bytes.length;
        t.end = at;
        bufs.push(t.bytes);
      }
      try {
        await this.fh!.writev(bufs, this.size);
        if (this.sync) await this.fh!.datasync();
        this.size = at;
        for (const t of batch) t.written = true;
        if (this.size >= this.maxFileBytes) await this.rotate();
        for (const t of batch) t.resolve();
      } catch (err) {
        // Not appended: the next batch overwrites whatever part of it reached the file.
        for (const t of batch) {
          t.failed = true;
          t.reject(err);
        }
      }
      this.advance();
    }
    this.flushing = undefined;
  }

  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fileNo++;
    this.size = 0;
    this.fh = await this.disk.open(join(this.dir, fileName(this.fileNo)), 'a+');
    if (this.sync) await syncDir(this.disk, this.dir);
  }

  /**
   * Every live record from `from` on, each with its own position and the one just after it, read a
   * chunk at a time. Stops at the confirmed position unless `unconfirmed` (recovery's check), or at `until`
   * (a confirmed position read earlier: push sync pairs it with `confirmedCount`).
   */
  async *readFrom(
    from: BinlogPosition = { file: 1, offset: 0 },
    opts: { unconfirmed?: boolean; until?: BinlogPosition } = {},
  ): AsyncIterable<{ record: BinlogRecord; at: BinlogPosition; next: BinlogPosition }> {
    const stop = opts.until ?? (opts.unconfirmed ? this.position : this.confirmedAt);
    const files = (await listFiles(this.disk, this.dir)).filter((n) => n >= from.file && n <= stop.file);
    for (const n of files) {
      const limit = n === stop.file ? stop.offset : Number.POSITIVE_INFINITY;
      const fh = await this.disk.open(join(this.dir, fileName(n)), 'r');
      try {
        for await (const r of readRecords(fh, n === from.file ? from.offset : 0, limit)) {
          if (this.voids.has(posKey(n, r.start))) continue;
          yield { record: r.rec, at: { file: n, offset: r.start }, next: { file: n, offset: r.end } };
        }
      } finally {
        await fh.close();
      }
    }
  }

  /**
   * Removes the segments wholly before `floor` (never the one being appended to); returns how many.
   * The caller's floor covers everything that still needs the records (checkpoints.ts).
   */
  async prune(floor: BinlogPosition): Promise<number> {
    let removed = 0;
    for (const n of await listFiles(this.disk, this.dir)) {
      if (n >= floor.file || n >= this.fileNo) break;
      await this.disk.unlink(join(this.dir, fileName(n)));
      removed += 1;
    }
    if (removed > 0 && this.sync) await syncDir(this.disk, this.dir);
    // Voids of removed segments go too, so voids.dat is bounded like the segments.
    const gone = [...this.voids].filter((k) => Math.floor(k / 2 ** 32) < floor.file);
    if (gone.length > 0) {
      await this.withVoids(async () => {
        for (const k of gone) this.voids.delete(k);
        const buf = Buffer.allocUnsafe(VOID_BYTES * this.voids.size);
        let i = 0;
        for (const k of this.voids) {
          buf.writeUInt32LE(Math.floor(k / 2 ** 32), i);
          buf.writeUInt32LE(k % 2 ** 32, i + 4);
          buf.writeUInt32LE(crc32(buf.subarray(i, i + 8)), i + 8);
          i += VOID_BYTES;
        }
        await this.voidsFh!.close();
        await writeFileDurable(this.disk, this.dir, VOIDS_FILE, buf);
        this.voidsFh = await this.disk.open(join(this.dir, VOIDS_FILE), 'a+');
      });
    }
    return removed;
  }

  /** Bytes of every segment on disk. */
  async diskBytes(): Promise<number> {
    let n = 0;
    for (const f of await listFiles(this.disk, this.dir))
      n += (await this.disk.stat(join(this.dir, fileName(f)))).size;
    return n;
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.voidsChain;
    await this.fh?.close();
    await this.voidsFh?.close();
    this.fh = undefined;
    this.voidsFh = undefined;
  }
}

/** Valid records of one file between `start` and `limit`, with absolute offsets. */
async function* readRecords(fh: DiskFile, start: number, limit: number) {
  let carry = Buffer.alloc(0);
  let base = start;
  let at = start;
  for (;;) {
    const want = Math.min(READ_CHUNK_BYTES, limit - at);
    if (want <= 0) break;
    const chunk = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(chunk, 0, want, at);
    if (bytesRead === 0) break;
    at += bytesRead;
    const buf = carry.length
      ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
      : chunk.subarray(0, bytesRead);
    const { records, validBytes } = parseRecords(buf);
    for (const r of records) yield { rec: r.rec, start: base + r.start, end: base + r.end };
    carry = buf.subarray(validBytes);
    base += validBytes;
    // A frame never exceeds this; anything longer left over is corruption: stop like the parser does.
    if (carry.length > FRAME_BYTES + MAX_PAYLOAD_BYTES) break;
  }
}

/** Cuts a torn tail (kill -9 mid-write, never acknowledged) off durably; returns the valid size. */
async function cutTornTail(fh: DiskFile, sync: boolean, from: number): Promise<number> {
  const size = (await fh.stat()).size;
  // A hint past the end cannot be right (the file was cut by hand): read it all.
  const start = from <= size ? from : 0;
  let valid = start;
  for await (const r of readRecords(fh, start, size)) valid = r.end;
  if (valid < size) {
    await fh.truncate(valid);
    if (sync) await fh.datasync();
  }
  return valid;
}

const fileName = (n: number) => `binlog-${String(n).padStart(8, '0')}.log`;

async function listFiles(disk: Disk, dir: string): Promise<number[]> {
  const names = await disk.readdir(dir);
  return names
    .map((n) => /^binlog-(\d{8})\.log$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
