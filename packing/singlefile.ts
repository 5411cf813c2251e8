// Singlefiles: one file per large object, streamed in and out. Layout (FORMAT.md): header, key, meta,
// padding to 8, data, then one CRC-32 per block so a read verifies each block before emitting it.
import { join } from 'node:path';
import { type Disk, type DiskFile, isNotFound } from '../common/disk.ts';
import { syncDir } from '../common/durable-file.ts';
import { decodeSingleHeader, type EntryHeader, encodeSingleHeader, keyMetaCrc } from './codec.ts';
import { crc32Continue, crc32Of } from './crc.ts';
import { CorruptEntryError, EntryNotFoundError, InvalidInputError } from './errors.ts';
import { alignUp, FILE_NAMES, HEADER_BYTES, singleFileName } from './layout.ts';
import type { ByteRange, Location, Opver } from './types.ts';

export const SINGLE_BLOCK_BYTES = 1024 * 1024;

export interface SingleWrite {
  readonly key: Buffer;
  readonly meta: Buffer;
  readonly opver: Opver;
  readonly data: Buffer | AsyncIterable<Buffer>;
  readonly dataBytes: number;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface SingleLayout {
  readonly dataOffset: number;
  readonly tableOffset: number;
  readonly blocks: number;
  readonly fileBytes: number;
}

export function singleLayout(keyBytes: number, metaBytes: number, dataBytes: number): SingleLayout {
  const dataOffset = alignUp(HEADER_BYTES + keyBytes + metaBytes);
  const blocks = Math.ceil(dataBytes / SINGLE_BLOCK_BYTES);
  const tableOffset = dataOffset + dataBytes;
  return { dataOffset, tableOffset, blocks, fileBytes: tableOffset + 4 * blocks };
}

async function* chunksOf(data: Buffer | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(data)) yield data;
  else for await (const c of data) yield Buffer.isBuffer(c) ? c : Buffer.from(c);
}

/** Data goes to the file in writes of this size (incoming chunks are coalesced). */
const WRITE_BYTES = 1024 * 1024;
/** A background fdatasync starts after each this many bytes, so the final one has little left. */
const SYNC_EVERY_BYTES = 16 * 1024 * 1024;
/**
 * Write buffers shared by every singlefile being written in the process: memory stays bounded however many
 * large uploads run at once (64 concurrent uploads held two private 1 MiB buffers each, and their churn kept
 * the process's RSS high long after). Beyond the cap, a new writer waits for a buffer, which holds its upload
 * back (and through it the client's socket) until the disk catches up.
 */
const WRITE_BUFFERS_MAX = 32;

class WriteBuffers {
  private readonly free: Buffer[] = [];
  private made = 0;
  private readonly waiters: Array<(b: Buffer) => void> = [];

  constructor(
    private readonly bytes: number,
    private readonly max: number,
  ) {}

  tryTake(): Buffer | undefined {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.made >= this.max) return undefined;
    this.made++;
    return Buffer.allocUnsafeSlow(this.bytes);
  }

  take(): Promise<Buffer> {
    const b = this.tryTake();
    return b ? Promise.resolve(b) : new Promise((resolve) => this.waiters.push(resolve));
  }

  give(b: Buffer | undefined): void {
    if (!b) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(b);
    else this.free.push(b);
  }
}

const writeBuffers = new WriteBuffers(WRITE_BYTES, WRITE_BUFFERS_MAX);

/**
 * Writes data at increasing offsets with one write in flight while the next buffer fills, and
 * (durable) an fdatasync in the background every SYNC_EVERY_BYTES. `finish` surfaces any error.
 * Buffers come from `writeBuffers`: a writer waits for one only while it holds none, and never waits for a
 * second (it writes without overlap instead), so writers cannot deadlock on the pool.
 */
class DataWriter {
  private pos: number;
  /** The buffer filling, and the one being written (or free to fill next); both from writeBuffers. */
  private buf: Buffer | undefined;
  private spare: Buffer | undefined;
  private fill = 0;
  private writing: Promise<void> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private sinceSync = 0;

  constructor(
    private readonly fh: DiskFile,
    start: number,
    private readonly durable: boolean,
  ) {
    this.pos = start;
  }

  async add(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      this.buf ??= await writeBuffers.take();
      const take = Math.min(WRITE_BYTES - this.fill, chunk.length - off);
      chunk.copy(this.buf, this.fill, off, off + take);
      this.fill += take;
      off += take;
      if (this.fill === WRITE_BYTES) await this.flush();
    }
  }

  /** Hands the filled buffer to the file once the previous write is done. */
  private async flush(): Promise<void> {
    await this.writing;
    const full = this.buf as Buffer;
    const out = full.subarray(0, this.fill);
    const at = this.pos;
    this.pos += this.fill;
    this.sinceSync += this.fill;
    this.fill = 0;
    this.writing = writeFully(this.fh, out, at);
    // Never left unobserved: the next flush or finish awaits it.
    this.writing.catch(() => undefined);
    if (this.durable && this.sinceSync >= SYNC_EVERY_BYTES && !this.syncing) {
      this.sinceSync = 0;
      const w = this.writing;
      this.syncing = w
        .then(() => this.fh.datasync())
        .finally(() => {
          this.syncing = undefined;
        });
      this.syncing.catch(() => undefined);
    }
    // The spare's previous write finished (awaited above), so it can be filled again.
    const next = this.spare ?? writeBuffers.tryTake();
    if (next) {
      this.buf = next;
      this.spare = full;
    } else {
      // No second buffer to be had: fill this one again once its write is done.
      this.buf = full;
      await this.writing;
    }
  }

  /** Writes what is buffered, waits for every write and background sync, and returns the buffers. */
  async finish(): Promise<void> {
    try {
      if (this.fill > 0) await this.flush();
      await this.writing;
      await this.syncing;
    } finally {
      // Only once no write still reads them: a buffer handed on early could be refilled mid-write.
      await this.writing.catch(() => undefined);
      writeBuffers.give(this.buf);
      writeBuffers.give(this.spare);
      this.buf = undefined;
      this.spare = undefined;
    }
  }
}

async function writeFully(fh: DiskFile, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten === 0) throw new Error('singlefile write made no progress');
    done += bytesWritten;
  }
}

/** Streams the object into a temp file, then fsync → rename → fsync dir. Returns the header written. */
export async function writeSinglefile(
  disk: Disk,
  dir: string,
  fileId: number,
  w: SingleWrite,
  volumeCrc: number,
  durable: boolean,
): Promise<{ header: EntryHeader; fileBytes: number }> {
  const name = singleFileName(fileId);
  const tmp = join(dir, name + FILE_NAMES.tmpSuffix);
  const layout = singleLayout(w.key.length, w.meta.length, w.dataBytes);
  const table = Buffer.alloc(4 * layout.blocks);
  const fh = await disk.open(tmp, 'w');
  let header: EntryHeader;
  let written = false;
  try {
    const out = new DataWriter(fh, layout.dataOffset, durable);
    let pos = 0;
    let dataCrc = 0;
    let blockCrc = 0;
    let failed = false;
    try {
      for await (const chunk of chunksOf(w.data)) {
        if (pos + chunk.length > w.dataBytes)
          throw new InvalidInputError('singlefile data longer than dataBytes');
        const adding = out.add(chunk);
        dataCrc = crc32Continue(chunk, dataCrc);
        // Per-block CRCs: a chunk may span block boundaries.
        for (let off = 0; off < chunk.length; ) {
          const inBlock = (pos + off) % SINGLE_BLOCK_BYTES;
          const take = Math.min(SINGLE_BLOCK_BYTES - inBlock, chunk.length - off);
          blockCrc = crc32Continue(chunk.subarray(off, off + take), inBlock === 0 ? 0 : blockCrc);
          table.writeUInt32LE(blockCrc, 4 * Math.floor((pos + off) / SINGLE_BLOCK_BYTES));
          off += take;
        }
        pos += chunk.length;
        await adding;
      }
      if (pos !== w.dataBytes)
        throw new InvalidInputError(`singlefile data is ${pos} bytes, expected ${w.dataBytes}`);
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // Whatever happened, no write may still be running when the handle closes.
      await out.finish().catch((err) => {
        if (!failed) throw err;
      });
    }
    header = {
      flags: 0,
      keyBytes: w.key.length,
      allocBytes: SINGLE_BLOCK_BYTES,
      bodyOffset: HEADER_BYTES,
      metaBytes: w.meta.length,
      dataBytes: w.dataBytes,
      opver: w.opver,
      dataCrc,
      createdMs: w.createdMs,
      updatedMs: w.updatedMs,
      keyMetaCrc: keyMetaCrc(w.key, w.meta),
    };
    const head = Buffer.alloc(layout.dataOffset);
    encodeSingleHeader(head, 0, header, volumeCrc);
    w.key.copy(head, HEADER_BYTES);
    w.meta.copy(head, HEADER_BYTES + w.key.length);
    await Promise.all([writeFully(fh, head, 0), writeFully(fh, table, layout.tableOffset)]);
    if (durable) await fh.datasync();
    written = true;
  } finally {
    await fh.close();
    // A failed or abandoned write (the body stream broke: client gone) leaves no temp file behind.
    if (!written) await disk.unlink(tmp).catch(() => undefined);
  }
  await disk.rename(tmp, join(dir, name));
  if (durable) await syncDir(disk, dir);
  return { header, fileBytes: layout.fileBytes };
}

export interface SingleHead {
  readonly header: EntryHeader;
  readonly key: Buffer;
  readonly meta: Buffer;
  readonly layout: SingleLayout;
}

/** Opens a singlefile for reading; one that is gone (deleted or replaced) is EntryNotFoundError. */
async function openSingle(disk: Disk, dir: string, location: Location): Promise<DiskFile> {
  try {
    return await disk.open(join(dir, singleFileName(location.fileId)), 'r');
  } catch (err) {
    if (isNotFound(err)) throw new EntryNotFoundError(location, 'no such singlefile');
    throw err;
  }
}

export async function readSingleHead(
  disk: Disk,
  dir: string,
  location: Location,
  volumeCrc: number,
): Promise<SingleHead> {
  const fh = await openSingle(disk, dir, location);
  try {
    return await readHeadFrom(fh, location, volumeCrc);
  } finally {
    await fh.close();
  }
}

async function readHeadFrom(fh: DiskFile, location: Location, volumeCrc: number): Promise<SingleHead> {
  const first = Buffer.alloc(4096);
  const { bytesRead } = await fh.read(first, 0, first.length, 0);
  const header = decodeSingleHeader(first.subarray(0, Math.min(bytesRead, HEADER_BYTES)), volumeCrc);
  if (!header) throw new CorruptEntryError(location, 'invalid singlefile header');
  const headLen = HEADER_BYTES + header.keyBytes + header.metaBytes;
  let head = first.subarray(0, bytesRead);
  if (headLen > bytesRead) {
    head = Buffer.alloc(headLen);
    await fh.read(head, 0, headLen, 0);
  }
  const key = Buffer.from(head.subarray(HEADER_BYTES, HEADER_BYTES + header.keyBytes));
  const meta = Buffer.from(head.subarray(HEADER_BYTES + header.keyBytes, headLen));
  if (keyMetaCrc(key, meta) !== header.keyMetaCrc) throw new CorruptEntryError(location, 'key/meta checksum');
  return { header, key, meta, layout: singleLayout(header.keyBytes, header.metaBytes, header.dataBytes) };
}

/** Files up to this size are read with one read (header, data and CRC table together). */
const WHOLE_READ_MAX = 4 * 1024 * 1024;

/** Streams [range] of a singlefile, verifying every block it touches before yielding any of it. */
export async function* readSinglefile(
  disk: Disk,
  dir: string,
  location: Location,
  volumeCrc: number,
  range?: ByteRange,
): AsyncGenerator<Buffer> {
  const fh = await openSingle(disk, dir, location);
  try {
    if (location.allocBytes > 0 && location.allocBytes <= WHOLE_READ_MAX) {
      yield* wholeFileBlocks(fh, location, volumeCrc, range);
      return;
    }
    const { header, layout } = await readHeadFrom(fh, location, volumeCrc);
    const span = rangeBlocks(header.dataBytes, range);
    if (!span) return;
    const { b0, b1, start, end } = span;
    const table = Buffer.alloc(4 * (b1 - b0 + 1));
    await fh.read(table, 0, table.length, layout.tableOffset + 4 * b0);
    for (let b = b0; b <= b1; b++) {
      const blockStart = b * SINGLE_BLOCK_BYTES;
      const len = Math.min(SINGLE_BLOCK_BYTES, header.dataBytes - blockStart);
      const block = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(block, 0, len, layout.dataOffset + blockStart);
      if (bytesRead !== len || crc32Of(block) !== table.readUInt32LE(4 * (b - b0))) {
        throw new CorruptEntryError(location, `block ${b} checksum mismatch`);
      }
      const from = Math.max(start - blockStart, 0);
      const to = Math.min(end - blockStart + 1, len);
      yield block.subarray(from, to);
    }
  } finally {
    await fh.close();
  }
}

function rangeBlocks(dataBytes: number, range: ByteRange | undefined) {
  if (dataBytes === 0) return undefined;
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? dataBytes - 1, dataBytes - 1);
  if (start > end) return undefined;
  return { start, end, b0: Math.floor(start / SINGLE_BLOCK_BYTES), b1: Math.floor(end / SINGLE_BLOCK_BYTES) };
}

/**
 * A small singlefile in one read: header and key/meta checked, then every block of the range checked
 * against the table, then the range yielded as one subarray of that buffer (no copy, and none for the
 * caller either: a body of several blocks is not handed out in pieces to be joined again).
 */
async function* wholeFileBlocks(
  fh: DiskFile,
  location: Location,
  volumeCrc: number,
  range: ByteRange | undefined,
): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(location.allocBytes);
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  const { header, layout } = headOf(buf.subarray(0, bytesRead), location, volumeCrc);
  if (layout.fileBytes !== bytesRead) throw new CorruptEntryError(location, 'singlefile size mismatch');
  const span = rangeBlocks(header.dataBytes, range);
  if (!span) return;
  for (let b = span.b0; b <= span.b1; b++) {
    const blockStart = b * SINGLE_BLOCK_BYTES;
    const len = Math.min(SINGLE_BLOCK_BYTES, header.dataBytes - blockStart);
    const block = buf.subarray(layout.dataOffset + blockStart, layout.dataOffset + blockStart + len);
    if (crc32Of(block) !== buf.readUInt32LE(layout.tableOffset + 4 * b)) {
      throw new CorruptEntryError(location, `block ${b} checksum mismatch`);
    }
  }
  yield buf.subarray(layout.dataOffset + span.start, layout.dataOffset + span.end + 1);
}

/** Header, key and meta of a singlefile from a buffer holding its start (verified). */
function headOf(buf: Buffer, location: Location, volumeCrc: number): SingleHead {
  const header = decodeSingleHeader(buf.subarray(0, Math.min(buf.length, HEADER_BYTES)), volumeCrc);
  if (!header) throw new CorruptEntryError(location, 'invalid singlefile header');
  const headLen = HEADER_BYTES + header.keyBytes + header.metaBytes;
  if (headLen > buf.length) throw new CorruptEntryError(location, 'singlefile head cut short');
  const key = Buffer.from(buf.subarray(HEADER_BYTES, HEADER_BYTES + header.keyBytes));
  const meta = Buffer.from(buf.subarray(HEADER_BYTES + header.keyBytes, headLen));
  if (keyMetaCrc(key, meta) !== header.keyMetaCrc) throw new CorruptEntryError(location, 'key/meta checksum');
  return { header, key, meta, layout: singleLayout(header.keyBytes, header.metaBytes, header.dataBytes) };
}
