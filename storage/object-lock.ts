// Object Lock rules for one version, checked by storage under the key's lock so a concurrent change of
// retention cannot slip between the check and the delete (or the change). COMPLIANCE binds everybody until
// the retain-until date; GOVERNANCE yields to a caller allowed to bypass it (the bucket owner sending
// x-amz-bypass-governance-retention: true); a legal hold blocks deletion whatever the retention.
import type { ObjectRetention } from './api.ts';
import { StorageError } from './errors.ts';

export interface LockState {
  retention?: ObjectRetention;
  legalHold?: boolean;
}

/** The refusal when this version may not be removed now; undefined when it may. */
export function removalRefusal(
  v: LockState,
  nowMs: number,
  bypassGovernance: boolean,
): StorageError | undefined {
  if (v.legalHold)
    return new StorageError('AccessDenied', 'Access Denied because object protected by object lock.');
  const r = v.retention;
  if (r && r.retainUntilMs > nowMs && (r.mode === 'COMPLIANCE' || !bypassGovernance))
    return new StorageError('AccessDenied', 'Access Denied because object protected by object lock.');
  return undefined;
}

/**
 * The refusal when `next` (null: removed) may not replace the version's retention: while it is in force a
 * retention can be extended (later date, or GOVERNANCE made COMPLIANCE) but not shortened, weakened or
 * removed, except a GOVERNANCE one by a caller who bypasses it.
 */
export function retentionChangeRefusal(
  cur: ObjectRetention | undefined,
  next: ObjectRetention | null,
  nowMs: number,
  bypassGovernance: boolean,
): StorageError | undefined {
  if (!cur || cur.retainUntilMs <= nowMs) return undefined;
  const weaker =
    next === null ||
    next.retainUntilMs < cur.retainUntilMs ||
    (cur.mode === 'COMPLIANCE' && next.mode === 'GOVERNANCE');
  if (!weaker || (cur.mode === 'GOVERNANCE' && bypassGovernance)) return undefined;
  return new StorageError('AccessDenied', 'Access Denied');
}
