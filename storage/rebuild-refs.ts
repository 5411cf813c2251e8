// The second pass of a rebuild (rebuild.ts): with every entry applied, drop what nothing refers
// to. Streams over the index in key order and writes its corrections in batches, so memory stays
// flat however many objects there are.
import type { Opver } from './api.ts';
import type { Db, NodeIndex } from './index-db.ts';
import { decodePartKey, uploadTombstoneKey } from './keys.ts';
import {
  decodeObjectValue,
  decodePartValue,
  decodeUploadValue,
  encodeObjectValue,
  encodePartValue,
  encodeTombstoneValue,
  type VolLoc,
} from './records.ts';

export interface RebuildState {
  losers: VolLoc[];
  manifestUploads: Set<string>;
  blobs: Map<string, VolLoc>;
  /** Tombstones by entry key (latin1); the winners become the tombstones table (replica-tombstones.ts). */
  tombstones: Map<string, { opver: Opver; at: VolLoc; createdMs: number }>;
  /** Upload tombstones by upload id: the winners become tombstone rows (replica-uploads.ts). */
  uploadTombstones: Map<string, { bucket: string; key: Buffer; opver: Opver; at: VolLoc; createdMs: number }>;
  maxCounter: bigint;
  entries: number;
}

const BATCH = 1000;

/** Collects puts and removes and applies them a batch at a time, each batch in one transaction. */
class Corrections {
  private ops: Array<{ db: Db; key: Buffer; value?: Buffer }> = [];
  constructor(private readonly index: NodeIndex) {}
  put(db: Db, key: Buffer, value: Buffer): void {
    this.ops.push({ db, key: Buffer.from(key), value });
    if (this.ops.length >= BATCH) this.flush();
  }
  remove(db: Db, key: Buffer): void {
    this.ops.push({ db, key: Buffer.from(key) });
    if (this.ops.length >= BATCH) this.flush();
  }
  flush(): void {
    const ops = this.ops;
    this.ops = [];
    this.index.env.transactionSync(() => {
      for (const o of ops) {
        if (o.value) o.db.putSync(o.key, o.value);
        else o.db.removeSync(o.key);
      }
    });
  }
}

export function resolveReferences(
  index: NodeIndex,
  st: RebuildState,
): { objects: number; uploads: number; parts: number } {
  const fix = new Corrections(index);
  const winnerParts = new Map<string, Set<number>>();
  let objects = 0;
  // Every version, current (`objects`) or not (`versions`), holds its body.
  for (const db of [index.objects, index.versions])
    for (const { key, value } of db.getRange({ snapshot: false })) {
      const v = decodeObjectValue(value);
      objects++;
      if (v.body.kind === 'blob') {
        const blobAt = takeBlob(st, v.body.blobId);
        if (blobAt) fix.put(db, key, encodeObjectValue({ ...v, blobAt }));
        else {
          fix.remove(db, key); // data never became durable: cannot happen for an acked write
          objects--;
        }
      } else if (v.body.kind === 'multipart') {
        winnerParts.set(v.body.uploadId, new Set(v.body.parts.map((p) => p.partNumber)));
      }
    }
  fix.flush();
  const liveUploads = new Set<string>();
  for (const { key, value } of index.uploads.getRange({ snapshot: false })) {
    const u = decodeUploadValue(value);
    if (st.manifestUploads.has(u.uploadId) || st.uploadTombstones.has(u.uploadId)) {
      st.losers.push(u.at);
      fix.remove(index.uploads, key);
    } else liveUploads.add(u.uploadId);
  }
  for (const [uploadId, t] of st.uploadTombstones)
    fix.put(
      index.tombstones,
      uploadTombstoneKey(t.bucket, t.key, uploadId),
      encodeTombstoneValue({ opver: t.opver, createdMs: t.createdMs, at: t.at }),
    );
  fix.flush();
  let parts = 0;
  for (const { key, value } of index.parts.getRange({ snapshot: false })) {
    const { uploadId, partNumber } = decodePartKey(key);
    const p = decodePartValue(value);
    const keep = winnerParts.get(uploadId)?.has(partNumber) || liveUploads.has(uploadId);
    const blobAt = p.blobId ? takeBlob(st, p.blobId) : undefined;
    if (!keep || (p.blobId && !blobAt)) {
      st.losers.push(p.at);
      if (blobAt) st.losers.push(blobAt);
      fix.remove(index.parts, key);
      continue;
    }
    parts++;
    if (blobAt) fix.put(index.parts, key, encodePartValue({ ...p, blobAt }));
  }
  fix.flush();
  for (const at of st.blobs.values()) st.losers.push(at);
  st.blobs.clear();
  return { objects, uploads: liveUploads.size, parts };
}

function takeBlob(st: RebuildState, blobId: Buffer): VolLoc | undefined {
  const k = blobId.toString('hex');
  const at = st.blobs.get(k);
  st.blobs.delete(k);
  return at;
}
