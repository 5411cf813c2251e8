// Put/Get/DeleteBucketLifecycleConfiguration: the catalog's 'lifecycle' setting of the incarnation, parsed and
// validated by s3/lifecycle.ts. The storage node's lifecycle worker reads the same setting and executes it.

import type { ObjectRecord } from '../../storage/api.ts';
import type { BucketInfo } from '../../tracker/catalog.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { requireBodyDigest } from '../http/digests.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { expirationHeader, lifecycleXml, parseLifecycleXml, readLifecycle } from '../s3/lifecycle.ts';
import type { Operation } from '../s3/operation.ts';
import { putBucketSetting, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** 1,000 rules with their filters fit well inside this. */
const LIFECYCLE_BODY_MAX = 2 * 1024 * 1024;

export const getBucketLifecycleConfiguration: Handler<Op<'GetBucketLifecycleConfiguration'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const rules = readLifecycle(deps.buckets.getBucketConfig(bucket, 'lifecycle'));
  if (!rules) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: op.bucket });
  sendXml(ex, 200, lifecycleXml(rules));
};

export const putBucketLifecycleConfiguration: Handler<Op<'PutBucketLifecycleConfiguration'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  requireBodyDigest(ex.req.headers);
  const body = await readVerifiedSmallBody(deps, ex, verified, LIFECYCLE_BODY_MAX);
  const rules = parseLifecycleXml(body.toString('utf8'));
  await putBucketSetting(deps, bucket, 'lifecycle', rules);
  sendEmpty(ex, 200);
};

export const deleteBucketLifecycleConfiguration: Handler<Op<'DeleteBucketLifecycleConfiguration'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'lifecycle', undefined);
  sendEmpty(ex, 204);
};

/** `x-amz-expiration` for a current object of this bucket that a lifecycle rule will expire (else nothing). */
export function objectExpiration(
  deps: GatewayDeps,
  bucket: BucketInfo,
  record: ObjectRecord,
): Record<string, string> {
  // Expiration rules apply to current versions; a noncurrent one read by id goes by other rules.
  if (record.isLatest === false || record.deleteMarker) return {};
  const rules = readLifecycle(deps.buckets.getBucketConfig(bucket, 'lifecycle'));
  return expirationHeader(rules, record);
}
