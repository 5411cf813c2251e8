// ListObjectsV2 and ListObjects (v1): the shared list algorithm over the node's byte-ordered index.
import type { ListedObject } from '../../storage/api.ts';
import { S3Error } from '../errors.ts';
import { sendXml } from '../http/respond.ts';
import { decodeContinuationToken, encodeContinuationToken, listPage, parseMaxKeys } from '../s3/listing.ts';
import type { Operation } from '../s3/operation.ts';
import { listObjectsV1Xml, listObjectsV2Xml } from '../s3/xml.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

export function parseEncodingType(raw: string | undefined): 'url' | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.toLowerCase() !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: raw,
    });
  }
  return 'url';
}

function keySource(deps: GatewayDeps, bucket: string) {
  return async (after: Buffer | undefined, prefix: Buffer, limit: number) => {
    const rows = await deps.storage.listObjects(bucket, { prefix, ...(after ? { after } : {}), limit });
    return rows.map((row: ListedObject) => ({ key: row.key, value: row }));
  };
}

const utf8 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'utf8'));

export const listObjectsV2: Handler<Op<'ListObjectsV2'>> = async ({ deps, ex, verified, target, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const encodingType = parseEncodingType(q.get('encoding-type'));
  const token = q.get('continuation-token');
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const startAfter = q.get('start-after') || undefined;
  const after = token !== undefined ? decodeContinuationToken(token) : utf8(startAfter);
  const page = await inIncarnation(deps, bucket, { writes: false }, () =>
    listPage(keySource(deps, bucket.id), {
      prefix: Buffer.from(prefix, 'utf8'),
      ...(delimiter ? { delimiter: Buffer.from(delimiter, 'utf8') } : {}),
      ...(after ? { startAfter: after } : {}),
      maxKeys,
    }),
  );
  const owner =
    q.has('fetch-owner') && q.get('fetch-owner') === 'true'
      ? { id: bucket.owner, displayName: bucket.owner }
      : undefined;
  sendXml(
    ex,
    200,
    listObjectsV2Xml({
      bucket: op.bucket,
      prefix,
      ...(delimiter ? { delimiter } : {}),
      maxKeys,
      ...(encodingType ? { encodingType } : {}),
      ...(token !== undefined ? { continuationToken: token } : {}),
      ...(startAfter ? { startAfter } : {}),
      isTruncated: page.isTruncated,
      ...(page.isTruncated && page.nextAfter
        ? { nextContinuationToken: encodeContinuationToken(page.nextAfter) }
        : {}),
      contents: page.contents.map(({ value }) => ({
        key: value.key,
        lastModified: new Date(value.lastModifiedMs),
        etag: value.etag,
        size: value.size,
        ...(owner ? { owner } : {}),
      })),
      commonPrefixes: page.commonPrefixes,
    }),
  );
};

export const listObjectsV1: Handler<Op<'ListObjects'>> = async ({ deps, ex, verified, target, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const encodingType = parseEncodingType(q.get('encoding-type'));
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const marker = q.get('marker') ?? '';
  const page = await inIncarnation(deps, bucket, { writes: false }, () =>
    listPage(keySource(deps, bucket.id), {
      prefix: Buffer.from(prefix, 'utf8'),
      ...(delimiter ? { delimiter: Buffer.from(delimiter, 'utf8') } : {}),
      ...(marker ? { startAfter: Buffer.from(marker, 'utf8') } : {}),
      maxKeys,
    }),
  );
  const owner = { id: bucket.owner, displayName: bucket.owner };
  sendXml(
    ex,
    200,
    listObjectsV1Xml({
      bucket: op.bucket,
      prefix,
      marker,
      ...(delimiter ? { delimiter } : {}),
      maxKeys,
      ...(encodingType ? { encodingType } : {}),
      isTruncated: page.isTruncated,
      // AWS gives NextMarker only when a delimiter is used; clients use the last key otherwise.
      ...(page.isTruncated && delimiter && page.nextAfter ? { nextMarker: page.nextAfter } : {}),
      contents: page.contents.map(({ value }) => ({
        key: value.key,
        lastModified: new Date(value.lastModifiedMs),
        etag: value.etag,
        size: value.size,
        owner,
      })),
      commonPrefixes: page.commonPrefixes,
    }),
  );
};
