// Rebuilds the LMDB index from the volumes alone (the volumes are the truth): at start after an
// unclean stop or a lost/damaged index, and from the CLI (`rebuildIndex(dataDir)`).
//
// Rules: for one entry key the higher opver wins and the loser entry is deleted ('O'+objectKey is the
// null version of an object, 'V'+objectKey+stamp each other version); a tombstone (a removed version)
// outranks lower opvers of its entry key and, when it wins, stays as the version's row in the tombstones
// table (replica-tombstones.ts: an older replicated write must not bring it back); of the versions
// of one object the one with the highest stamp is current (`objects`), the others go to `versions`; an
// upload marker whose upload id appears in any object manifest was completed (marker deleted); a
// part is kept if the winning manifest uses it or its upload marker is live; a blob is kept if a
// kept object or part refers to it; an upload tombstone (a removed upload, replica-uploads.ts) outranks its
// upload marker and parts whatever their opvers and stays as its row in the tombstones table. Everything else is
// garbage from a crash mid-operation.
//
// Memory: entries are applied in batches of BATCH; besides the index itself only blobs, multipart
// manifests, tombstones and garbage are held, so a million small objects need little beyond LMDB.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Opver } from './api.ts';
import { Binlog } from './binlog.ts';
import { CHECKPOINT_KEY, loadCheckpoint, reconcileBinlog } from './binlog-reconcile.ts';
import { writeCheckpointFile } from './durable-file.ts';
import { NodeIndex } from './index-db.ts';
import { guardIndexClosed, guardIndexOpen } from './index-guard.ts';
import {
  decodeObjectKey,
  decodeVersionEntryKey,
  decodeVersionKey as decodeVersionKeyHead,
  EntryKind,
  objectKey as objectKeyOf,
  STAMP_BYTES,
  uploadKey,
  versionKey,
} from './keys.ts';
import { type RebuildState, resolveReferences } from './rebuild-refs.ts';
import {
  compareOpver,
  decodeEntryMeta,
  decodeObjectSummary,
  decodeObjectValue,
  decodePartValue,
  decodeUploadValue,
  encodeCheckpoint,
  encodeObjectValue,
  encodePartValue,
  encodeUploadValue,
  type VolLoc,
} from './records.ts';
import { putTombstone, tombstoneKeyOfEntry } from './replica-tombstones.ts';
import type { ResolvedVolumeSpec, StoredEntry, VolumeOpener, VolumePort } from './volume-port.ts';

export interface RebuildReport {
  entries: number;
  /** Data bytes of the entries scanned (every live entry in the volumes, garbage included). */
  entryBytes: number;
  objects: number;
  uploads: number;
  parts: number;
  garbageDeleted: number;
  maxCounter: bigint;
}

const BATCH = 1000;

/** How far a rebuild has got: called after every batch of entries. */
export type RebuildProgress = (p: { volumeId: string; entries: number; entryBytes: number }) => void;

export async function rebuildInto(
  index: NodeIndex,
  volumes: Map<string, VolumePort>,
  onProgress?: RebuildProgress,
): Promise<RebuildReport> {
  index.env.transactionSync(() => {
    // Deferred deletes name entries of the old index; the rebuild decides about every entry anew.
    index.pending.clearSync();
    index.objects.clearSync();
    index.versions.clearSync();
    index.uploads.clearSync();
    index.parts.clearSync();
    index.tombstones.clearSync();
  });
  const st: RebuildState = {
    losers: [],
    manifestUploads: new Set(),
    blobs: new Map(),
    tombstones: new Map(),
    uploadTombstones: new Map(),
    maxCounter: 0n,
    entries: 0,
  };
  let entryBytes = 0;
  for (const [volumeId, vol] of volumes) {
    let batch: StoredEntry[] = [];
    for await (const e of vol.scan()) {
      batch.push(e);
      entryBytes += e.dataBytes;
      if (batch.length >= BATCH) {
        index.env.transactionSync(() => applyBatch(index, st, volumeId, batch));
        batch = [];
        onProgress?.({ volumeId, entries: st.entries, entryBytes });
      }
    }
    index.env.transactionSync(() => applyBatch(index, st, volumeId, batch));
    onProgress?.({ volumeId, entries: st.entries, entryBytes });
  }
  placeCurrentVersions(index);
  const counts = resolveReferences(index, st);
  // The tombstones that outrank every entry of their version stay: removed versions, kept for replication.
  const tombs = [...st.tombstones];
  for (let i = 0; i < tombs.length; i += BATCH)
    index.env.transactionSync(() => {
      for (const [ek, t] of tombs.slice(i, i + BATCH))
        putTombstone(index, tombstoneKeyOfEntry(Buffer.from(ek, 'latin1')), t);
    });
  const garbage = st.losers;
  for (const l of garbage) {
    try {
      await volumes.get(l.volumeId)?.delete(l.location);
    } catch {
      // Already gone (a delete that completed just before the crash): nothing to free.
    }
  }
  await index.write(() => {
    index.putCounter(st.maxCounter > index.readCounter() ? st.maxCounter : index.readCounter());
    index.putFormat();
  });
  return {
    entries: st.entries,
    entryBytes,
    ...counts,
    garbageDeleted: garbage.length,
    maxCounter: st.maxCounter,
  };
}

function applyBatch(index: NodeIndex, st: RebuildState, volumeId: string, batch: StoredEntry[]): void {
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
    const isObject = e.key[0] === EntryKind.object || e.key[0] === EntryKind.version;
    if (isObject && meta.kind === 'tombstone') {
      const row = versionRowKey(e.key);
      if (row) applyTombstone(row.db === 'objects' ? index.objects : index.versions, st, e, row.key, at);
    } else if (isObject && meta.kind === 'object') {
      const row = versionRowKey(e.key);
      if (!row) continue;
      const ek = e.key.toString('latin1');
      const tomb = st.tombstones.get(ek);
      if (tomb && compareOpver(tomb.opver, e.opver) > 0) {
        st.losers.push(at);
        continue;
      }
      if (meta.meta.body.kind === 'multipart') st.manifestUploads.add(meta.meta.body.uploadId);
      // Entries written before versioning carry no stamp: their opver is it (they are null versions).
      const m = { ...meta.meta, seq: meta.meta.seq ?? e.opver };
      if (e.key[0] === EntryKind.version) m.versioned = true;
      else delete m.versioned;
      const won = keepHigher(
        row.db === 'objects' ? index.objects : index.versions,
        row.key,
        e.opver,
        at,
        st,
        () => encodeObjectValue({ ...m, opver: e.opver, at }),
        (b) => decodeObjectValue(b),
      );
      if (won && tomb) {
        st.tombstones.delete(ek);
        st.losers.push(tomb.at);
      }
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
      let uk: Buffer;
      try {
        uk = uploadKey(m.bucket, m.key, uploadId);
      } catch {
        continue; // not ours
      }
      // A marker replaced by a newer copy of it (replica-uploads.ts) whose free a crash cut short: the newer wins.
      keepHigher(
        index.uploads,
        uk,
        e.opver,
        at,
        st,
        () => encodeUploadValue({ ...m, uploadId, opver: e.opver, at }),
        (b) => decodeUploadValue(b),
      );
    } else if (e.key[0] === EntryKind.uploadTombstone && meta.kind === 'upload-removed') {
      // An upload's tombstone: outranks its upload and parts (resolveReferences); the highest of them stays.
      const uploadId = body.toString('latin1');
      const prev = st.uploadTombstones.get(uploadId);
      if (prev && compareOpver(prev.opver, e.opver) >= 0) st.losers.push(at);
      else {
        if (prev) st.losers.push(prev.at);
        st.uploadTombstones.set(uploadId, {
          bucket: meta.bucket,
          key: meta.key,
          opver: e.opver,
          at,
          createdMs: e.createdMs,
        });
      }
    } else if (e.key[0] === EntryKind.blob && meta.kind === 'blob') {
      st.blobs.set(body.toString('hex'), at);
    }
  }
}

/**
 * Where an 'O'/'V' entry's row goes while entries are applied: a null version under its object key in
 * `objects`, a real version under its version key in `versions` (placeCurrentVersions sorts them out).
 */
function versionRowKey(ekey: Buffer): { db: 'objects' | 'versions'; key: Buffer } | undefined {
  if (ekey[0] === EntryKind.object) return { db: 'objects', key: ekey.subarray(1) };
  if (ekey.length < 1 + STAMP_BYTES + 1) return undefined;
  try {
    const { okey, stamp } = decodeVersionEntryKey(ekey);
    const { bucket, key } = decodeObjectKey(okey);
    return { db: 'versions', key: versionKey(bucket, key, stamp!) };
  } catch {
    return undefined; // not ours
  }
}

/** A tombstone removes the lower opver of its entry key from the index (that entry is garbage). */
function applyTombstone(
  db: NodeIndex['objects'],
  st: RebuildState,
  e: StoredEntry,
  rowKey: Buffer,
  at: VolLoc,
): void {
  const { opver } = e;
  const k = e.key.toString('latin1');
  const prev = st.tombstones.get(k);
  if (prev && compareOpver(prev.opver, opver) > 0) {
    st.losers.push(at);
    return;
  }
  const row = db.getBinary(rowKey) as Buffer | undefined;
  const cur = row ? decodeObjectValue(row) : undefined;
  if (cur && compareOpver(cur.opver, opver) > 0) {
    st.losers.push(at);
    return;
  }
  if (prev) st.losers.push(prev.at);
  if (cur) {
    st.losers.push(cur.at);
    db.removeSync(rowKey);
  }
  st.tombstones.set(k, { opver, at, createdMs: e.createdMs });
}

/**
 * After every entry is applied: `objects` holds the null versions, `versions` the real ones. Of each
 * object's versions the one with the highest stamp becomes current: the newest real version moves up
 * when it is newer than the null version, which then moves down.
 */
function placeCurrentVersions(index: NodeIndex): void {
  const fix: Array<() => void> = [];
  const flush = () => {
    const ops = fix.splice(0);
    if (ops.length)
      index.env.transactionSync(() => {
        for (const f of ops) f();
      });
  };
  let lastGroup: Buffer | undefined;
  for (const { key, value } of index.versions.getRange({ snapshot: false })) {
    const group = key.subarray(0, key.length - STAMP_BYTES);
    if (lastGroup?.equals(group)) continue; // only the newest real version of each object matters
    lastGroup = Buffer.from(group);
    const vkey = Buffer.from(key);
    const row = Buffer.from(value);
    const v = decodeObjectValue(row);
    const { bucket, key: objKey } = decodeVersionKeyHead(vkey);
    const okey = objectKeyOf(bucket, objKey);
    const nullRow = index.objects.getBinary(okey) as Buffer | undefined;
    const nul = nullRow ? decodeObjectValue(Buffer.from(nullRow)) : undefined;
    if (nul && compareOpver(nul.seq!, v.seq!) > 0) continue;
    const nullCopy = nullRow && Buffer.from(nullRow);
    fix.push(() => {
      index.objects.putSync(okey, row);
      index.versions.removeSync(vkey);
      if (nul && nullCopy) index.versions.putSync(versionKey(bucket, objKey, nul.seq!), nullCopy);
    });
    if (fix.length >= BATCH) flush();
  }
  flush();
}

/** Stores the entry unless the index has a higher opver for its key; true when it was stored. */
function keepHigher(
  db: NodeIndex['objects'],
  key: Buffer,
  opver: Opver,
  at: VolLoc,
  st: RebuildState,
  encode: () => Buffer,
  decode: (b: Buffer) => { opver: Opver; at: VolLoc },
): boolean {
  const curBuf = db.getBinary(key) as Buffer | undefined;
  const cur = curBuf ? decode(curBuf) : undefined;
  if (cur && compareOpver(cur.opver, opver) >= 0) {
    st.losers.push(at);
    return false;
  }
  if (cur) st.losers.push(cur.at);
  db.putSync(key, encode());
  return true;
}

/** The data directory holds no storage node to rebuild. */
export class NoNodeError extends Error {
  override name = 'NoNodeError';
}

/** The node's id and volume list, remembered in `<dataDir>/node.json` so the CLI can rebuild offline. */
export async function readNodeFile(
  dataDir: string,
): Promise<{ nodeId: number; volumes: ResolvedVolumeSpec[] }> {
  let text: string;
  try {
    text = await readFile(join(dataDir, 'node.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new NoNodeError(
      `no storage node in ${dataDir} (node.json is missing); start \`quire server --data ${dataDir}\` once, or point --data at the right directory`,
    );
  }
  return JSON.parse(text) as { nodeId: number; volumes: ResolvedVolumeSpec[] };
}

/** What `quire rebuild-index` reports: the rebuild, plus what the index now holds. */
export interface RebuildIndexReport extends RebuildReport {
  /** Sum of the sizes of the objects in the rebuilt index. */
  objectBytes: number;
  seconds: number;
}

/** CLI entry: throw the index away and rebuild it from the volumes listed in node.json. */
export async function rebuildIndex(
  dataDir: string,
  opts: { volumeOpener?: VolumeOpener; nodeId?: number; onProgress?: RebuildProgress } = {},
): Promise<RebuildIndexReport> {
  const started = performance.now();
  const { nodeId, volumes: specs } = await readNodeFile(dataDir);
  const opener = opts.volumeOpener ?? (await import('./packing-opener.ts')).packingOpener;
  const volumes = new Map<string, VolumePort>();
  for (const s of specs) volumes.set(s.volumeId, await opener.openOrCreate(s, opts.nodeId ?? nodeId));
  // A machine crash under an 'os'-synced index may have torn it: never open that one.
  await guardIndexOpen(dataDir, join(dataDir, 'index'), 'flush');
  const index = NodeIndex.open(join(dataDir, 'index'));
  try {
    const report = await rebuildInto(index, volumes, opts.onProgress);
    await reconcileOffline(dataDir, index, opts.nodeId ?? nodeId, report);
    await index.setClean(true);
    let objectBytes = 0;
    for (const { value } of index.objects.getRange({ snapshot: false }))
      objectBytes += decodeObjectSummary(value).size;
    return { ...report, objectBytes, seconds: (performance.now() - started) / 1000 };
  } finally {
    await index.close();
    for (const v of volumes.values()) await v.close();
    await guardIndexClosed(dataDir, 'flush');
  }
}

/** What the node does after a rebuild at start, for the CLI: reconcile the binlog, checkpoint it. */
async function reconcileOffline(
  dataDir: string,
  index: NodeIndex,
  nodeId: number,
  report: RebuildReport,
): Promise<void> {
  const binlog = await Binlog.open({ dir: join(dataDir, 'binlog') });
  try {
    const r = await reconcileBinlog(
      { index, binlog, opts: { nodeId } },
      await loadCheckpoint(index, dataDir),
    );
    let counter = index.readCounter();
    for (const c of [report.maxCounter, r.maxCounter]) if (c > counter) counter = c;
    const cp = { ...binlog.position, counter };
    await writeCheckpointFile(dataDir, cp);
    await index.write(() => {
      index.putCounter(counter);
      index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(cp));
    });
  } finally {
    await binlog.close();
  }
}
