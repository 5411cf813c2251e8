// Multipart uploads: create, upload part, complete, abort, list parts, list uploads.
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { checksumAlgorithm } from '../http/digests.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { storedHeadersFromRequest } from '../s3/headers.ts';
import { decodeContinuationToken, encodeContinuationToken } from '../s3/listing.ts';
import type { Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import {
  completeMultipartUploadResultXml,
  initiateMultipartUploadResultXml,
  listMultipartUploadsResultXml,
  listPartsResultXml,
  parseCompleteMultipartUpload,
} from '../s3/xml.ts';
import { requireBucket } from './access.ts';
import type { Handler } from './deps.ts';
import { parseEncodingType, parseMaxKeys } from './list.ts';
import { checksumResponseHeaders } from './object-headers.ts';
import { openUpload } from './object-write.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const MAX_PARTS = 10000;

export const createMultipartUpload: Handler<Op<'CreateMultipartUpload'>> = async ({ deps, ex, verified, op }) => {
  requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const headers = storedHeadersFromRequest(ex.req.headers);
  const algorithm = checksumAlgorithm(ex.req.headers);
  const uploadId = await deps.storage.createUpload(op.bucket, Buffer.from(op.key, 'utf8'), headers, deps.clock(), algorithm);
  sendXml(ex, 200, initiateMultipartUploadResultXml({ bucket: op.bucket, key: op.key, uploadId }), {
    ...(algorithm ? { 'x-amz-checksum-algorithm': algorithm } : {}),
  });
};

export const uploadPart: Handler<Op<'UploadPart'>> = async ({ deps, ex, verified, op }) => {
  requireBucket(deps, op.bucket, verified);
  const upload = openUpload(deps, ex, verified, deps.limits.maxObjectBytes);
  const part = await deps.storage.uploadPart({
    bucket: op.bucket,
    key: Buffer.from(op.key, 'utf8'),
    uploadId: op.uploadId,
    partNumber: op.partNumber,
    size: upload.size,
    body: upload.body,
    finish: upload.finish,
    nowMs: deps.clock(),
  });
  ex.bytesIn = upload.size;
  sendEmpty(ex, 200, { etag: `"${part.etag}"`, ...checksumResponseHeaders(part.checksums, upload.algorithm) });
};

export const completeMultipartUpload: Handler<Op<'CompleteMultipartUpload'>> = async ({ deps, ex, verified, op }) => {
  requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 4 * 1024 * 1024);
  const { parts } = parseCompleteMultipartUpload(body.toString('utf8'));
  if (parts.length === 0) throw new S3Error('MalformedXML');
  if (parts.length > MAX_PARTS) throw new S3Error('InvalidArgument', `Part count must not exceed ${MAX_PARTS}`);
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
  }
  const record = await deps.storage.completeUpload(
    op.bucket,
    Buffer.from(op.key, 'utf8'),
    op.uploadId,
    parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag.replace(/^"|"$/g, '') })),
    deps.clock(),
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
  );
};

export const abortMultipartUpload: Handler<Op<'AbortMultipartUpload'>> = async ({ deps, ex, verified, op }) => {
  requireBucket(deps, op.bucket, verified);
  await deps.storage.abortUpload(op.bucket, Buffer.from(op.key, 'utf8'), op.uploadId);
  sendEmpty(ex, 204);
};

export const listParts: Handler<Op<'ListParts'>> = async ({ deps, ex, verified, target, op }) => {
  requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxParts = parseMaxKeys(q.get('max-parts'));
  const markerRaw = q.get('part-number-marker') ?? '0';
  if (!/^\d+$/.test(markerRaw)) throw new S3Error('InvalidArgument', 'Part number marker must be an integer');
  const marker = Number(markerRaw);
  const result = await deps.storage.listParts(op.bucket, Buffer.from(op.key, 'utf8'), op.uploadId, {
    afterPart: marker,
    limit: maxParts,
  });
  const owner = { id: verified.accessKeyId, displayName: verified.accessKeyId };
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

export const listMultipartUploads: Handler<Op<'ListMultipartUploads'>> = async ({ deps, ex, verified, target, op }) => {
  requireBucket(deps, op.bucket, verified);
  const q = target.query;
  const maxUploads = parseMaxKeys(q.get('max-uploads'));
  const encodingType = parseEncodingType(q.get('encoding-type'));
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  // Fetch one more than asked to know whether the listing is truncated.
  const rows = await deps.storage.listUploads(op.bucket, {
    prefix: Buffer.from(prefix, 'utf8'),
    ...(keyMarker ? { afterKey: Buffer.from(keyMarker, 'utf8') } : {}),
    ...(keyMarker && uploadIdMarker ? { afterUploadId: uploadIdMarker } : {}),
    limit: maxUploads + 1,
  });
  const uploads: typeof rows = [];
  const commonPrefixes: Buffer[] = [];
  const delimiterBytes = delimiter ? Buffer.from(delimiter, 'utf8') : undefined;
  const prefixBytes = Buffer.from(prefix, 'utf8');
  let truncated = false;
  for (const row of rows) {
    if (uploads.length + commonPrefixes.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (delimiterBytes) {
      const at = row.key.indexOf(delimiterBytes, prefixBytes.length);
      if (at >= 0) {
        const cp = row.key.subarray(0, at + delimiterBytes.length);
        const last = commonPrefixes[commonPrefixes.length - 1];
        if (!last || !last.equals(cp)) commonPrefixes.push(cp);
        continue;
      }
    }
    uploads.push(row);
  }
  const last = uploads[uploads.length - 1];
  const owner = { id: verified.accessKeyId, displayName: verified.accessKeyId };
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
      ...(truncated && last ? { nextKeyMarker: last.key, nextUploadIdMarker: last.uploadId } : {}),
      uploads: uploads.map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: new Date(u.initiatedMs), owner, initiator: owner })),
      commonPrefixes,
    }),
  );
};

