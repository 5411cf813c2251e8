// Bucket versioning: Put/GetBucketVersioning and ListObjectVersions. The state is the bucket setting
// 'versioning' in the tracker catalog ({status}, validated here); storage learns it with every write
// (`versioningOf`), never reads it itself. Once enabled a bucket never goes back to unversioned (AWS).
import { z } from 'zod';
import type { VersioningMode } from '../../storage/api.ts';
import type { BucketRef } from '../../tracker/catalog.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { parseMaxKeys } from '../s3/listing.ts';
import type { Operation } from '../s3/operation.ts';
import { malformedVersionId } from '../s3/version-id.ts';
import { listVersionsPage } from '../s3/version-listing.ts';
import {
  listVersionsResultXml,
  parseVersioningConfiguration,
  versioningConfigurationXml,
} from '../s3/xml.ts';
import { inIncarnation, putBucketSetting, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { parseEncodingType } from './list.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const VersioningSetting = z.object({ status: z.enum(['Enabled', 'Suspended']) });
type VersioningSetting = z.infer<typeof VersioningSetting>;

/** The bucket's versioning state as storage takes it. */
export function versioningOf(deps: GatewayDeps, bucket: BucketRef): VersioningMode {
  return versioningFromSetting(deps.buckets.getBucketConfig(bucket, 'versioning'));
}

/** The catalog's 'versioning' setting as storage takes it (also for the storage node's lifecycle worker). */
export function versioningFromSetting(raw: unknown): VersioningMode {
  if (raw === undefined) return 'unversioned';
  const parsed = VersioningSetting.safeParse(raw);
  // A setting this code did not write: the bucket had versioning, so never treat it as unversioned.
  if (!parsed.success) return 'suspended';
  return parsed.data.status === 'Enabled' ? 'enabled' : 'suspended';
}

export const getBucketVersioning: Handler<Op<'GetBucketVersioning'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const mode = versioningOf(deps, bucket);
  sendXml(
    ex,
    200,
    versioningConfigurationXml(
      mode === 'unversioned' ? undefined : mode === 'enabled' ? 'Enabled' : 'Suspended',
    ),
  );
};

export const putBucketVersioning: Handler<Op<'PutBucketVersioning'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 64 * 1024);
  const config = parseVersioningConfiguration(body.toString('utf8'));
  if (config.mfaDelete === 'Enabled')
    throw new S3Error('NotImplemented', 'MFA Delete is not supported by Quire', { Header: 'MfaDelete' });
  if (config.status === 'Suspended' && deps.buckets.getBucketConfig(bucket, 'object-lock') !== undefined) {
    throw new S3Error(
      'InvalidBucketState',
      'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
    );
  }
  const value: VersioningSetting = { status: config.status };
  await putBucketSetting(deps, bucket, 'versioning', value);
  sendEmpty(ex, 200);
};

export const listObjectVersions: Handler<Op<'ListObjectVersions'>> = async ({
  deps,
  ex,
  verified,
  target,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const encodingType = parseEncodingType(q.get('encoding-type'));
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const keyMarker = q.get('key-marker') ?? '';
  const versionIdMarker = q.get('version-id-marker') ?? '';
  if (versionIdMarker !== '') {
    if (keyMarker === '') {
      throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', {
        ArgumentName: 'version-id-marker',
        ArgumentValue: versionIdMarker,
      });
    }
    const bad = malformedVersionId(versionIdMarker, 'version-id-marker');
    if (bad) throw bad;
  }
  const page = await inIncarnation(deps, bucket, { writes: false }, () =>
    listVersionsPage(
      (cursor, p, limit) => deps.storage.listObjectVersions(bucket.id, { prefix: p, ...cursor, limit }),
      {
        prefix: Buffer.from(prefix, 'utf8'),
        ...(delimiter ? { delimiter: Buffer.from(delimiter, 'utf8') } : {}),
        ...(keyMarker ? { keyMarker: Buffer.from(keyMarker, 'utf8') } : {}),
        ...(versionIdMarker ? { versionIdMarker } : {}),
        maxKeys,
      },
    ),
  );
  // Quire has one account per access key: a version's owner is its bucket's.
  const owner = { id: bucket.owner, displayName: bucket.owner };
  sendXml(
    ex,
    200,
    listVersionsResultXml({
      bucket: op.bucket,
      prefix,
      keyMarker,
      versionIdMarker,
      ...(page.nextKeyMarker ? { nextKeyMarker: page.nextKeyMarker } : {}),
      ...(page.nextVersionIdMarker ? { nextVersionIdMarker: page.nextVersionIdMarker } : {}),
      ...(delimiter ? { delimiter } : {}),
      maxKeys,
      ...(encodingType ? { encodingType } : {}),
      isTruncated: page.isTruncated,
      versions: page.versions.map((v) => ({
        key: v.key,
        versionId: v.versionId,
        isLatest: v.isLatest,
        deleteMarker: v.deleteMarker,
        lastModified: new Date(v.lastModifiedMs),
        etag: v.etag,
        size: v.size,
        owner,
      })),
      commonPrefixes: page.commonPrefixes,
    }),
  );
};
