// CopyObject and UploadPartCopy: server-side copies; the source is read by storage, never via the gateway.
import type { IncomingMessage } from 'node:http';
import type { ObjectRecord } from '../../storage/api.ts';
import type { BucketInfo } from '../../tracker/catalog.ts';
import { type AuthorizedRequest, absentObjectError, requireObjectGrant } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { sendXml } from '../http/respond.ts';
import { copySourceConditionError, parseWriteCondition } from '../s3/conditionals.ts';
import type { CopySource } from '../s3/copy-source.ts';
import { storedHeadersFromRequest, websiteRedirectFromRequest } from '../s3/headers.ts';
import type { Operation } from '../s3/operation.ts';
import { copyTags } from '../s3/tagging.ts';
import { validateKey } from '../s3/validate.ts';
import { deleteMarkerError, malformedVersionId, notFound, versionIdHeader } from '../s3/version-id.ts';
import { copyObjectResultXml, copyPartResultXml } from '../s3/xml.ts';
import { acceptBody, inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { newObjectAcl } from './object-write.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** Looks the source up and applies the x-amz-copy-source-if-* conditions (412 when one fails). */
async function checkedSource(
  deps: GatewayDeps,
  req: IncomingMessage,
  verified: AuthorizedRequest,
): Promise<{
  src: CopySource;
  srcBucket: BucketInfo;
  record: ObjectRecord;
  pinEtag?: string;
  /** What storage reads: the version named, or the current one (pinned to `pinEtag` if conditional). */
  source: { bucket: string; key: Buffer; etag?: string; versionId?: string };
  /** x-amz-copy-source-version-id when the source bucket has versioning. */
  sourceHeaders: Record<string, string>;
}> {
  // Admission parsed the source and decided on reading it (gateway/authz/admission.ts).
  const admitted = verified.access.source;
  if (admitted === undefined) throw new S3Error('AccessDenied');
  const src = admitted.copySource;
  const srcBucket = requireBucket(deps, src.bucket, verified);
  const versionError = malformedVersionId(src.versionId, 'x-amz-copy-source');
  if (versionError) throw versionError;
  const which = src.versionId === undefined ? {} : { versionId: src.versionId };
  const record = await inIncarnation(deps, srcBucket, { writes: false }, () =>
    deps.storage.headObject(srcBucket.id, Buffer.from(src.key, 'utf8'), which),
  );
  if (!record) throw absentObjectError(deps, admitted, notFound(src.key, src.versionId));
  requireObjectGrant(deps, admitted, record.acl);
  if (record.deleteMarker) {
    // AWS: a current delete marker is NoSuchKey; one named by id cannot be copied (400 InvalidRequest).
    if (src.versionId === undefined) throw deleteMarkerError(src.key, record, false);
    throw new S3Error(
      'InvalidRequest',
      'The source of a copy request may not specifically refer to a delete marker by version id.',
    );
  }
  const failed = copySourceConditionError(req.headers, {
    etag: record.etag,
    lastModifiedMs: record.lastModifiedMs,
  });
  if (failed) throw failed;
  // With conditions, storage copies only the version they passed on (412 if it changed meanwhile);
  // without, whatever version is current when storage opens it.
  // So does a copy allowed by the source's own ACL: only the version whose ACL was checked.
  const conditional =
    COPY_SOURCE_CONDITIONS.some((h) => req.headers[h] !== undefined) || admitted.verdict !== 'allow';
  const pinEtag = conditional ? record.etag : undefined;
  const srcMode = versioningOf(deps, srcBucket);
  return {
    src,
    srcBucket,
    record,
    ...(pinEtag ? { pinEtag } : {}),
    source: {
      bucket: srcBucket.id,
      key: Buffer.from(src.key, 'utf8'),
      ...(pinEtag ? { etag: pinEtag } : {}),
      ...which,
    },
    sourceHeaders:
      srcMode === 'unversioned' && src.versionId === undefined
        ? {}
        : { 'x-amz-copy-source-version-id': record.versionId },
  };
}

const COPY_SOURCE_CONDITIONS = [
  'x-amz-copy-source-if-match',
  'x-amz-copy-source-if-none-match',
  'x-amz-copy-source-if-modified-since',
  'x-amz-copy-source-if-unmodified-since',
];

export const copyObject: Handler<Op<'CopyObject'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const { src, source, sourceHeaders } = await checkedSource(deps, ex.req, verified);
  const directive = String(ex.req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
      ArgumentValue: directive,
    });
  }
  const redirect = directive === 'COPY' ? websiteRedirectFromRequest(ex.req.headers) : undefined;
  if (
    src.bucket === op.bucket &&
    src.key === op.key &&
    src.versionId === undefined &&
    directive === 'COPY' &&
    redirect === undefined
  ) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const acl = newObjectAcl(deps, ex, bucket, verified);
  const tags = copyTags(ex.req.headers);
  acceptBody(ex);
  const condition = parseWriteCondition(ex.req.headers);
  const versioning = versioningOf(deps, bucket);
  const record = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.copyObject(
      // The version whose conditions were checked, or 412: never a later one that did not pass them.
      source,
      {
        bucket: bucket.id,
        key: Buffer.from(op.key, 'utf8'),
        nowMs: deps.clock(),
        versioning,
        ...(acl ? { acl } : {}),
        ...(directive === 'REPLACE' ? { headers: storedHeadersFromRequest(ex.req.headers) } : {}),
        ...(redirect !== undefined ? { websiteRedirectLocation: redirect } : {}),
        ...(condition ? { condition } : {}),
        ...(tags ? { tags } : {}),
      },
    ),
  );
  sendXml(
    ex,
    200,
    copyObjectResultXml({
      etag: record.etag,
      lastModified: new Date(record.lastModifiedMs),
      checksums: record.checksums,
    }),
    { ...sourceHeaders, ...versionIdHeader(versioning, record) },
  );
};

/** `bytes=first-last` within the source, as UploadPartCopy requires. */
function parseCopyRange(
  value: string | string[] | undefined,
  size: number,
): { start: number; end: number } | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(raw.trim());
  if (!m)
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: raw },
    );
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start > end || end >= size)
    throw new S3Error('InvalidRange', undefined, { RangeRequested: raw, ActualObjectSize: String(size) });
  return { start, end };
}

export const uploadPartCopy: Handler<Op<'UploadPartCopy'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const { record, source, sourceHeaders } = await checkedSource(deps, ex.req, verified);
  const range = parseCopyRange(ex.req.headers['x-amz-copy-source-range'], record.size);
  acceptBody(ex);
  const part = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.uploadPartCopy({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      uploadId: op.uploadId,
      partNumber: op.partNumber,
      // With conditions, the version they were checked against, or 412. (A range checked against a
      // version that changed meanwhile is checked again by storage: InvalidRange if it no longer fits.)
      src: { ...source, ...(range ? { range } : {}) },
      nowMs: deps.clock(),
    }),
  );
  sendXml(
    ex,
    200,
    copyPartResultXml({ etag: part.etag, lastModified: new Date(deps.clock()), checksums: part.checksums }),
    sourceHeaders,
  );
};
