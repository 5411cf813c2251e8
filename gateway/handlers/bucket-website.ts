// PutBucketWebsite, GetBucketWebsite, DeleteBucketWebsite: the catalog's 'website' setting of the bucket.
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { parseWebsiteConfiguration, readWebsiteConfig, websiteConfigurationXml } from '../website/config.ts';
import { putBucketSetting, requireBucket } from './access.ts';
import type { Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** Largest website configuration body we read (50 routing rules fit many times over). */
const MAX_WEBSITE_XML_BYTES = 128 * 1024;

export const putBucketWebsite: Handler<Op<'PutBucketWebsite'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, MAX_WEBSITE_XML_BYTES);
  const config = parseWebsiteConfiguration(body.toString('utf8'));
  await putBucketSetting(deps, bucket, 'website', config);
  sendEmpty(ex, 200);
};

export const getBucketWebsite: Handler<Op<'GetBucketWebsite'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const config = readWebsiteConfig(deps.buckets.getBucketConfig(bucket, 'website'));
  if (config === undefined) {
    throw new S3Error('NoSuchWebsiteConfiguration', undefined, { BucketName: op.bucket });
  }
  sendXml(ex, 200, websiteConfigurationXml(config));
};

export const deleteBucketWebsite: Handler<Op<'DeleteBucketWebsite'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'website', undefined);
  sendEmpty(ex, 204);
};
