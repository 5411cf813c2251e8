// CopyObject and UploadPartCopy: server-side copies; the source is read by storage, never via the gateway.
import type { IncomingMessage } from 'node:http';
import type { ObjectRecord } from '../../storage/api.ts';
import type { BucketInfo } from '../../tracker/catalog.ts';
import type { VerifiedRequest } from '../auth/types.ts';
import { S3Error } from '../errors.ts';
import { sendXml } from '../http/respond.ts';
import { copySourceConditionError, parseWriteCondition } from '../s3/conditionals.ts';
import { type CopySource, parseCopySource } from '../s3/copy-source.ts';
import { storedHeadersFromRequest } from '../s3/headers.ts';
import type { Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { versionIdError } from '../s3/version-id.ts';
import { copyObjectResultXml, copyPartResultXml } from '../s3/xml.ts';
import { acceptBody, inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** Looks the source up and applies the x-amz-copy-source-if-* conditions (412 when one fails). */
async function checkedSource(
  deps: GatewayDeps,
  req: IncomingMessage,
  verified: VerifiedRequest,
): Promise<{ src: CopySource; srcBucket: BucketInfo; record: ObjectRecord }> {
  const header = req.headers['x-amz-copy-source'];
  if (typeof header !== 'string' || header === '') {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  const src = parseCopySource(header);
  const srcBucket = requireBucket(deps, src.bucket, verified);
  const versionError = versionIdError(src.versionId, src.key, 'x-amz-copy-source');
  if (versionError) throw versionError;
  const record = await inIncarnation(deps, srcBucket, { writes: false }, () =>
    deps.storage.headObject(srcBucket.id, Buffer.from(src.key, 'utf8')),
  );
  if (!record) throw new S3Error('NoSuchKey', undefined, { Key: src.key });
  const failed = copySourceConditionError(req.headers, {
    etag: record.etag,
    lastModifiedMs: record.lastModifiedMs,
  });
  if (failed) throw failed;
  return { src, srcBucket, record };
}

export const copyObject: Handler<Op<'CopyObject'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const { src, srcBucket, record: checked } = await checkedSource(deps, ex.req, verified);
  const directive = String(ex.req.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
      ArgumentValue: directive,
    });
  }
  if (src.bucket === op.bucket && src.key === op.key && directive === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  acceptBody(ex);
  const condition = parseWriteCondition(ex.req.headers);
  const record = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.copyObject(
      // The version whose conditions were checked, or 412: never a later one that did not pass them.
      { bucket: srcBucket.id, key: Buffer.from(src.key, 'utf8'), etag: checked.etag },
      {
        bucket: bucket.id,
        key: Buffer.from(op.key, 'utf8'),
        nowMs: deps.clock(),
        ...(directive === 'REPLACE' ? { headers: storedHeadersFromRequest(ex.req.headers) } : {}),
        ...(condition ? { condition } : {}),
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
  const { src, srcBucket, record } = await checkedSource(deps, ex.req, verified);
  const range = parseCopyRange(ex.req.headers['x-amz-copy-source-range'], record.size);
  acceptBody(ex);
  const part = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.uploadPartCopy({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      uploadId: op.uploadId,
      partNumber: op.partNumber,
      // The version the conditions and the range were checked against, or 412.
      src: {
        bucket: srcBucket.id,
        key: Buffer.from(src.key, 'utf8'),
        etag: record.etag,
        ...(range ? { range } : {}),
      },
      nowMs: deps.clock(),
    }),
  );
  sendXml(
    ex,
    200,
    copyPartResultXml({ etag: part.etag, lastModified: new Date(deps.clock()), checksums: part.checksums }),
  );
};
