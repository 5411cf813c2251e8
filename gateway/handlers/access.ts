// Bucket existence and ownership: each access key owns the buckets it creates (policies and ACLs come later).
import type { BucketInfo } from '../../tracker/catalog.ts';
import type { VerifiedRequest } from '../auth/types.ts';
import { S3Error } from '../errors.ts';
import type { Exchange } from '../http/respond.ts';
import { stallGuarded } from '../http/stall.ts';
import type { GatewayDeps } from './deps.ts';

export function requireBucket(deps: GatewayDeps, name: string, verified: VerifiedRequest): BucketInfo {
  const bucket = deps.buckets.getBucket(name);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  if (bucket.owner !== verified.accessKeyId) throw new S3Error('AccessDenied');
  return bucket;
}

/** Answers `100 Continue` once the request is known to be acceptable, then hands out the body stream. */
export function acceptBody(ex: Exchange): AsyncIterable<Buffer> {
  ex.bodyTaken = true;
  if (/100-continue/i.test(String(ex.req.headers.expect ?? ''))) ex.res.writeContinue();
  return stallGuarded(ex.req, ex.bodyTimeoutMs);
}
