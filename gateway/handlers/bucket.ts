// Bucket operations: list, create, head, delete, location (versioning: versioning.ts).

import { requirePrincipal } from '../authz/authorize.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { validateBucketName } from '../s3/validate.ts';
import { listAllMyBucketsXml, locationConstraintXml, parseCreateBucketConfiguration } from '../s3/xml.ts';
import { requireBucket } from './access.ts';
import { creationSettings } from './bucket-access.ts';
import type { Handler } from './deps.ts';
import { lockAtCreate } from './object-lock.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

export const listBuckets: Handler<Op<'ListBuckets'>> = async ({ deps, ex, verified }) => {
  const principal = requirePrincipal(verified.accessKeyId);
  const buckets = deps.buckets.listBuckets(principal);
  sendXml(
    ex,
    200,
    listAllMyBucketsXml({
      owner: { id: principal, displayName: principal },
      buckets: buckets.map((b) => ({ name: b.name, creationDate: new Date(b.createdMs), region: b.region })),
    }),
  );
};

export const createBucket: Handler<Op<'CreateBucket'>> = async ({ deps, ex, verified, op }) => {
  validateBucketName(op.bucket);
  const body = await readVerifiedSmallBody(deps, ex, verified, 64 * 1024);
  if (body.length > 0) {
    const constraint = parseCreateBucketConfiguration(body.toString('utf8'));
    const wanted = constraint.locationConstraint || 'us-east-1';
    if (wanted !== deps.region) {
      throw new S3Error(
        'IllegalLocationConstraintException',
        `The ${wanted} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      );
    }
  }
  const owner = requirePrincipal(verified.accessKeyId);
  const outcome = await deps.buckets.createBucket(
    { name: op.bucket, owner, createdMs: deps.clock(), region: deps.region },
    { ...creationSettings(deps, ex.req.headers, owner), ...lockAtCreate(ex.req.headers) },
  );
  if (outcome === 'owned-by-other')
    throw new S3Error('BucketAlreadyExists', undefined, { BucketName: op.bucket });
  // AWS's us-east-1 answers a repeated create with 200 for legacy reasons; every other region, and Quire, tells
  // the owner plainly that the bucket exists.
  if (outcome === 'owned-by-you') {
    throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: op.bucket });
  }
  sendEmpty(ex, 200, { location: `/${op.bucket}` });
};

export const headBucket: Handler<Op<'HeadBucket'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  sendEmpty(ex, 200, { 'x-amz-bucket-region': bucket.region });
};

export const deleteBucket: Handler<Op<'DeleteBucket'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  // As AWS: objects and in-progress multipart uploads both keep a bucket from being deleted.
  const isEmpty = async () =>
    !(await deps.storage.hasObjects(bucket.id)) &&
    (await deps.storage.listUploads(bucket.id, { prefix: Buffer.alloc(0), limit: 1 })).length === 0;
  const outcome = await deps.buckets.deleteBucket(bucket, isEmpty);
  if (outcome === 'not-empty') throw new S3Error('BucketNotEmpty', undefined, { BucketName: op.bucket });
  if (outcome === 'no-such-bucket') throw new S3Error('NoSuchBucket', undefined, { BucketName: op.bucket });
  // Normally nothing: only requests admitted before the delete can still have written under this id.
  // If this fails, the tombstone makes the next start purge it.
  try {
    await deps.storage.dropBucket(bucket.id);
  } catch (err) {
    deps.logger.warn({ err, bucket: op.bucket, bucketId: bucket.id }, 'purging a deleted bucket failed');
  }
  sendEmpty(ex, 204);
};

export const getBucketLocation: Handler<Op<'GetBucketLocation'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  // AWS reports us-east-1 as an empty LocationConstraint.
  sendXml(ex, 200, locationConstraintXml(bucket.region === 'us-east-1' ? '' : bucket.region));
};
