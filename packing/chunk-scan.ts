// Sequential parse of one chunkfile from big block reads: live entries, free extents (deleted entries and
// fillers) and dead regions (bad checksums, torn writes). An invalid header starts a resync: the scan steps
// forward at alignment until a live header whose key/meta and data checksums all pass.
import type { DiskFile } from '../common/disk.ts';
import { decodeEntryHeader, type EntryHeader, keyMetaCrc } from './codec.ts';
import { crc32Of } from './crc.ts';
import { ALIGN_BYTES, ENTRY_FLAGS, HEADER_BYTES } from './layout.ts';

export type ScanRecord =
  | {
      readonly kind: 'live';
      readonly offset: number;
      readonly header: EntryHeader;
      readonly key: Buffer;
      readonly meta: Buffer;
    }
  | { readonly kind: 'free'; readonly offset: number; readonly size: number }
  | { readonly kind: 'dead'; readonly offset: number; readonly size: number; readonly reason: string };

const BLOCK_BYTES = 16 * 1024 * 1024;
/** Read-ahead starts this far before the window's end: covers any entry up to 1 MiB without a copy. */
const OVERLAP_BYTES = 1024 * 1024 + 4096;

/**
 * Keeps a window of the file in memory and reads the following block ahead while the current one is
 * parsed, so a scan overlaps disk reads with checksumming.
 */
class BlockReader {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private ahead: { start: number; read: Promise<Buffer> } | undefined;
  constructor(
    private readonly fh: DiskFile,
    readonly size: number,
  ) {}

  private async readAt(at: number, len: number): Promise<Buffer> {
    const want = Math.min(len, this.size - at);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await this.fh.read(buf, 0, want, at);
    return buf.subarray(0, bytesRead);
  }

  get window(): Buffer {
    return this.buf;
  }

  /** Index of `from` in `window` when the window holds [from, to); -1 otherwise. */
  indexOf(from: number, to: number): number {
    return from >= this.start && to <= this.start + this.buf.length ? from - this.start : -1;
  }

  /** [from, to) (clamped) when the window already holds it, without a read; undefined otherwise. */
  peek(from: number, to: number): Buffer | undefined {
    const end = Math.min(to, this.size);
    if (from < this.start || end > this.start + this.buf.length) return undefined;
    return this.buf.subarray(from - this.start, end - this.start);
  }

  /** The bytes [from, to) (clamped to the file), as a view valid until the next call. */
  async view(from: number, to: number): Promise<Buffer> {
    const end = Math.min(to, this.size);
    const inWindow = this.peek(from, to);
    if (inWindow) return inWindow;
    const ahead = this.ahead;
    this.ahead = undefined;
    let buf: Buffer | undefined;
    if (ahead && from >= ahead.start) {
      // The read-ahead overlaps the end of the window, so a record that straddles it is whole in there.
      const next = await ahead.read;
      if (end <= ahead.start + next.length) {
        buf = next;
        this.start = ahead.start;
      }
    }
    if (!buf) {
      buf = await this.readAt(from, Math.max(BLOCK_BYTES, end - from));
      this.start = from;
    }
    this.buf = buf;
    const bufEnd = this.start + buf.length;
    if (bufEnd < this.size) {
      const aheadStart = Math.max(bufEnd - OVERLAP_BYTES, from + 1);
      const read = this.readAt(aheadStart, BLOCK_BYTES);
      read.catch(() => undefined);
      this.ahead = { start: aheadStart, read };
    }
    return buf.subarray(from - this.start, end - this.start);
  }
}

type Verdict = { ok: true; key: Buffer; meta: Buffer } | { ok: false; reason: string };

function checkBody(body: Buffer, h: EntryHeader, verifyData: boolean): Verdict {
  if (body.length < h.keyBytes + h.metaBytes + h.dataBytes) return { ok: false, reason: 'torn: short body' };
  const key = Buffer.from(body.subarray(0, h.keyBytes));
  const meta = Buffer.from(body.subarray(h.keyBytes, h.keyBytes + h.metaBytes));
  if (keyMetaCrc(key, meta) !== h.keyMetaCrc) return { ok: false, reason: 'key/meta checksum mismatch' };
  if (verifyData && crc32Of(body.subarray(h.keyBytes + h.metaBytes)) !== h.dataCrc) {
    return { ok: false, reason: 'data checksum mismatch' };
  }
  return { ok: true, key, meta };
}

/** [from, to) from the window when it is there (no await: the scan's hot path), else read. */
async function bytes(r: BlockReader, from: number, to: number): Promise<Buffer> {
  return r.peek(from, to) ?? (await r.view(from, to));
}

async function verifyBody(r: BlockReader, at: number, h: EntryHeader, verifyData: boolean): Promise<Verdict> {
  const bodyAt = at + h.bodyOffset;
  const bodyEnd = bodyAt + h.keyBytes + h.metaBytes + h.dataBytes;
  if (bodyEnd > r.size) return { ok: false, reason: 'torn: past end' };
  return checkBody(r.peek(bodyAt, bodyEnd) ?? (await r.view(bodyAt, bodyEnd)), h, verifyData);
}

/** Finds the next position at or after `from` holding a fully verified live entry; `size` when none. */
async function resync(r: BlockReader, from: number, volumeCrc: number): Promise<number> {
  for (let q = from; q + HEADER_BYTES <= r.size; q += ALIGN_BYTES) {
    const h = decodeEntryHeader(await bytes(r, q, q + HEADER_BYTES), 0, volumeCrc);
    if (h?.flags !== 0) continue;
    if ((await verifyBody(r, q, h, true)).ok) return q;
  }
  return r.size;
}

/**
 * Parses a chunkfile from `from` (just past its file header by default) to `size`, calling `emit` for every record. Records
 * inside the in-memory window are parsed without awaiting, which keeps a full scan CPU-cheap.
 */
export async function parseChunkfile(
  fh: DiskFile,
  size: number,
  volumeCrc: number,
  verifyData: boolean,
  emit: (rec: ScanRecord) => void,
  /** Where an allocation starts: just past the file header, or a checkpoint's recorded end. */
  from = HEADER_BYTES,
): Promise<void> {
  const r = new BlockReader(fh, size);
  let p = from;
  while (p + HEADER_BYTES <= size) {
    const h = decodeEntryHeader(
      r.peek(p, p + HEADER_BYTES) ?? (await r.view(p, p + HEADER_BYTES)),
      0,
      volumeCrc,
    );
    if (!h) {
      // Torn or corrupt header: nothing in [p, q) can be trusted, and nothing there is reused.
      const q = await resync(r, p + ALIGN_BYTES, volumeCrc);
      emit({ kind: 'dead', offset: p, size: q - p, reason: 'invalid header' });
      p = q;
      continue;
    }
    const end = Math.min(p + h.allocBytes, size);
    if (h.flags & (ENTRY_FLAGS.deleted | ENTRY_FLAGS.filler)) {
      if (p + h.allocBytes > size) emit({ kind: 'dead', offset: p, size: end - p, reason: 'free past end' });
      else emit({ kind: 'free', offset: p, size: h.allocBytes });
    } else {
      const bodyAt = p + h.bodyOffset;
      const inWindow = r.peek(bodyAt, bodyAt + h.keyBytes + h.metaBytes + h.dataBytes);
      const v = inWindow ? checkBody(inWindow, h, verifyData) : await verifyBody(r, p, h, verifyData);
      if (v.ok) emit({ kind: 'live', offset: p, header: h, key: v.key, meta: v.meta });
      else emit({ kind: 'dead', offset: p, size: end - p, reason: v.reason });
    }
    p = end;
  }
  if (p < size) emit({ kind: 'dead', offset: p, size: size - p, reason: 'torn tail' });
}

/** The records of one chunkfile as an async iterable (collected per file: at most a few MB of keys). */
export async function* scanChunkfile(
  fh: DiskFile,
  size: number,
  volumeCrc: number,
  verifyData = true,
): AsyncGenerator<ScanRecord> {
  const recs: ScanRecord[] = [];
  await parseChunkfile(fh, size, volumeCrc, verifyData, (rec) => recs.push(rec));
  yield* recs;
}
