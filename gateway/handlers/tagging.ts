// Put/Get/DeleteBucketTagging and Put/Get/DeleteObjectTagging. Parsing and AWS's limits live in s3/tagging.ts;
// bucket tags are the catalog's 'tagging' setting of the incarnation.
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { parseTaggingXml, readBucketTags, taggingXml } from '../s3/tagging.ts';
import { requireBucket } from './access.ts';
import type { Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** Tagging documents are small: 50 tags of at most 128 + 256 characters, with their markup. */
export const TAGGING_BODY_MAX = 64 * 1024;

export const getBucketTagging: Handler<Op<'GetBucketTagging'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const tags = readBucketTags(deps.buckets.getBucketConfig(bucket, 'tagging'));
  if (!tags || tags.length === 0) throw new S3Error('NoSuchTagSet', undefined, { BucketName: op.bucket });
  sendXml(ex, 200, taggingXml(tags));
};

export const putBucketTagging: Handler<Op<'PutBucketTagging'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, TAGGING_BODY_MAX);
  const tags = parseTaggingXml(body.toString('utf8'), 'bucket');
  // An empty TagSet leaves the bucket without tags, as AWS does.
  const stored = await deps.buckets.putBucketConfig(bucket, 'tagging', tags.length > 0 ? tags : undefined);
  if (!stored) throw new S3Error('NoSuchBucket', undefined, { BucketName: op.bucket });
  sendEmpty(ex, 204);
};

export const deleteBucketTagging: Handler<Op<'DeleteBucketTagging'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  if (!(await deps.buckets.putBucketConfig(bucket, 'tagging', undefined)))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: op.bucket });
  sendEmpty(ex, 204);
};

// Object tags are kept with each object version by the storage node; until that lands these stay 501, as before.
const objectTagsPending = async ({ op }: { op: Operation }) => {
  throw new S3Error('NotImplemented', `${op.op} is not implemented by Quire yet`);
};
export const getObjectTagging: Handler<Op<'GetObjectTagging'>> = objectTagsPending;
export const putObjectTagging: Handler<Op<'PutObjectTagging'>> = objectTagsPending;
export const deleteObjectTagging: Handler<Op<'DeleteObjectTagging'>> = objectTagsPending;
