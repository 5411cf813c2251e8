// Multipart uploads: create, upload part, complete, abort, list parts, list uploads.
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { checksumAlgorithm } from '../http/digests.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { storedHeadersFromRequest } from '../s3/headers.ts';
import { parseMaxKeys } from '../s3/listing.ts';
import type { Operation } from '../s3/operation.ts';
import { requestTags } from '../s3/tagging.ts';
import { validateKey } from '../s3/validate.ts';
import { versionIdHeader } from '../s3/version-id.ts';
import {
  completeMultipartUploadResultXml,
  initiateMultipartUploadResultXml,
  listMultipartUploadsResultXml,
  listPartsResultXml,
  parseCompleteMultipartUpload,
} from '../s3/xml.ts';
import { confirmBucket, inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { objectExpiration } from './lifecycle.ts';
import { parseEncodingType } from './list.ts';
import { checksumResponseHeaders } from './object-headers.ts';
import { newObjectAcl, openUpload } from './object-write.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const MAX_PARTS = 10000;

export const createMultipartUpload: Handler<Op<'CreateMultipartUpload'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const headers = storedHeadersFromRequest(ex.req.headers);
  const algorithm = checksumAlgorithm(ex.req.headers);
  const tags = requestTags(ex.req.headers);
  const acl = newObjectAcl(deps, ex, bucket, verified);
  const uploadId = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.createUpload(bucket.id, Buffer.from(op.key, 'utf8'), headers, deps.clock(), algorithm, {
      ...(tags?.length ? { tags } : {}),
      ...(acl ? { acl } : {}),
    }),
  );
  sendXml(ex, 200, initiateMultipartUploadResultXml({ bucket: op.bucket, key: op.key, uploadId }), {
    ...(algorithm ? { 'x-amz-checksum-algorithm': algorithm } : {}),
  });
};

export const uploadPart: Handler<Op<'UploadPart'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const upload = openUpload(deps, ex, verified, deps.limits.maxObjectBytes);
  const part = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.uploadPart({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      uploadId: op.uploadId,
      partNumber: op.partNumber,
      size: upload.size,
      body: upload.body,
      finish: upload.finish,
      nowMs: deps.clock(),
    }),
  );
  ex.bytesIn = upload.size;
  sendEmpty(ex, 200, {
    etag: `"${part.etag}"`,
    ...checksumResponseHeaders(part.checksums, upload.algorithm),
  });
};

export const completeMultipartUpload: Handler<Op<'CompleteMultipartUpload'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 4 * 1024 * 1024);
  const { parts } = parseCompleteMultipartUpload(body.toString('utf8'));
  if (parts.length === 0) throw new S3Error('MalformedXML');
  if (parts.length > MAX_PARTS)
    throw new S3Error('InvalidArgument', `Part count must not exceed ${MAX_PARTS}`);
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  }
  const versioning = versioningOf(deps, bucket);
  const record = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.completeUpload(
      bucket.id,
      Buffer.from(op.key, 'utf8'),
      op.uploadId,
      parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag.replace(/^"|"$/g, '') })),
      deps.clock(),
      versioning,
    ),
  );
  sendXml(
    ex,
    200,
    completeMultipartUploadResultXml({
      location: `/${op.bucket}/${op.key}`,
      bucket: op.bucket,
      key: op.key,
      etag: record.etag,
      checksums: record.checksums,
      ...(record.checksumType ? { checksumType: record.checksumType } : {}),
    }),
    { ...versionIdHeader(versioning, record), ...objectExpiration(deps, bucket, record) },
  );
};

export const abortMultipartUpload: Handler<Op<'AbortMultipartUpload'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.abortUpload(bucket.id, Buffer.from(op.key, 'utf8'), op.uploadId),
  );
  sendEmpty(ex, 204);
};

export const listParts: Handler<Op<'ListParts'>> = async ({ deps, ex, verified, target, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxParts = parseMaxKeys(q.get('max-parts'), 'max-parts');
  const markerRaw = q.get('part-number-marker') ?? '0';
  if (!/^\d+$/.test(markerRaw)) throw new S3Error('InvalidArgument', 'Part number marker must be an integer');
  const marker = Number(markerRaw);
  const result = await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.listParts(bucket.id, Buffer.from(op.key, 'utf8'), op.uploadId, {
      afterPart: marker,
      limit: maxParts,
    }),
  );
  const owner = { id: bucket.owner, displayName: bucket.owner };
  sendXml(
    ex,
    200,
    listPartsResultXml({
      bucket: op.bucket,
      key: op.key,
      uploadId: op.uploadId,
      partNumberMarker: marker,
      ...(result.isTruncated && result.parts.length > 0
        ? { nextPartNumberMarker: result.parts[result.parts.length - 1]!.partNumber }
        : {}),
      maxParts,
      isTruncated: result.isTruncated,
      initiator: owner,
      owner,
      ...(result.upload.checksumAlgorithm ? { checksumAlgorithm: result.upload.checksumAlgorithm } : {}),
      parts: result.parts.map((p) => ({
        partNumber: p.partNumber,
        lastModified: new Date(p.lastModifiedMs),
        etag: p.etag,
        size: p.size,
        checksums: p.checksums,
      })),
    }),
  );
};

export const listMultipartUploads: Handler<Op<'ListMultipartUploads'>> = async ({
  deps,
  ex,
  verified,
  target,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxUploads = parseMaxKeys(q.get('max-uploads'), 'max-uploads');
  const encodingType = parseEncodingType(q.get('encoding-type'));
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const prefixBytes = Buffer.from(prefix, 'utf8');
  const page = await collectUploads(
    (after, afterUploadId, limit) =>
      deps.storage.listUploads(bucket.id, {
        prefix: prefixBytes,
        ...(after ? { afterKey: after } : {}),
        ...(after && afterUploadId ? { afterUploadId } : {}),
        limit,
      }),
    {
      prefix: prefixBytes,
      ...(delimiter ? { delimiter: Buffer.from(delimiter, 'utf8') } : {}),
      ...(keyMarker ? { afterKey: resumeAfter(keyMarker, uploadIdMarker, delimiter) } : {}),
      ...(keyMarker && uploadIdMarker ? { afterUploadId: uploadIdMarker } : {}),
      max: maxUploads,
    },
  );
  await confirmBucket(deps, bucket);
  const { uploads, commonPrefixes, truncated } = page;
  const last = uploads[uploads.length - 1];
  const lastPrefix = commonPrefixes[commonPrefixes.length - 1];
  // The page ends with whichever came last in byte order: an upload, or a common prefix (then no upload id).
  const endsWithPrefix = lastPrefix !== undefined && (!last || Buffer.compare(lastPrefix, last.key) > 0);
  const next = !truncated
    ? {}
    : endsWithPrefix
      ? { nextKeyMarker: lastPrefix }
      : last
        ? { nextKeyMarker: last.key, nextUploadIdMarker: last.uploadId }
        : {};
  const owner = { id: bucket.owner, displayName: bucket.owner };
  sendXml(
    ex,
    200,
    listMultipartUploadsResultXml({
      bucket: op.bucket,
      keyMarker,
      uploadIdMarker,
      prefix,
      ...(delimiter ? { delimiter } : {}),
      maxUploads,
      ...(encodingType ? { encodingType } : {}),
      isTruncated: truncated,
      ...next,
      uploads: uploads.map((u) => ({
        key: u.key,
        uploadId: u.uploadId,
        initiated: new Date(u.initiatedMs),
        owner,
        initiator: owner,
      })),
      commonPrefixes,
    }),
  );
};

/** A key marker that is a common prefix (no upload id) resumes after everything under that prefix. */
function resumeAfter(keyMarker: string, uploadIdMarker: string, delimiter: string | undefined): Buffer {
  const marker = Buffer.from(keyMarker, 'utf8');
  if (uploadIdMarker === '' && delimiter && keyMarker.endsWith(delimiter)) {
    return Buffer.concat([marker, Buffer.from([0xff])]);
  }
  return marker;
}

type UploadRow = Awaited<ReturnType<GatewayDeps['storage']['listUploads']>>[number];

/**
 * Uploads in (key, upload id) order, rolled up into common prefixes at the delimiter. Common prefixes count
 * toward the maximum, and after one the source is asked to seek past it (a 0xFF byte never occurs in UTF-8).
 */
export async function collectUploads(
  source: (
    afterKey: Buffer | undefined,
    afterUploadId: string | undefined,
    limit: number,
  ) => Promise<UploadRow[]>,
  p: { prefix: Buffer; delimiter?: Buffer; afterKey?: Buffer; afterUploadId?: string; max: number },
): Promise<{ uploads: UploadRow[]; commonPrefixes: Buffer[]; truncated: boolean }> {
  const uploads: UploadRow[] = [];
  const commonPrefixes: Buffer[] = [];
  let afterKey = p.afterKey;
  let afterUploadId = p.afterUploadId;
  for (;;) {
    const batch = await source(afterKey, afterUploadId, p.max + 1);
    if (batch.length === 0) return { uploads, commonPrefixes, truncated: false };
    for (const row of batch) {
      const at = p.delimiter ? row.key.indexOf(p.delimiter, p.prefix.length) : -1;
      const rolled = at >= 0 ? row.key.subarray(0, at + p.delimiter!.length) : undefined;
      if (uploads.length + commonPrefixes.length >= p.max)
        return { uploads, commonPrefixes, truncated: true };
      if (rolled) {
        commonPrefixes.push(rolled);
        afterKey = Buffer.concat([rolled, Buffer.from([0xff])]);
        afterUploadId = undefined;
        break;
      }
      uploads.push(row);
      afterKey = row.key;
      afterUploadId = row.uploadId;
    }
  }
}
