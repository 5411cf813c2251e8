// After an unclean stop and a rebuild of the index from the volumes, make the binlog agree with
// the volumes, looking only past the last checkpoint (records.ts BinlogCheckpoint):
//
// 1. Void records the volumes do not back. An object write's record is written at the same time
//    as its entry, and a delete's or abort's before the volume change, so a crash can leave a
//    durable record for an op that never happened. One op per key is in flight at a time (key
//    lock), so only the last record of a key can be such a record: a write whose key's index
//    opver is lower, or a delete/abort whose entry is still live.
// 2. Append the records that are missing: an entry durable in a volume whose record never became
//    durable (crash between the two), so mirrors still learn of it.
// Records of upload creates and parts are appended only after their entry is durable: always backed.
import type { Disk } from '../common/disk.ts';
import type { Opver } from './api.ts';
import type { BinlogPosition, BinlogRecord } from './binlog.ts';
import { readCheckpointFile } from './durable-file.ts';
import type { NodeIndex } from './index-db.ts';
import {
  decodeObjectKey,
  decodePartKey,
  decodeUploadKey,
  decodeVersionKey,
  objectKey,
  prefixEnd,
  uploadKey,
  versionKey,
  versionKeyPrefix,
} from './keys.ts';
import {
  type BinlogCheckpoint,
  decodeCheckpoint,
  decodeObjectOpver,
  decodeObjectSummary,
  decodeObjectValue,
  decodePartValue,
  decodeUploadValue,
} from './records.ts';

export const CHECKPOINT_KEY = Buffer.from('binlog');

/** The later of the index's checkpoint and the one written at the last clean close. */
export async function loadCheckpoint(
  index: NodeIndex,
  dataDir: string,
  disk?: Disk,
): Promise<BinlogCheckpoint> {
  const row = index.get(index.meta, CHECKPOINT_KEY);
  const a = row ? decodeCheckpoint(row) : undefined;
  const b = await readCheckpointFile(dataDir, disk);
  if (a && b) return a.counter >= b.counter ? a : b;
  return a ?? b ?? { file: 1, offset: 0, counter: 0n };
}

interface NodeView {
  readonly index: NodeIndex;
  readonly binlog: {
    readFrom(
      from: BinlogPosition,
      opts: { unconfirmed: boolean },
    ): AsyncIterable<{ record: BinlogRecord; at: BinlogPosition }>;
    voidAt(positions: BinlogPosition[]): Promise<void>;
    append(rec: BinlogRecord): Promise<void>;
  };
  readonly opts: { readonly nodeId: number };
}

export interface ReconcileReport {
  voided: number;
  appended: number;
  /** Highest opver counter in the records checked: the node's counter must not fall below it. */
  maxCounter: bigint;
}

const opverTag = (o: Opver) => `${o.counter}:${o.nodeId}`;

/** Which index row a record is about: an object's null version, or one real version (by stamp). */
function identity(r: BinlogRecord): string {
  if (r.op === 'upload-create' || r.op === 'upload-abort') return `u${r.uploadId}`;
  if (r.op === 'upload-part') return `p${r.uploadId}\0${r.partNumber}`;
  return objectIdentity(objectKey(r.bucket, r.key), r.version?.stamp);
}

function objectIdentity(okey: Buffer, stamp: Opver | undefined): string {
  const o = `o${okey.toString('latin1')}`;
  return stamp ? `${o}#${opverTag(stamp)}` : o;
}

/** The row of one version of (bucket, key) (the null version when `stamp` is absent), current or not. */
function versionRow(
  index: NodeIndex,
  bucket: string,
  key: Buffer,
  stamp: Opver | undefined,
): Opver | undefined {
  const cur = index.get(index.objects, objectKey(bucket, key));
  if (cur) {
    const s = decodeObjectSummary(cur);
    if (stamp ? s.versioned && compare(s.seq, stamp) === 0 : !s.versioned)
      return decodeObjectOpver(cur).opver;
  }
  if (stamp) {
    const row = index.get(index.versions, versionKey(bucket, key, stamp));
    return row ? decodeObjectOpver(row).opver : undefined;
  }
  const lo = versionKeyPrefix(bucket, key);
  for (const { value } of index.versions.getRange({ start: lo, end: prefixEnd(lo), snapshot: false }))
    if (!decodeObjectSummary(value).versioned) return decodeObjectOpver(value).opver;
  return undefined;
}

/** Index rows a reconcile looks at for missing records; all of them when not given. */
export interface ReconcileScope {
  objects: Buffer[];
  uploads: Buffer[];
  parts: Buffer[];
}

export async function reconcileBinlog(
  node: NodeView,
  cp: BinlogCheckpoint,
  scope?: ReconcileScope,
): Promise<ReconcileReport> {
  const last = new Map<string, { record: BinlogRecord; at: BinlogPosition }>();
  const seen = new Set<string>();
  let maxCounter = 0n;
  for await (const r of node.binlog.readFrom(cp, { unconfirmed: true })) {
    if (r.record.opver.counter > maxCounter) maxCounter = r.record.opver.counter;
    const id = identity(r.record);
    last.set(id, r);
    seen.add(`${id}#${opverTag(r.record.opver)}`);
  }
  const dead: BinlogPosition[] = [];
  for (const [id, r] of last) {
    if (backed(node.index, r.record)) continue;
    dead.push(r.at);
    seen.delete(`${id}#${opverTag(r.record.opver)}`);
  }
  await node.binlog.voidAt(dead);
  const missing = findMissing(node, cp.counter, seen, scope);
  missing.sort((a, b) =>
    a.opver.counter < b.opver.counter ? -1 : a.opver.counter > b.opver.counter ? 1 : 0,
  );
  await Promise.all(missing.map((m) => node.binlog.append(m)));
  return { voided: dead.length, appended: missing.length, maxCounter };
}

/** Whether the rebuilt index shows the op of this (last-for-its-key) record as done. */
function backed(index: NodeIndex, r: BinlogRecord): boolean {
  if (r.op === 'upload-create' || r.op === 'upload-part') return true;
  if (r.op === 'upload-abort')
    return r.uploadId === undefined || !index.get(index.uploads, uploadKey(r.bucket, r.key, r.uploadId));
  const cur = versionRow(index, r.bucket, r.key, r.version?.stamp);
  const newer = cur !== undefined && compare(cur, r.opver) > 0;
  if (r.op === 'delete' || r.op === 'version-delete') return !cur || newer;
  return cur !== undefined && compare(cur, r.opver) >= 0;
}

function compare(a: Opver, b: Opver): number {
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.nodeId - b.nodeId;
}

type Row = { key: Buffer; value: Buffer };

/** The rows of `keys` that exist, or the whole table. */
function* rowsOf(db: NodeIndex['objects'], keys: Buffer[] | undefined): Iterable<Row> {
  if (!keys) {
    for (const r of db.getRange({ snapshot: false })) yield { key: r.key, value: r.value };
    return;
  }
  const seen = new Set<string>();
  for (const key of keys) {
    const id = key.toString('latin1');
    if (seen.has(id)) continue;
    seen.add(id);
    const value = db.getBinary(key) as Buffer | undefined;
    if (value) yield { key, value };
  }
}

/** The noncurrent version rows of the object keys given, or the whole versions table. */
function* versionRowsOf(index: NodeIndex, objectKeys: Buffer[] | undefined): Iterable<Row> {
  if (!objectKeys) {
    yield* rowsOf(index.versions, undefined);
    return;
  }
  const seen = new Set<string>();
  for (const okey of objectKeys) {
    const id = okey.toString('latin1');
    if (seen.has(id)) continue;
    seen.add(id);
    const { bucket, key } = decodeObjectKey(okey);
    const lo = versionKeyPrefix(bucket, key);
    for (const r of index.versions.getRange({ start: lo, end: prefixEnd(lo), snapshot: false }))
      yield { key: Buffer.from(r.key), value: Buffer.from(r.value) };
  }
}

/** Index rows of this node newer than the checkpoint that no live tail record describes. */
function findMissing(
  node: NodeView,
  after: bigint,
  seen: Set<string>,
  scope: ReconcileScope | undefined,
): BinlogRecord[] {
  const { index } = node;
  const mine = (o: Opver) => o.counter > after && o.nodeId === node.opts.nodeId;
  const out: BinlogRecord[] = [];
  const owners = new Map<string, { bucket: string; key: Buffer }>();
  // Parts need their upload's owner: every in-progress upload (a small table), then completed ones.
  for (const { key, value } of index.uploads.getRange({ snapshot: false }))
    owners.set(decodeUploadValue(value).uploadId, decodeUploadKey(key));
  // Current versions, then the noncurrent ones (of the scoped keys only, when a scope is given).
  const current = [...rowsOf(index.objects, scope?.objects)].map((r) => ({
    ...r,
    at: decodeObjectKey(r.key),
  }));
  const noncurrent = [...versionRowsOf(index, scope?.objects)].map((r) => ({
    ...r,
    at: decodeVersionKey(r.key),
  }));
  for (const { value, at: own } of [...current, ...noncurrent]) {
    const head = decodeObjectOpver(value);
    if (head.uploadId !== undefined && mine(head.opver)) owners.set(head.uploadId, own);
    const s = decodeObjectSummary(value);
    const stamp = s.versioned ? s.seq : undefined;
    const id = objectIdentity(objectKey(own.bucket, own.key), stamp);
    if (!mine(head.opver) || seen.has(`${id}#${opverTag(head.opver)}`)) continue;
    const v = decodeObjectValue(value);
    const uploadId = head.uploadId;
    const rec: BinlogRecord = {
      op: uploadId ? 'upload-complete' : 'insert',
      bucket: own.bucket,
      key: own.key,
      opver: v.opver,
      size: v.size,
      uploadId,
    };
    if (stamp || s.deleteMarker)
      rec.version = { ...(stamp ? { stamp } : {}), ...(s.deleteMarker ? { deleteMarker: true } : {}) };
    out.push(rec);
  }
  for (const { key, value } of rowsOf(index.uploads, scope?.uploads)) {
    const u = decodeUploadValue(value);
    const { bucket, key: k } = decodeUploadKey(key);
    if (!mine(u.opver) || seen.has(`u${u.uploadId}#${opverTag(u.opver)}`)) continue;
    out.push({ op: 'upload-create', bucket, key: k, opver: u.opver, size: 0, uploadId: u.uploadId });
  }
  for (const { key, value } of rowsOf(index.parts, scope?.parts)) {
    const p = decodePartValue(value);
    const { uploadId, partNumber } = decodePartKey(key);
    const owner = owners.get(uploadId);
    if (!owner || !mine(p.opver) || seen.has(`p${uploadId}\0${partNumber}#${opverTag(p.opver)}`)) continue;
    out.push({ op: 'upload-part', ...owner, opver: p.opver, size: p.size, uploadId, partNumber });
  }
  return out;
}
