// What the storage node does at open, before it serves (one log line says which and what it did):
//
// - clean: the last stop closed everything; deferred deletes left by pinned reads are finished.
// - tail: after a process crash (kill -9, OOM) with the index intact. Only what may have changed
//   since the checkpoints is looked at: the volumes report the live entries in what changed since
//   their last checkpoint (packing/checkpoint.ts), the binlog holds every op since the index's
//   checkpoint (records.ts BinlogCheckpoint). Each object key touched by either is settled with the
//   rebuild's rule — the highest opver among its index row (only if the entry at the row's location
//   is there with the row's key and opver) and its changed entries wins, the others are freed — and
//   every changed upload marker, part and blob is kept only if its index row points at it. A key with
//   versions is settled version by version (each entry key: 'O' the null version, 'V'+stamp the others)
//   and its survivors placed again: the highest stamp current, the rest in the versions table.
// - rebuild: anything else (no or a torn index, a machine crash — an index flushed ahead of volume
//   entries that never became durable —, a volume without a checkpoint, a rebuild cut short, a
//   compaction rolled forward at open): the index is rebuilt from the volumes (rebuild.ts).
// Then the binlog is reconciled with the index (binlog-reconcile.ts), and the volumes take a
// checkpoint so the next crash starts from here.
//
// Why rows outside the touched keys need no look: a row is committed after its entry's bytes are
// written (a process crash keeps written bytes), and an entry changes after the checkpoints only by
// an op that has a record in the binlog tail (deletes: record first) or that left it in a changed
// region. The volume checkpoints wait, before they replace the previous one, until every op in flight
// at their snapshot has its record durable (checkpoints.ts), so a row whose record is
// missing points into a changed region. Entries freed after an index commit (old versions, unused
// parts) are protected first (packing's protect()), so a crash before the free leaves them changed.
import type { Disk } from '../common/disk.ts';
import type { Opver } from './api.ts';
import type { Binlog, BinlogRecord } from './binlog.ts';
import { CHECKPOINT_KEY, loadCheckpoint, type ReconcileReport, reconcileBinlog } from './binlog-reconcile.ts';
import type { NodeIndex } from './index-db.ts';
import {
  decodeObjectKey,
  decodeVersionEntryKey,
  EntryKind,
  entryKey,
  OBJECT_KEY_BYTES_MAX,
  objectKey,
  partKey,
  prefixEnd,
  uploadKey,
  uploadTombstoneKey,
  versionEntryKey,
  versionKey,
  versionKeyPrefix,
} from './keys.ts';
import { rebuildInto } from './rebuild.ts';
import {
  compareOpver,
  decodeEntryMeta,
  decodeObjectSummary,
  decodeObjectValue,
  decodePartValue,
  decodePendingValue,
  decodeUploadValue,
  encodeCheckpoint,
  encodeObjectValue,
  encodePartValue,
  encodeTombstoneValue,
  encodeUploadValue,
  type ObjectValue,
  type VolLoc,
} from './records.ts';
import { getTombstone, tombstoneKeyOfEntry } from './replica-tombstones.ts';
import type { StoredEntry, VolumePort } from './volume-port.ts';

export interface RecoveryReport {
  mode: 'clean' | 'tail' | 'rebuild';
  /** Why a rebuild was needed (rebuild mode). */
  reason?: string;
  /** Entries and index rows looked at. */
  checked: number;
  /** Index rows written or removed, and volume entries freed. */
  repaired: number;
  /** Binlog records voided and appended. */
  binlogVoided: number;
  binlogAppended: number;
  seconds: number;
}

/** What recovery needs of the node. */
export interface RecoveryHost {
  readonly index: NodeIndex;
  readonly binlog: Binlog;
  readonly volumes: Map<string, VolumePort>;
  readonly opts: { readonly nodeId: number; readonly dataDir: string; readonly disk?: Disk };
  /** The opver clock: never goes back. */
  readonly clock: { readonly counter: bigint; advanceTo(counter: bigint): void };
}

export interface RecoveryInput {
  /** A compaction was rolled forward while the volumes opened: their moves are not in the index. */
  movedBeforeOpen: boolean;
  /** The index was (re)created empty or discarded at open. */
  indexFresh: boolean;
  /** The previous process died under this same boot (not a machine crash), per index-guard.ts. */
  sameBoot: boolean;
  /** Every commit is flushed before its op is acknowledged (indexSync 'ack'). */
  indexFlushed: boolean;
  /**
   * Volumes the node had at its last open that opened new and empty now (a replaced disk): the index describes
   * entries they no longer hold, so it is rebuilt from the volumes, however cleanly the node stopped.
   */
  replacedVolumes?: readonly string[];
}

const REBUILDING_KEY = Buffer.from('rebuilding');

export async function recoverNode(node: RecoveryHost, input: RecoveryInput): Promise<RecoveryReport> {
  const started = performance.now();
  const { index } = node;
  node.clock.advanceTo(index.readCounter());
  const report: Report = {
    mode: 'clean',
    checked: 0,
    repaired: 0,
    binlogVoided: 0,
    binlogAppended: 0,
    seconds: 0,
  };
  const replaced = input.indexFresh ? [] : (input.replacedVolumes ?? []);
  if (
    index.wasClean() &&
    !input.movedBeforeOpen &&
    !index.get(index.meta, REBUILDING_KEY) &&
    replaced.length === 0
  ) {
    report.repaired += await finishPending(node);
  } else {
    const why =
      replaced.length > 0
        ? `volume ${replaced.join(', ')} is new and empty (a replaced disk?)`
        : whyRebuild(node, input);
    if (why === undefined) await recoverTail(node, report);
    else await recoverByRebuild(node, report, why);
    node.clock.advanceTo(report.maxCounter ?? 0n);
    const cp = { ...node.binlog.confirmed, counter: node.clock.counter };
    await index.write(() => {
      index.putCounter(node.clock.counter);
      index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(cp));
      index.meta.remove(REBUILDING_KEY);
    });
    // The next crash starts from here, not from before this one.
    for (const v of node.volumes.values()) await v.checkpoint?.();
  }
  delete report.maxCounter;
  await index.setClean(false);
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** Undefined when the tail is enough; otherwise why the whole index must be rebuilt. */
function whyRebuild(node: RecoveryHost, input: RecoveryInput): string | undefined {
  if (input.indexFresh) return 'no usable index';
  if (node.index.get(node.index.meta, REBUILDING_KEY)) return 'a rebuild was cut short';
  if (!node.index.get(node.index.meta, CHECKPOINT_KEY)) return 'the index has no checkpoint';
  if (!input.indexFlushed) return 'indexSync is background: the index may lag the volumes';
  if (!input.sameBoot) return 'the machine restarted: the index may be ahead of the volumes';
  if (input.movedBeforeOpen) return 'a compaction was rolled forward at open';
  for (const [id, v] of node.volumes) {
    if (v.recovery?.mode !== 'checkpoint' && v.recovery?.mode !== 'summary') {
      return `volume ${id} has no checkpoint (${v.recovery?.mode ?? 'unknown'})`;
    }
  }
  return undefined;
}

type Report = RecoveryReport & { maxCounter?: bigint };

async function recoverByRebuild(node: RecoveryHost, report: Report, reason: string): Promise<void> {
  const { index } = node;
  report.mode = 'rebuild';
  report.reason = reason;
  await index.write(() => index.meta.put(REBUILDING_KEY, Buffer.from([1])));
  const r = await rebuildInto(index, node.volumes);
  report.checked = r.entries;
  report.repaired = r.garbageDeleted;
  const b = await reconcileBinlog(node, await loadCheckpoint(index, node.opts.dataDir, node.opts.disk));
  addBinlog(report, b);
  report.maxCounter = maxBig(r.maxCounter, b.maxCounter);
}

function addBinlog(report: Report, b: ReconcileReport): void {
  report.binlogVoided = b.voided;
  report.binlogAppended = b.appended;
}

/** Deferred deletes of reads that died with the process: the entry, then its tombstone. */
async function finishPending(node: RecoveryHost): Promise<number> {
  const { index } = node;
  const rows = [...index.pending.getRange({ snapshot: false })].map((r) => ({
    key: Buffer.from(r.key),
    value: Buffer.from(r.value),
  }));
  let freed = 0;
  for (const r of rows) {
    let v: ReturnType<typeof decodePendingValue> | undefined;
    try {
      v = decodePendingValue(r.value);
    } catch {
      v = undefined; // written by a newer version: left to a rebuild
    }
    if (v) {
      freed += await freeTolerant(node, v.at);
      if (v.tombstone) freed += await freeTolerant(node, v.tombstone);
    }
    await index.write(() => index.pending.remove(r.key));
  }
  return freed;
}

async function freeTolerant(node: RecoveryHost, at: VolLoc): Promise<number> {
  try {
    await node.volumes.get(at.volumeId)?.delete(at.location);
    return 1;
  } catch {
    return 0; // already gone
  }
}

const locId = (v: VolLoc) => `${v.volumeId}\0${v.location.kind}${v.location.fileId}:${v.location.offset}`;
const sameLoc = (a: VolLoc, b: VolLoc) => locId(a) === locId(b);

interface Changed {
  readonly at: VolLoc;
  readonly e: StoredEntry;
}

/** The tail reconcile (see the header). */
async function recoverTail(node: RecoveryHost, report: Report): Promise<void> {
  const { index } = node;
  report.mode = 'tail';
  report.repaired += await finishPending(node);
  // Everything the volumes report as changed since their checkpoints, by kind.
  const objects = new Map<string, Changed[]>();
  const blobs = new Map<string, Changed>();
  const others: Changed[] = [];
  let maxCounter = 0n;
  for (const [volumeId, v] of node.volumes) {
    for (const e of v.recovery?.changed ?? []) {
      report.checked += 1;
      maxCounter = maxBig(maxCounter, e.opver.counter);
      const c = { at: { volumeId, location: e.location }, e };
      if (e.key[0] === EntryKind.object || e.key[0] === EntryKind.version)
        push(objects, decodeVersionEntryKey(e.key).okey.toString('latin1'), c);
      else if (e.key[0] === EntryKind.blob) blobs.set(locId(c.at), c);
      else others.push(c);
    }
  }
  const cp = await loadCheckpoint(index, node.opts.dataDir, node.opts.disk);
  const tail: BinlogRecord[] = [];
  for await (const { record } of node.binlog.readFrom(cp, { unconfirmed: true })) tail.push(record);
  for (const r of tail) {
    if (r.op === 'upload-create' || r.op === 'upload-part' || r.op === 'upload-abort') continue;
    if (r.key.length > OBJECT_KEY_BYTES_MAX) continue; // never written by this node
    const k = objectKey(r.bucket, r.key).toString('latin1');
    if (!objects.has(k)) objects.set(k, []);
  }
  const fix = new Fixes();
  const claimed = new Set<string>();
  for (const [k, changed] of objects) {
    report.checked += 1;
    const okey = Buffer.from(k, 'latin1');
    if (hasVersions(index, okey, changed)) await settleVersionedKey(node, okey, changed, blobs, fix, claimed);
    else await settleObject(node, okey, changed, blobs, fix, claimed);
  }
  for (const r of tail) if (r.op === 'upload-abort') await settleAbort(node, r, fix);
  for (const c of newestByKey(others, fix)) settleOther(node, c, fix, claimed, blobs);
  for (const [id, c] of blobs) {
    if (!claimed.has(id) && !ownerHolds(node, c, objects)) fix.free(c.at);
  }

  await index.write(() => fix.apply(index));
  for (const l of fix.freed) report.repaired += await freeTolerant(node, l);
  for (const l of fix.tombstones) report.repaired += await freeTolerant(node, l);
  report.repaired += fix.rows;
  const b = await reconcileBinlog(node, cp, {
    objects: [...objects.keys()].map((k) => Buffer.from(k, 'latin1')),
    uploads: fix.touchedUploads,
    parts: fix.touchedParts,
  });
  addBinlog(report, b);
  report.maxCounter = maxBig(maxCounter, b.maxCounter);
}

/** Whether a key has (or gets, by a changed entry) versions besides its null version. */
function hasVersions(index: NodeIndex, okey: Buffer, changed: Changed[]): boolean {
  if (changed.some((c) => c.e.key[0] === EntryKind.version)) return true;
  const row = index.get(index.objects, okey);
  if (row && decodeObjectSummary(row).versioned) return true;
  const { bucket, key } = decodeObjectKey(okey);
  const lo = versionKeyPrefix(bucket, key);
  for (const _ of index.versions.getRange({ start: lo, end: prefixEnd(lo), limit: 1, snapshot: false }))
    return true;
  return false;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Index changes and frees collected by the tail reconcile, applied in one transaction. */
class Fixes {
  private readonly puts: Array<{
    db: 'objects' | 'versions' | 'uploads' | 'parts' | 'tombstones';
    key: Buffer;
    value?: Buffer;
  }> = [];
  private readonly freedIds = new Set<string>();
  readonly freed: VolLoc[] = [];
  readonly tombstones: VolLoc[] = [];
  readonly touchedUploads: Buffer[] = [];
  readonly touchedParts: Buffer[] = [];
  rows = 0;
  /** Applied in the order given (a removal then a put of the same key leaves the put). */
  put(db: 'objects' | 'versions' | 'uploads' | 'parts' | 'tombstones', key: Buffer, value?: Buffer): void {
    this.puts.push({ db, key, value });
    this.rows += 1;
  }
  free(at: VolLoc | undefined, tombstone = false): void {
    if (!at || this.freedIds.has(locId(at))) return;
    this.freedIds.add(locId(at));
    (tombstone ? this.tombstones : this.freed).push(at);
  }
  apply(index: NodeIndex): void {
    for (const p of this.puts) {
      const db = index[p.db];
      if (p.value) db.put(p.key, p.value);
      else db.remove(p.key);
    }
  }
}

/** Whether the volume holds the entry a row points at: same entry key and opver. */
async function rowHolds(node: RecoveryHost, at: VolLoc, ekey: Buffer, opver: Opver): Promise<boolean> {
  try {
    const e = await node.volumes.get(at.volumeId)?.readEntry(at.location);
    return e?.key.equals(ekey) === true && compareOpver(e.opver, opver) === 0;
  } catch (err) {
    // Nothing (or nothing readable) is there; any other failure (EIO, EMFILE) must not cost a row.
    if (GONE.has(String((err as { code?: unknown }).code))) return false;
    throw err;
  }
}

/** Error codes that mean the location holds no entry (packing errors, a missing singlefile). */
const GONE = new Set(['ENTRY_NOT_FOUND', 'CORRUPT_ENTRY', 'ENOENT']);

/** Locations a version occupies besides its 'O' entry, and its part rows. */
function bodyOf(index: NodeIndex, v: ObjectValue): { locs: VolLoc[]; partKeys: Buffer[] } {
  if (v.body.kind === 'inline') return { locs: [], partKeys: [] };
  if (v.body.kind === 'blob') return { locs: v.blobAt ? [v.blobAt] : [], partKeys: [] };
  const locs: VolLoc[] = [];
  const partKeys: Buffer[] = [];
  for (const p of v.body.parts) {
    const pk = partKey(v.body.uploadId, p.partNumber);
    const row = index.get(index.parts, pk);
    if (!row) continue;
    const pv = decodePartValue(row);
    locs.push(pv.at);
    if (pv.blobAt) locs.push(pv.blobAt);
    partKeys.push(pk);
  }
  return { locs, partKeys };
}

/** One object key without versions (its null version only): the rule of settleVersion, one row. */
async function settleObject(
  node: RecoveryHost,
  okey: Buffer,
  changed: Changed[],
  blobs: Map<string, Changed>,
  fix: Fixes,
  claimed: Set<string>,
): Promise<void> {
  const rowBuf = node.index.get(node.index.objects, okey);
  const row = rowBuf ? decodeObjectValue(rowBuf) : undefined;
  const s = await settleVersion(node, entryKey(EntryKind.object, okey), row, changed, blobs, fix, claimed);
  if (row && !s.rowKept && !s.kept) fix.put('objects', okey);
  if (s.kept && !s.rowKept) fix.put('objects', okey, encodeObjectValue(s.kept));
}

/**
 * One version (one entry key: 'O'+objectKey, or 'V'+objectKey+stamp): the highest valid opver among its index
 * row (only if the entry at the row's location is there with the row's key and opver), its tombstone row and
 * its changed entries wins (a tombstone winning removes the version and is its tombstone row, its entry kept);
 * everything else is freed, a lost row with its body. Returns the surviving version, if any, and whether that
 * is the row as it stands.
 */
async function settleVersion(
  node: RecoveryHost,
  ekey: Buffer,
  row: ObjectValue | undefined,
  changed: Changed[],
  blobs: Map<string, Changed>,
  fix: Fixes,
  claimed: Set<string>,
): Promise<{ kept?: ObjectValue; rowKept: boolean }> {
  const { index } = node;
  const versioned = ekey[0] === EntryKind.version;
  // A row pointing at one of the changed entries (read and verified by the volume) needs no read.
  const rowValid =
    row !== undefined &&
    (changed.some((c) => sameLoc(c.at, row.at) && compareOpver(c.e.opver, row.opver) === 0) ||
      (await rowHolds(node, row.at, ekey, row.opver)));
  type Cand = {
    opver: Opver;
    at?: VolLoc;
    value?: ObjectValue;
    tombstone?: boolean;
    isRow?: boolean;
    createdMs?: number;
  };
  const cands: Cand[] = [];
  if (row && rowValid) cands.push({ opver: row.opver, at: row.at, value: row, isRow: true });
  // The version's tombstone row (replica-tombstones.ts) competes like any tombstone; its entry is live.
  const tkey = tombstoneKeyOfEntry(ekey);
  const tombRow = getTombstone(index, tkey);
  const tombCand: Cand | undefined = tombRow && { opver: tombRow.opver, at: tombRow.at, tombstone: true };
  if (tombCand) cands.push(tombCand);
  for (const c of changed) {
    if (row && rowValid && sameLoc(c.at, row.at) && compareOpver(c.e.opver, row.opver) === 0) continue;
    if (tombRow?.at && sameLoc(c.at, tombRow.at)) continue;
    let meta: ReturnType<typeof decodeEntryMeta>;
    try {
      meta = decodeEntryMeta(c.e.meta);
    } catch {
      continue; // not ours: left alone
    }
    if (meta.kind === 'tombstone') {
      cands.push({ opver: c.e.opver, at: c.at, tombstone: true, createdMs: c.e.createdMs });
      continue;
    }
    if (meta.kind !== 'object') continue;
    const m = meta.meta;
    // A completed upload whose index commit never happened was not acknowledged: the upload stays.
    let ok = m.body.kind !== 'multipart';
    let blobAt: VolLoc | undefined;
    if (m.body.kind === 'blob') {
      const id = m.body.blobId;
      blobAt = [...blobs.values()].find((b) => b.e.key.subarray(1).equals(id))?.at;
      ok = blobAt !== undefined;
    }
    const value: ObjectValue = {
      ...m,
      seq: m.seq ?? c.e.opver,
      opver: c.e.opver,
      at: c.at,
      ...(blobAt ? { blobAt } : {}),
    };
    // The entry key says which version it is: 'V' a real one, 'O' the null version.
    if (versioned) value.versioned = true;
    else delete value.versioned;
    cands.push(ok ? { opver: c.e.opver, at: c.at, value } : { opver: c.e.opver, at: c.at });
  }
  let win: Cand | undefined;
  for (const c of cands)
    if ((c.value || c.tombstone) && (!win || compareOpver(c.opver, win.opver) > 0)) win = c;
  // Everything but the winner goes; a row that lost (or points at nothing) goes with its body.
  for (const c of cands) if (c !== win && !c.isRow) fix.free(c.at, c.tombstone === true);
  if (row && win?.isRow !== true) {
    if (rowValid) fix.free(row.at);
    const body = bodyOf(index, row);
    // A multipart body's parts stay if the winner is the same upload (cannot happen: see above).
    for (const l of body.locs) fix.free(l);
    for (const pk of body.partKeys) fix.put('parts', pk);
  }
  // A winning tombstone entry becomes the version's tombstone row (it stays in the volume); a tombstone row
  // that lost goes (its entry freed above).
  if (win?.tombstone && win !== tombCand)
    fix.put(
      'tombstones',
      tkey,
      encodeTombstoneValue({ opver: win.opver, createdMs: win.createdMs ?? Date.now(), at: win.at }),
    );
  else if (tombCand && win !== tombCand) fix.put('tombstones', tkey);
  const kept = win?.value;
  if (kept) {
    claimed.add(locId(kept.at));
    if (kept.blobAt) claimed.add(locId(kept.blobAt));
    for (const l of bodyOf(index, kept).locs) claimed.add(locId(l));
  }
  return { ...(kept ? { kept } : {}), rowKept: win?.isRow === true };
}

/**
 * An object key with versions: each version touched since the checkpoints (by a changed 'O'/'V' entry, or
 * any of its rows) is settled by settleVersion; then the survivors are placed again, the highest stamp
 * current (`objects`), the others in `versions`.
 */
async function settleVersionedKey(
  node: RecoveryHost,
  okey: Buffer,
  changed: Changed[],
  blobs: Map<string, Changed>,
  fix: Fixes,
  claimed: Set<string>,
): Promise<void> {
  const { index } = node;
  const { bucket, key } = decodeObjectKey(okey);
  const tag = (s: Opver | undefined) => (s ? `${s.counter}:${s.nodeId}` : 'null');
  // Every row of the key, by version.
  const rows = new Map<string, ObjectValue>();
  const oldVersionKeys: Buffer[] = [];
  const curBuf = index.get(index.objects, okey);
  if (curBuf) {
    const v = decodeObjectValue(curBuf);
    rows.set(tag(v.versioned ? v.seq : undefined), v);
  }
  const lo = versionKeyPrefix(bucket, key);
  for (const { key: vk, value } of index.versions.getRange({
    start: lo,
    end: prefixEnd(lo),
    snapshot: false,
  })) {
    const v = decodeObjectValue(Buffer.from(value));
    rows.set(tag(v.versioned ? v.seq : undefined), v);
    oldVersionKeys.push(Buffer.from(vk));
  }
  const byVersion = new Map<string, { stamp?: Opver; changed: Changed[] }>();
  for (const [id, v] of rows) byVersion.set(id, { ...(v.versioned ? { stamp: v.seq } : {}), changed: [] });
  for (const c of changed) {
    const { stamp } = decodeVersionEntryKey(c.e.key);
    const id = tag(stamp);
    const slot = byVersion.get(id) ?? { ...(stamp ? { stamp } : {}), changed: [] };
    slot.changed.push(c);
    byVersion.set(id, slot);
  }
  const survivors: ObjectValue[] = [];
  for (const [id, slot] of byVersion) {
    const ekey = versionEntryKey(okey, slot.stamp);
    const s = await settleVersion(node, ekey, rows.get(id), slot.changed, blobs, fix, claimed);
    if (s.kept) survivors.push(s.kept);
  }
  // Place them again: newest stamp current, the rest noncurrent.
  survivors.sort((a, b) => compareOpver(b.seq!, a.seq!));
  for (const vk of oldVersionKeys) fix.put('versions', vk);
  const [current, ...older] = survivors;
  if (current) fix.put('objects', okey, encodeObjectValue(current));
  else if (curBuf) fix.put('objects', okey);
  for (const v of older) fix.put('versions', versionKey(bucket, key, v.seq!), encodeObjectValue(v));
}

/** An abort whose marker is gone but whose upload row is still there: finish it. */
async function settleAbort(node: RecoveryHost, r: BinlogRecord, fix: Fixes): Promise<void> {
  const { index } = node;
  if (r.uploadId === undefined) return; // nothing to finish (uploadKey refuses an empty id)
  const uk = uploadKey(r.bucket, r.key, r.uploadId);
  const row = index.get(index.uploads, uk);
  if (!row) return;
  const u = decodeUploadValue(row);
  const ekey = entryKey(EntryKind.upload, Buffer.from(u.uploadId, 'latin1'));
  if (await rowHolds(node, u.at, ekey, u.opver)) return;
  fix.put('uploads', uk);
  fix.touchedUploads.push(uk);
  const prefix = Buffer.from(u.uploadId, 'latin1');
  for (const { key, value } of index.parts.getRange({ start: prefix, snapshot: false })) {
    if (!Buffer.from(key).subarray(0, prefix.length).equals(prefix)) break;
    const p = decodePartValue(value);
    fix.put('parts', Buffer.from(key));
    fix.free(p.at);
    fix.free(p.blobAt);
  }
}

/**
 * An unclaimed changed blob stays if its owner row (untouched by this reconcile) points at it, or if
 * it names no owner (written before blobs did: only a rebuild can tell).
 */
function ownerHolds(node: RecoveryHost, c: Changed, touched: Map<string, Changed[]>): boolean {
  let meta: ReturnType<typeof decodeEntryMeta>;
  try {
    meta = decodeEntryMeta(c.e.meta);
  } catch {
    return true;
  }
  if (meta.kind !== 'blob' || !meta.owner) return true;
  const { index } = node;
  const { table, key } = meta.owner;
  if (table === 'objects') {
    if (touched.has(key.toString('latin1'))) return false; // settled above: it would be claimed
    const holds = (row: Buffer | undefined) => {
      const at = row ? decodeObjectValue(row).blobAt : undefined;
      return at !== undefined && sameLoc(at, c.at);
    };
    if (holds(index.get(index.objects, key))) return true;
    // Or a noncurrent version of that object: a changed region (a whole chunkfile) reports old blobs too.
    const { bucket, key: objKey } = decodeObjectKey(key);
    const lo = versionKeyPrefix(bucket, objKey);
    for (const { value } of index.versions.getRange({ start: lo, end: prefixEnd(lo), snapshot: false }))
      if (holds(Buffer.from(value))) return true;
    return false;
  }
  const row = index.get(index.parts, key);
  const at = row ? decodePartValue(row).blobAt : undefined;
  return at !== undefined && sameLoc(at, c.at);
}

/**
 * Of the changed entries with one entry key (a marker or a part replaced by a newer copy, replica-uploads.ts),
 * the newest; the others are freed (packing, scanning both, keeps the newer of two entries with one key too).
 */
function newestByKey(changed: Changed[], fix: Fixes): Changed[] {
  const best = new Map<string, Changed>();
  for (const c of changed) {
    const k = c.e.key.toString('latin1');
    const b = best.get(k);
    if (!b) best.set(k, c);
    else if (compareOpver(c.e.opver, b.e.opver) > 0) {
      fix.free(b.at);
      best.set(k, c);
    } else fix.free(c.at);
  }
  return [...best.values()];
}

/**
 * A changed upload marker, upload tombstone or part is kept if its index row points at it. A marker or part newer
 * than its row (a replacement cut before its commit) takes the row's place: packing may already have dropped the
 * older entry of the same key, so the newer one wins (as a rebuild would), whole.
 */
function settleOther(
  node: RecoveryHost,
  c: Changed,
  fix: Fixes,
  claimed: Set<string>,
  blobs: Map<string, Changed>,
): void {
  const { index } = node;
  let meta: ReturnType<typeof decodeEntryMeta>;
  try {
    meta = decodeEntryMeta(c.e.meta);
  } catch {
    return;
  }
  const body = c.e.key.subarray(1);
  if (c.e.key[0] === EntryKind.upload && meta.kind === 'upload') {
    let uk: Buffer;
    try {
      uk = uploadKey(meta.meta.bucket, meta.meta.key, body.toString('latin1'));
    } catch {
      return; // not a marker this node could have written: left alone
    }
    const row = index.get(index.uploads, uk);
    fix.touchedUploads.push(uk);
    const cur = row ? decodeUploadValue(row) : undefined;
    if (cur && sameLoc(cur.at, c.at)) return;
    if (cur && compareOpver(c.e.opver, cur.opver) > 0) {
      const uploadId = body.toString('latin1');
      fix.put('uploads', uk, encodeUploadValue({ ...meta.meta, uploadId, opver: c.e.opver, at: c.at }));
      fix.free(cur.at);
      return;
    }
    fix.free(c.at);
  } else if (c.e.key[0] === EntryKind.uploadTombstone && meta.kind === 'upload-removed') {
    // An upload's tombstone (replica-uploads.ts): kept if its row names it; else its removal never committed.
    let tkey: Buffer;
    try {
      tkey = uploadTombstoneKey(meta.bucket, meta.key, body.toString('latin1'));
    } catch {
      return;
    }
    const t = getTombstone(index, tkey);
    if (t?.at && sameLoc(t.at, c.at)) return;
    fix.free(c.at, true);
  } else if (c.e.key[0] === EntryKind.part && meta.kind === 'part') {
    const row = index.get(index.parts, body);
    fix.touchedParts.push(Buffer.from(body));
    const p = row ? decodePartValue(row) : undefined;
    if (p && sameLoc(p.at, c.at)) {
      claimed.add(locId(p.at));
      if (p.blobAt) claimed.add(locId(p.blobAt));
      return;
    }
    const m = meta.meta;
    const blobId = m.blobId;
    const blobAt = blobId && [...blobs.values()].find((b) => b.e.key.subarray(1).equals(blobId))?.at;
    if (p && compareOpver(c.e.opver, p.opver) > 0 && (!blobId || blobAt)) {
      fix.put(
        'parts',
        Buffer.from(body),
        encodePartValue({ ...m, opver: c.e.opver, at: c.at, ...(blobAt ? { blobAt } : {}) }),
      );
      claimed.add(locId(c.at));
      if (blobAt) claimed.add(locId(blobAt));
      fix.free(p.at);
      fix.free(p.blobAt);
      return;
    }
    fix.free(c.at);
  }
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
