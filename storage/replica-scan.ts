// A page of keys with what copying them needs from the node that holds them, in one internal call (`scanStates`):
// each key's states (versions and tombstones), its upload states, and the bytes of its small versions, each read
// whole under the pin its open took and verified, as an inline read is. A recovery pull copies each key from such a
// page (`prefetchedEnd`) instead of asking the source three times per key; a large version, or a part, is still
// opened on the source when copied. The page is a snapshot: a key that changes after it was read reaches the
// pulling node by push sync, which ships everything from where the pull began (recovery-pull.ts).
import type { ObjectRecord, ReadHandle, VersionSelector } from './api.ts';
import { InvalidRangeError, StorageError } from './errors.ts';
import type { ReplicaEnd, ReplicaKey, ReplicaState, UploadState } from './replica-api.ts';
import { type CopyKeyResult, copyKey } from './replica-ship.ts';

/** One key of a scanStates page. */
export interface ScannedKey {
  readonly bucket: string;
  readonly key: Buffer;
  readonly states: ReplicaState[];
  readonly uploads: UploadState[];
  /** The versions read whole, with the record they were read at. */
  readonly bodies: ReadonlyArray<{ versionId: string; record: ObjectRecord; bytes: Buffer }>;
}

export interface ScanStatesOptions {
  after?: ReplicaKey;
  limit: number;
  /** Versions of at most this many bytes come with their bytes. */
  inline: number;
}

/** The version bytes one page carries at most (bounds the memory a page holds on both ends). */
export const SCAN_PAGE_BYTES = 8 * 1024 * 1024;
/** Keys read at once while a page is assembled. */
const READ_CONCURRENCY = 8;

/** The page of keys after `opts.after` on `end` (a local node), with their states and small versions' bytes. */
export async function scanStates(end: ReplicaEnd, opts: ScanStatesOptions): Promise<ScannedKey[]> {
  const refs = await end.scanKeys({ ...(opts.after ? { after: opts.after } : {}), limit: opts.limit });
  let budget = SCAN_PAGE_BYTES;
  const out: ScannedKey[] = new Array(refs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < refs.length; i = next++) {
      const { bucket, key } = refs[i]!;
      const [states, uploads] = await Promise.all([
        end.replicaStates(bucket, key),
        end.uploadStates(bucket, key),
      ]);
      const bodies: Array<{ versionId: string; record: ObjectRecord; bytes: Buffer }> = [];
      for (const s of states) {
        const size = s.record?.deleteMarker ? 0 : (s.record?.size ?? 0);
        if (size === 0 || size > opts.inline || size > budget) continue;
        const h = await end.openObject(bucket, key, { versionId: s.versionId });
        if (!h) continue; // removed since: the copy finds that out itself
        try {
          // As it is now (a null version may have been rewritten since it was listed), if it still fits.
          const n = h.record.deleteMarker ? 0 : h.record.size;
          if (n === 0 || n > opts.inline || n > budget) continue;
          budget -= n;
          bodies.push({ versionId: s.versionId, record: h.record, bytes: await readWhole(h) });
        } finally {
          h.release();
        }
      }
      out[i] = { bucket, key, states, uploads, bodies };
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, refs.length) }, worker));
  return out;
}

/** Every byte of an open version (the read path verifies them), which must be exactly its size. */
export async function readWhole(h: ReadHandle): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of h.stream()) {
    chunks.push(c);
    size += c.length;
  }
  if (size !== h.record.size)
    throw new StorageError('InternalError', `read ${size} bytes of a ${h.record.size}-byte version`);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** A version held whole in memory as a read handle: ranges cut from it, checked as the node checks them. */
export function bytesHandle(record: ObjectRecord, bytes: Buffer): ReadHandle {
  if (bytes.length !== record.size)
    throw new StorageError('InternalError', `got ${bytes.length} bytes of a ${record.size}-byte version`);
  return {
    record,
    async *stream(range) {
      if (!range) {
        if (bytes.length > 0) yield bytes;
        return;
      }
      if (range.start < 0 || range.end < range.start || range.end >= bytes.length)
        throw new InvalidRangeError(`range ${range.start}-${range.end} of ${bytes.length} bytes`);
      yield bytes.subarray(range.start, range.end + 1);
    },
    release: () => {},
  };
}

/**
 * `source` as copyKey sees it for one scanned key: its states, upload states and small versions from the page,
 * everything else (a large version, a part, another key) asked of the source itself.
 */
export function prefetchedEnd(source: ReplicaEnd, scanned: ScannedKey): ReplicaEnd {
  const same = (bucket: string, key: Buffer) => bucket === scanned.bucket && key.equals(scanned.key);
  return {
    replicaStates: (bucket, key) =>
      same(bucket, key) ? Promise.resolve(scanned.states) : source.replicaStates(bucket, key),
    uploadStates: (bucket, key) =>
      same(bucket, key) ? Promise.resolve(scanned.uploads) : source.uploadStates(bucket, key),
    openObject: (bucket: string, key: Buffer, which?: VersionSelector) => {
      const id = same(bucket, key) ? which?.versionId : undefined;
      const body = id === undefined ? undefined : scanned.bodies.find((b) => b.versionId === id);
      if (body) return Promise.resolve(bytesHandle(body.record, body.bytes));
      // A delete marker or an empty version: its listed record is all there is to it.
      const record = id === undefined ? undefined : scanned.states.find((s) => s.versionId === id)?.record;
      if (record && (record.deleteMarker || record.size === 0))
        return Promise.resolve(bytesHandle(record, Buffer.alloc(0)));
      return source.openObject(bucket, key, which);
    },
    openPart: (...args) => source.openPart(...args),
    scanKeys: (opts) => source.scanKeys(opts),
    applyReplica: (input) => source.applyReplica(input),
    applyUpload: (input) => source.applyUpload(input),
  };
}

/** The wire form of a page: one JSON head (bodies by length, in order) followed by every body's bytes. */
export function pageHead(page: readonly ScannedKey[]): { head: unknown; bytes: Buffer[] } {
  const bytes: Buffer[] = [];
  const head = page.map((k) => ({
    bucket: k.bucket,
    key: k.key,
    states: k.states,
    uploads: k.uploads,
    bodies: k.bodies.map((b) => {
      bytes.push(b.bytes);
      return { versionId: b.versionId, record: b.record, length: b.bytes.length };
    }),
  }));
  return { head, bytes };
}

type WireKey = Omit<ScannedKey, 'bodies'> & {
  bodies: Array<{ versionId: string; record: ObjectRecord; length: number }>;
};

/** The page from its head and the bytes that followed it (subarrays: no copy). */
export function pageFromWire(head: WireKey[], bytes: Buffer): ScannedKey[] {
  let at = 0;
  const page = head.map((k) => ({
    ...k,
    bodies: k.bodies.map((b) => {
      const body = bytes.subarray(at, at + b.length);
      at += b.length;
      if (body.length !== b.length) throw new StorageError('InternalError', 'scanStates answer cut short');
      return { versionId: b.versionId, record: b.record, bytes: body };
    }),
  }));
  if (at !== bytes.length) throw new StorageError('InternalError', 'scanStates answer has bytes left over');
  return page;
}

/** A recovery pull's copy of one key of `from` into `to`: answered from the key's page entry where there is one. */
export function copyScanned(o: {
  from: ReplicaEnd;
  to: ReplicaEnd;
  ref: ReplicaKey;
  scanned: ScannedKey | undefined;
}): Promise<CopyKeyResult> {
  const from = o.scanned ? prefetchedEnd(o.from, o.scanned) : o.from;
  return copyKey({ from, to: o.to, bucket: o.ref.bucket, key: o.ref.key });
}
