// Bucket incarnations. A request resolves its bucket's name to one incarnation once, at admission (the
// authorization step, gateway/authz/admission.ts, which also decides access), and hands storage only that
// incarnation's id; after its storage call it confirms the incarnation is still the current one.
import type { BucketConfigKind, BucketInfo } from '../../tracker/catalog.ts';
import type { AuthorizedRequest } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import type { Exchange } from '../http/respond.ts';
import { stallGuarded } from '../http/stall.ts';
import type { GatewayDeps } from './deps.ts';

/** The incarnation admission resolved and authorized for `name` (the request's bucket or its copy source). */
export function requireBucket(_deps: GatewayDeps, name: string, verified: AuthorizedRequest): BucketInfo {
  const { target, source } = verified.access;
  if (target?.bucket.name === name) return target.bucket;
  if (source?.bucket.name === name) return source.bucket;
  // A bucket the authorization step did not decide on: never used without a decision.
  throw new S3Error('AccessDenied');
}

export interface IncarnationCall<T> {
  /** The call may have written under the incarnation (then a dead one is purged again before answering). */
  readonly writes: boolean;
  /** Gives back what the call returned when the answer becomes NoSuchBucket (e.g. releases a read pin). */
  readonly discard?: (result: T) => void;
}

/**
 * Runs a storage call for an admitted incarnation. If the bucket was deleted meanwhile (and maybe recreated
 * under the same name), the answer is NoSuchBucket, whatever the call did; what it wrote lies under the dead
 * incarnation's id, which no request can reach any more, and is purged before the answer so nothing leaks.
 */
export async function inIncarnation<T>(
  deps: GatewayDeps,
  bucket: BucketInfo,
  opts: IncarnationCall<T>,
  call: () => Promise<T>,
): Promise<T> {
  // Every request passes here: the catalog answers synchronously unless a delete of the incarnation is
  // deciding, and only then is its verdict awaited.
  let value: T;
  try {
    value = await call();
  } catch (error) {
    if (deps.buckets.currentNow?.(bucket) ?? (await deps.buckets.isCurrent(bucket))) throw error;
    return lostIncarnation(deps, bucket, opts.writes);
  }
  if (deps.buckets.currentNow?.(bucket) ?? (await deps.buckets.isCurrent(bucket))) return value;
  opts.discard?.(value);
  return lostIncarnation(deps, bucket, opts.writes);
}

async function lostIncarnation(deps: GatewayDeps, bucket: BucketInfo, writes: boolean): Promise<never> {
  if (writes) await deps.storage.dropBucket(bucket.id);
  throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
}

/** After a read done outside `inIncarnation`: NoSuchBucket if the incarnation was deleted meanwhile. */
export async function confirmBucket(deps: GatewayDeps, bucket: BucketInfo): Promise<void> {
  if (!(deps.buckets.currentNow?.(bucket) ?? (await deps.buckets.isCurrent(bucket))))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
}

/**
 * Sets (`undefined`: removes) one of the bucket's settings; NoSuchBucket when the incarnation was deleted
 * meanwhile (nothing is written then).
 */
export async function putBucketSetting(
  deps: GatewayDeps,
  bucket: BucketInfo,
  kind: BucketConfigKind,
  value: unknown,
): Promise<void> {
  if (!(await deps.buckets.putBucketConfig(bucket, kind, value)))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
}

/** Answers `100 Continue` once the request is known to be acceptable, then hands out the body stream. */
export function acceptBody(ex: Exchange): AsyncIterable<Buffer> {
  ex.bodyTaken = true;
  if (/100-continue/i.test(String(ex.req.headers.expect ?? ''))) ex.res.writeContinue();
  return stallGuarded(ex.req, ex.bodyTimeoutMs);
}
