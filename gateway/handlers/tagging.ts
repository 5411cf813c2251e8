// Put/Get/DeleteBucketTagging and Put/Get/DeleteObjectTagging. Parsing and AWS's limits live in s3/tagging.ts;
// bucket tags are the catalog's 'tagging' setting of the incarnation.

import { StorageError } from '../../storage/errors.ts';
import { absentObjectError, requireObjectGrant } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { requireBodyDigest } from '../http/digests.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { parseTaggingXml, readBucketTags, type Tag, taggingXml } from '../s3/tagging.ts';
import { deleteMarkerError, notFound, requestedVersionId, versionIdHeader } from '../s3/version-id.ts';
import { inIncarnation, putBucketSetting, requireBucket } from './access.ts';
import type { Handler, HandlerInput } from './deps.ts';
import { versioningOf } from './versioning.ts';

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
  requireBodyDigest(ex.req.headers);
  const body = await readVerifiedSmallBody(deps, ex, verified, TAGGING_BODY_MAX);
  const tags = parseTaggingXml(body.toString('utf8'), 'bucket');
  // An empty TagSet leaves the bucket without tags, as AWS does.
  await putBucketSetting(deps, bucket, 'tagging', tags.length > 0 ? tags : undefined);
  sendEmpty(ex, 204);
};

export const deleteBucketTagging: Handler<Op<'DeleteBucketTagging'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'tagging', undefined);
  sendEmpty(ex, 204);
};

/** The version a tagging call names (`versionId`), checked; absent: the current one. */
function versionOf(query: ReadonlyMap<string, string>): { versionId?: string } {
  const versionId = requestedVersionId(query);
  return versionId === undefined ? {} : { versionId };
}

export const getObjectTagging: Handler<Op<'GetObjectTagging'>> = async ({
  deps,
  ex,
  verified,
  target,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const which = versionOf(target.query);
  const record = await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.headObject(bucket.id, Buffer.from(op.key, 'utf8'), which),
  );
  const admitted = verified.access.target;
  if (!record) throw absentObjectError(deps, admitted, notFound(op.key, which.versionId));
  requireObjectGrant(deps, admitted, undefined);
  if (record.deleteMarker) throw deleteMarkerError(op.key, record, which.versionId !== undefined, 'GET');
  sendXml(ex, 200, taggingXml(record.tags ?? []), versionIdHeader(versioningOf(deps, bucket), record));
};

/** Replaces the version's whole tag set (storage keeps its data and version id; a new opver orders it). */
async function setObjectTags(
  { deps, verified, target, op }: HandlerInput<Op<'PutObjectTagging'> | Op<'DeleteObjectTagging'>>,
  tags: () => Promise<Tag[]>,
): Promise<Record<string, string>> {
  const bucket = requireBucket(deps, op.bucket, verified);
  const which = versionOf(target.query);
  const list = await tags();
  const record = await inIncarnation(deps, bucket, { writes: true }, async () => {
    try {
      return await deps.storage.updateObjectAttributes({
        bucket: bucket.id,
        key: Buffer.from(op.key, 'utf8'),
        ...which,
        update: { tags: list },
        nowMs: deps.clock(),
      });
    } catch (err) {
      if (err instanceof StorageError && (err.code === 'NoSuchKey' || err.code === 'NoSuchVersion'))
        throw absentObjectError(deps, verified.access.target, notFound(op.key, which.versionId));
      if (err instanceof StorageError && err.code === 'MethodNotAllowed')
        throw new S3Error('MethodNotAllowed', undefined, { Method: 'PUT', ResourceType: 'DeleteMarker' });
      throw err;
    }
  });
  return versionIdHeader(versioningOf(deps, bucket), record);
}

export const putObjectTagging: Handler<Op<'PutObjectTagging'>> = async (input) => {
  const headers = await setObjectTags(input, async () => {
    const body = await readVerifiedSmallBody(input.deps, input.ex, input.verified, TAGGING_BODY_MAX);
    return parseTaggingXml(body.toString('utf8'), 'object');
  });
  sendEmpty(input.ex, 200, headers);
};

export const deleteObjectTagging: Handler<Op<'DeleteObjectTagging'>> = async (input) => {
  const headers = await setObjectTags(input, async () => []);
  sendEmpty(input.ex, 204, headers);
};
