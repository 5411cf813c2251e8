// PutBucketCors, GetBucketCors, DeleteBucketCors: the catalog's 'cors' setting of the bucket. The preflight
// (OptionsObject) is answered here too, unauthenticated, from the same setting.
import { corsConfigurationXml, parseCorsConfiguration, readCorsConfig } from '../cors/config.ts';
import { preflightHeaders } from '../cors/cors.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { type Exchange, sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { putBucketSetting, requireBucket } from './access.ts';
import type { BucketDirectory, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** AWS's limit on a CORS configuration document. */
const MAX_CORS_XML_BYTES = 64 * 1024;

export const putBucketCors: Handler<Op<'PutBucketCors'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, MAX_CORS_XML_BYTES);
  const config = parseCorsConfiguration(body.toString('utf8'));
  await putBucketSetting(deps, bucket, 'cors', config);
  sendEmpty(ex, 200);
};

export const getBucketCors: Handler<Op<'GetBucketCors'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const config = readCorsConfig(deps.buckets.getBucketConfig(bucket, 'cors'));
  if (config === undefined)
    throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: op.bucket });
  sendXml(ex, 200, corsConfigurationXml(config));
};

export const deleteBucketCors: Handler<Op<'DeleteBucketCors'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'cors', undefined);
  sendEmpty(ex, 204);
};

/** A CORS preflight: no signature is asked for (browsers send none), only the bucket's CORS rules decide. */
export function answerPreflight(
  buckets: BucketDirectory,
  ex: Exchange,
  op: { bucket: string; key?: string },
): void {
  const headers = preflightHeaders(
    buckets,
    ex.req.headers,
    op.bucket,
    op.key === undefined ? 'BUCKET' : 'OBJECT',
  );
  sendEmpty(ex, 200, headers);
}
