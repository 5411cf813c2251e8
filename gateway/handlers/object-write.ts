// PutObject: authenticate → check bucket → 100 Continue → stream the verified body into storage.
import type { BucketInfo } from '../../tracker/catalog.ts';
import { decodeBody } from '../auth/body.ts';
import type { ChecksumAlgorithm, VerifiedRequest } from '../auth/types.ts';
import { aclForNewObject } from '../authz/object-acl.ts';
import { S3Error } from '../errors.ts';
import { checksumAlgorithm, expectedDigests } from '../http/digests.ts';
import type { Exchange } from '../http/respond.ts';
import { sendEmpty } from '../http/respond.ts';
import { parseWriteCondition } from '../s3/conditionals.ts';
import { storedHeadersFromRequest } from '../s3/headers.ts';
import type { Operation } from '../s3/operation.ts';
import { requestTags } from '../s3/tagging.ts';
import { validateKey } from '../s3/validate.ts';
import { versionIdHeader } from '../s3/version-id.ts';
import { acceptBody, inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { objectExpiration } from './lifecycle.ts';
import { checksumResponseHeaders } from './object-headers.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

export const putObject: Handler<Op<'PutObject'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const headers = storedHeadersFromRequest(ex.req.headers);
  const condition = parseWriteCondition(ex.req.headers);
  const versioning = versioningOf(deps, bucket);
  const acl = newObjectAcl(deps, ex, bucket, verified);
  const tags = requestTags(ex.req.headers);
  const upload = openUpload(deps, ex, verified, deps.limits.maxObjectBytes);
  const record = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.putObject({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      size: upload.size,
      body: upload.body,
      headers,
      nowMs: deps.clock(),
      finish: upload.finish,
      condition,
      versioning,
      ...(acl ? { acl } : {}),
      ...(tags?.length ? { tags } : {}),
    }),
  );
  ex.bytesIn = upload.size;
  sendEmpty(ex, 200, {
    etag: `"${record.etag}"`,
    ...checksumResponseHeaders(record.checksums, upload.algorithm),
    ...objectExpiration(deps, bucket, record),
    ...versionIdHeader(versioning, record),
  });
};

/** The ACL the request's x-amz-acl / x-amz-grant-* headers give the new object (gateway/authz decides). */
export function newObjectAcl(deps: GatewayDeps, ex: Exchange, bucket: BucketInfo, verified: VerifiedRequest) {
  return aclForNewObject(deps, ex.req.headers, {
    bucket,
    principal: verified.accessKeyId,
    knownUser: (id) => deps.credentials(id) !== undefined,
  });
}

export interface OpenedUpload {
  readonly size: number;
  readonly body: AsyncIterable<Buffer>;
  readonly finish: () => Promise<{ etag: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }>;
  readonly algorithm: ChecksumAlgorithm | undefined;
}

/** Validates the declared size and digests, accepts the body, and wraps it in the verifying decoder. */
export function openUpload(
  deps: GatewayDeps,
  ex: Exchange,
  verified: VerifiedRequest,
  maxBytes: number,
): OpenedUpload {
  const h = ex.req.headers;
  const wireLength = h['content-length'] === undefined ? undefined : parseLength(h['content-length']);
  const size = verified.decodedContentLength ?? wireLength;
  if (size === undefined) throw new S3Error('MissingContentLength');
  if (size > maxBytes)
    throw new S3Error('EntityTooLarge', undefined, {
      ProposedSize: String(size),
      MaxSizeAllowed: String(maxBytes),
    });
  const expected = expectedDigests(h);
  const algorithm = checksumAlgorithm(h);
  const body = decodeBody(acceptBody(ex) as AsyncIterable<Buffer>, verified, {
    contentLength: wireLength,
    expected,
    ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
    maxBytes,
    ...(deps.hasher ? { hasher: deps.hasher } : {}),
  });
  const finish = async () => {
    const digests = await body.digests;
    if (digests.bytes !== size) throw new S3Error('IncompleteBody');
    return { etag: digests.md5Hex, checksums: digests.checksums };
  };
  return { size, body, finish, algorithm };
}

function parseLength(value: string): number {
  if (!/^\d{1,16}$/.test(value)) throw new S3Error('InvalidArgument', 'Content-Length is not a number');
  return Number(value);
}
