// Brings one key of `to` up to `from`: every state (version or tombstone) `from` holds at a newer opver than
// `to` is applied to `to`, each version's bytes streamed from `from` and released after. Either end may be a
// local StorageNode or a remote node's HTTP client (ReplicaEnd). Recovery pulls and push sync use it.

import { compareOpver } from './records.ts';
import type { ReplicaEnd, ReplicaState } from './replica-api.ts';

export interface CopyKeyOptions {
  from: ReplicaEnd;
  to: ReplicaEnd;
  bucket: string;
  key: Buffer;
  /** Send also states `to` holds at the same opver (a repair of bad bytes); never older ones. */
  force?: boolean;
  /** Only this version (`null` or a stamp id). */
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
  return out;
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
    const result = await to.applyReplica({ state, body: h.stream(), ...(force ? { force } : {}) });
    return { result, bytes: result === 'applied' ? record.size : 0 };
  } finally {
    h.release();
  }
}
