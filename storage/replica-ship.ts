// Brings one key of `to` up to `from`: every state (version or tombstone) `from` holds at a newer opver than
// `to` is applied to `to`, each version's bytes streamed from `from` and released after; then the key's uploads in
// progress the same way (each upload before its parts, each part's bytes streamed) and its upload tombstones.
// Either end may be a local StorageNode or a remote node's HTTP client (ReplicaEnd). Recovery pulls and push sync
// use it.

import { compareOpver } from './records.ts';
import type { ReplicaEnd, ReplicaState, UploadState } from './replica-api.ts';

export interface CopyKeyOptions {
  from: ReplicaEnd;
  to: ReplicaEnd;
  bucket: string;
  key: Buffer;
  /** Send also states `to` holds at the same opver (a repair of bad bytes); never older ones. */
  force?: boolean;
  /** Only this version (`null` or a stamp id); uploads are then left alone. */
  versionId?: string;
}

export interface CopyKeyResult {
  /** States `to` took. */
  applied: number;
  /** States `to` already held as new or newer by the time they arrived. */
  stale: number;
  /** Object bytes sent. */
  bytes: number;
}

export async function copyKey(opts: CopyKeyOptions): Promise<CopyKeyResult> {
  const { from, to, bucket, key } = opts;
  const out: CopyKeyResult = { applied: 0, stale: 0, bytes: 0 };
  const [mine, theirs] = await Promise.all([from.replicaStates(bucket, key), to.replicaStates(bucket, key)]);
  const held = new Map(theirs.map((s) => [s.versionId, s]));
  for (const s of mine) {
    if (opts.versionId !== undefined && s.versionId !== opts.versionId) continue;
    const t = held.get(s.versionId);
    if (t) {
      const c = compareOpver(s.opver, t.opver);
      if (c < 0 || (c === 0 && !opts.force)) continue;
    }
    const r = await sendState(from, to, s, opts.force === true);
    if (r === undefined) continue;
    out[r.result] += 1;
    out.bytes += r.bytes;
  }
  if (opts.versionId === undefined) await copyUploads(from, to, bucket, key, out);
  return out;
}

/** The identity of an upload unit: the upload, or one of its parts. */
export function uploadUnit(s: Pick<UploadState, 'uploadId' | 'partNumber'>): string {
  return s.partNumber === undefined ? s.uploadId : `${s.uploadId}\0${s.partNumber}`;
}

/**
 * The key's upload states `to` lacks or holds older: an upload before its parts (a part of an upload `to` does not
 * hold is refused), a tombstone whatever `to` holds of that upload but a newer tombstone (it outranks all of it).
 */
async function copyUploads(
  from: ReplicaEnd,
  to: ReplicaEnd,
  bucket: string,
  key: Buffer,
  out: CopyKeyResult,
): Promise<void> {
  const [mine, theirs] = await Promise.all([from.uploadStates(bucket, key), to.uploadStates(bucket, key)]);
  const held = new Map(theirs.map((s) => [uploadUnit(s), s]));
  const removed = new Set(
    theirs.filter((s) => s.partNumber === undefined && !s.upload).map((s) => s.uploadId),
  );
  for (const s of mine) {
    const tombstone = s.partNumber === undefined && !s.upload;
    // An upload `to` removed takes nothing but a newer tombstone.
    if (removed.has(s.uploadId) && !tombstone) continue;
    const t = held.get(uploadUnit(s));
    if (t && !(tombstone && t.upload) && compareOpver(s.opver, t.opver) <= 0) continue;
    if (!s.part || s.part.size === 0) {
      out[await to.applyUpload({ state: s })] += 1;
      continue;
    }
    const h = await from.openPart(bucket, key, s.uploadId, s.partNumber!);
    if (!h) continue; // replaced or removed since: that change comes next time
    try {
      const result = await to.applyUpload({ state: h.state, body: h.stream() });
      out[result] += 1;
      if (result === 'applied') out.bytes += h.state.part!.size;
    } finally {
      h.release();
    }
  }
}

/**
 * One state. A present version is read from `from` as it is when opened (it may have changed since the states
 * were listed: then the newer state is sent); undefined when it is gone meanwhile (its removal comes next time).
 */
async function sendState(
  from: ReplicaEnd,
  to: ReplicaEnd,
  s: ReplicaState,
  force: boolean,
): Promise<{ result: 'applied' | 'stale'; bytes: number } | undefined> {
  if (!s.record)
    return { result: await to.applyReplica({ state: s, ...(force ? { force } : {}) }), bytes: 0 };
  const h = await from.openObject(s.bucket, s.key, { versionId: s.versionId });
  if (!h) return undefined;
  try {
    const record = h.record;
    // Rewritten since it was listed: a null version's new stamp is its write's opver (the default).
    const same = compareOpver(record.opver, s.opver) === 0;
    const state: ReplicaState = {
      bucket: s.bucket,
      key: s.key,
      versionId: s.versionId,
      opver: record.opver,
      record,
      ...(same && s.seq ? { seq: s.seq } : {}),
    };
    if (record.deleteMarker || record.size === 0)
      return { result: await to.applyReplica({ state, ...(force ? { force } : {}) }), bytes: 0 };
    // Completed from an upload: `to` may hold its parts and build the version from them, no bytes sent.
    if (same && s.fromUpload !== undefined && record.parts) {
      try {
        const result = await to.applyReplica({
          state: { ...state, fromUpload: s.fromUpload },
          ...(force ? { force } : {}),
        });
        return { result, bytes: 0 };
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'NoSuchUpload') throw err;
      }
    }
    const result = await to.applyReplica({ state, body: h.stream(), ...(force ? { force } : {}) });
    return { result, bytes: result === 'applied' ? record.size : 0 };
  } finally {
    h.release();
  }
}
