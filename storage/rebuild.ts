// Rebuilds the LMDB index from the volumes alone (the volumes are the truth): at start after an
// unclean stop or a lost/damaged index, and from the CLI (`rebuildIndex(dataDir)`).
//
// Rules: for one key the higher opver wins and the loser entry is deleted; an upload marker whose
// upload id appears in any object manifest was completed (marker deleted); a part is kept if the
// winning manifest uses it or its upload marker is live; a blob is kept if a kept object or part
// refers to it. Everything else is garbage from a crash mid-operation and is deleted.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Opver } from './api.ts';
import { NodeIndex } from './index-db.ts';
import { decodePartKey, EntryKind, uploadKey } from './keys.ts';
import {
  compareOpver,
  decodeEntryMeta,
  decodeObjectValue,
  decodePartValue,
  decodeUploadValue,
  encodeObjectValue,
  encodePartValue,
  encodeUploadValue,
  type ObjectValue,
  type PartValue,
  type VolLoc,
} from './records.ts';
import type { ResolvedVolumeSpec, StoredEntry, VolumeOpener, VolumePort } from './volume-port.ts';

export interface RebuildReport {
  entries: number;
  objects: number;
  uploads: number;
  parts: number;
  garbageDeleted: number;
  maxCounter: bigint;
}

interface State {
  losers: VolLoc[];
  manifestUploads: Set<string>;
  blobs: Map<string, VolLoc>;
  maxCounter: bigint;
  entries: number;
}

const BATCH = 1000;

export async function rebuildInto(
  index: NodeIndex,
  volumes: Map<string, VolumePort>,
): Promise<RebuildReport> {
  index.env.transactionSync(() => {
    index.objects.clearSync();
    index.uploads.clearSync();
    index.parts.clearSync();
  });
  const st: State = { losers: [], manifestUploads: new Set(), blobs: new Map(), maxCounter: 0n, entries: 0 };
  for (const [volumeId, vol] of volumes) {
    let batch: StoredEntry[] = [];
    for await (const e of vol.scan()) {
      batch.push(e);
      if (batch.length >= BATCH) {
        index.env.transactionSync(() => applyBatch(index, st, volumeId, batch));
        batch = [];
      }
    }
    index.env.transactionSync(() => applyBatch(index, st, volumeId, batch));
  }
  const counts = index.env.transactionSync(() => resolveReferences(index, st));
  for (const l of st.losers) {
    try {
      await volumes.get(l.volumeId)?.delete(l.location);
    } catch {
      // Already gone (a delete that completed just before the crash): nothing to free.
    }
  }
  await index.write(() =>
    index.putCounter(st.maxCounter > index.readCounter() ? st.maxCounter : index.readCounter()),
  );
  return { entries: st.entries, ...counts, garbageDeleted: st.losers.length, maxCounter: st.maxCounter };
}

function applyBatch(index: NodeIndex, st: State, volumeId: string, batch: StoredEntry[]): void {
  for (const e of batch) {
    st.entries++;
    if (e.opver.counter > st.maxCounter) st.maxCounter = e.opver.counter;
    const at: VolLoc = { volumeId, location: e.location };
    const body = e.key.subarray(1);
    let meta: ReturnType<typeof decodeEntryMeta>;
    try {
      meta = decodeEntryMeta(e.meta);
    } catch {
      continue; // not ours; leave it alone
    }
    if (e.key[0] === EntryKind.object && meta.kind === 'object') {
      if (meta.meta.body.kind === 'multipart') st.manifestUploads.add(meta.meta.body.uploadId);
      keepHigher(
        index.objects,
        body,
        e.opver,
        at,
        st,
        () => encodeObjectValue({ ...meta.meta, opver: e.opver, at }),
        (b) => decodeObjectValue(b),
      );
    } else if (e.key[0] === EntryKind.part && meta.kind === 'part') {
      keepHigher(
        index.parts,
        body,
        e.opver,
        at,
        st,
        () => encodePartValue({ ...meta.meta, opver: e.opver, at }),
        (b) => decodePartValue(b),
      );
    } else if (e.key[0] === EntryKind.upload && meta.kind === 'upload') {
      const uploadId = body.toString('latin1');
      const m = meta.meta;
      index.uploads.put(
        uploadKey(m.bucket, m.key, uploadId),
        encodeUploadValue({ ...m, uploadId, opver: e.opver, at }),
      );
    } else if (e.key[0] === EntryKind.blob && meta.kind === 'blob') {
      st.blobs.set(body.toString('hex'), at);
    }
  }
}

function keepHigher(
  db: NodeIndex['objects'],
  key: Buffer,
  opver: Opver,
  at: VolLoc,
  st: State,
  encode: () => Buffer,
  decode: (b: Buffer) => { opver: Opver; at: VolLoc },
): void {
  const curBuf = db.getBinary(key) as Buffer | undefined;
  const cur = curBuf ? decode(curBuf) : undefined;
  if (cur && compareOpver(cur.opver, opver) >= 0) {
    st.losers.push(at);
    return;
  }
  if (cur) st.losers.push(cur.at);
  db.putSync(key, encode());
}

function resolveReferences(index: NodeIndex, st: State): { objects: number; uploads: number; parts: number } {
  const winnerParts = new Map<string, Set<number>>();
  const objects = [...index.objects.getRange({ snapshot: false })].map(({ key, value }) => ({
    key: Buffer.from(key),
    v: decodeObjectValue(value),
  }));
  for (const { key, v } of objects) {
    if (v.body.kind === 'blob') {
      const blobAt = takeBlob(st, v.body.blobId);
      if (blobAt) index.objects.putSync(key, encodeObjectValue({ ...v, blobAt } as ObjectValue));
      else index.objects.removeSync(key); // data never became durable: cannot happen for an acked write
    } else if (v.body.kind === 'multipart') {
      winnerParts.set(v.body.uploadId, new Set(v.body.parts.map((p) => p.partNumber)));
    }
  }
  const liveUploads = new Set<string>();
  for (const { key, value } of [...index.uploads.getRange({ snapshot: false })]) {
    const u = decodeUploadValue(value);
    if (st.manifestUploads.has(u.uploadId)) {
      st.losers.push(u.at);
      index.uploads.removeSync(Buffer.from(key));
    } else liveUploads.add(u.uploadId);
  }
  let parts = 0;
  for (const { key, value } of [...index.parts.getRange({ snapshot: false })]) {
    const { uploadId, partNumber } = decodePartKey(key);
    const p: PartValue = decodePartValue(value);
    const keep = winnerParts.get(uploadId)?.has(partNumber) || liveUploads.has(uploadId);
    const blobAt = p.blobId ? takeBlob(st, p.blobId) : undefined;
    if (!keep || (p.blobId && !blobAt)) {
      st.losers.push(p.at);
      if (blobAt) st.losers.push(blobAt);
      index.parts.removeSync(Buffer.from(key));
      continue;
    }
    parts++;
    if (blobAt) index.parts.putSync(Buffer.from(key), encodePartValue({ ...p, blobAt }));
  }
  for (const at of st.blobs.values()) st.losers.push(at);
  return { objects: index.objects.getCount(), uploads: liveUploads.size, parts };
}

function takeBlob(st: State, blobId: Buffer): VolLoc | undefined {
  const k = blobId.toString('hex');
  const at = st.blobs.get(k);
  st.blobs.delete(k);
  return at;
}

/** The node's id and volume list, remembered in `<dataDir>/node.json` so the CLI can rebuild offline. */
export async function readNodeFile(
  dataDir: string,
): Promise<{ nodeId: number; volumes: ResolvedVolumeSpec[] }> {
  const text = await readFile(join(dataDir, 'node.json'), 'utf8');
  return JSON.parse(text) as { nodeId: number; volumes: ResolvedVolumeSpec[] };
}

/** CLI entry: throw the index away and rebuild it from the volumes listed in node.json. */
export async function rebuildIndex(
  dataDir: string,
  opts: { volumeOpener?: VolumeOpener; nodeId?: number } = {},
): Promise<RebuildReport> {
  const { nodeId, volumes: specs } = await readNodeFile(dataDir);
  const opener = opts.volumeOpener ?? (await import('./packing-opener.ts')).packingOpener;
  const volumes = new Map<string, VolumePort>();
  for (const s of specs) volumes.set(s.volumeId, await opener.openOrCreate(s, opts.nodeId ?? nodeId));
  const index = NodeIndex.open(join(dataDir, 'index'));
  try {
    const report = await rebuildInto(index, volumes);
    await index.setClean(true);
    return report;
  } finally {
    await index.close();
    for (const v of volumes.values()) await v.close();
  }
}
