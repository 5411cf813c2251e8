// DeleteObject (idempotent) and DeleteObjects (up to 1000 keys, quiet or verbose), both with AWS's
// conditional deletes (If-Match / per-key <ETag>, checked by storage under the key's lock) and versionId
// as a never-versioned bucket answers it.

import type { DeleteOptions } from '../../storage/api.ts';
import { mayDeleteKey } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { parseEtagList } from '../s3/conditionals.ts';
import { headerValue, type Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { NULL_VERSION_ID, requireCurrentVersion } from '../s3/version-id.ts';
import { type DeleteObjectEntry, deleteResultXml, parseDeleteRequest } from '../s3/xml.ts';
import { toS3Error } from '../to-s3-error.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const DELETE_CONCURRENCY = 16;

export const deleteObject: Handler<Op<'DeleteObject'>> = async ({ deps, ex, verified, target, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  requireCurrentVersion(target.query, op.key);
  // AWS offers these on directory buckets only; ignoring a precondition would delete what the caller protected.
  for (const name of ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size']) {
    if (headerValue(ex.req.headers, name) !== undefined)
      throw new S3Error('NotImplemented', `${name} is not supported`, { Header: name });
  }
  const ifMatch = headerValue(ex.req.headers, 'if-match');
  const etag = ifMatch === undefined ? undefined : (parseEtagList(ifMatch)[0] ?? '');
  await inIncarnation(deps, bucket, { writes: false }, () => deleteOne(deps, bucket.id, op.key, etag));
  // A never-versioned bucket names no version in its answer, as for GET ?versionId=null.
  sendEmpty(ex, 204);
};

/** Deletes one key; a failed condition is the S3 error AWS sends (412 naming If-Match, or 404 NoSuchKey). */
async function deleteOne(
  deps: GatewayDeps,
  bucketId: string,
  key: string,
  ifMatchEtag: string | undefined,
): Promise<void> {
  const opts: DeleteOptions = ifMatchEtag === undefined ? {} : { condition: { ifMatchEtag } };
  try {
    await deps.storage.deleteObject(bucketId, Buffer.from(key, 'utf8'), opts);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'PreconditionFailed')
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    if (code === 'NoSuchKey') throw new S3Error('NoSuchKey', undefined, { Key: key });
    throw err;
  }
}

interface DeleteOutcome {
  key: string;
  versionId?: string;
  error?: { code: string; message: string };
}

async function deleteEntry(
  deps: GatewayDeps,
  bucketId: string,
  entry: DeleteObjectEntry,
): Promise<DeleteOutcome> {
  const { key, versionId, etag } = entry;
  const named = versionId === undefined ? {} : { versionId };
  try {
    validateKey(key);
    // Per key, AWS answers any version id it does not hold with NoSuchVersion (malformed ones too).
    if (versionId !== undefined && versionId !== NULL_VERSION_ID) throw new S3Error('NoSuchVersion');
    await deleteOne(deps, bucketId, key, etag);
    return { key, ...named };
  } catch (err) {
    const s3 = toS3Error(err);
    return { key, ...named, error: { code: s3.code, message: s3.message } };
  }
}

const DENIED = { code: 'AccessDenied', message: 'Access Denied' };

export const deleteObjects: Handler<Op<'DeleteObjects'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 2 * 1024 * 1024);
  const request = parseDeleteRequest(body.toString('utf8'));
  const results: DeleteOutcome[] = new Array(request.objects.length);
  let next = 0;
  const worker = async () => {
    while (next < request.objects.length) {
      const i = next++;
      const entry = request.objects[i]!;
      results[i] = mayDeleteKey(deps, verified.access, entry.key, entry.versionId)
        ? await deleteEntry(deps, bucket.id, entry)
        : {
            key: entry.key,
            ...(entry.versionId === undefined ? {} : { versionId: entry.versionId }),
            error: DENIED,
          };
    }
  };
  await inIncarnation(deps, bucket, { writes: false }, () =>
    Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, request.objects.length) }, worker)),
  );
  sendXml(
    ex,
    200,
    deleteResultXml({
      quiet: request.quiet,
      deleted: results.filter((r) => !r.error).map(({ key, versionId }) => ({ key, versionId })),
      errors: results
        .filter((r) => r.error)
        .map((r) => ({ key: r.key, versionId: r.versionId, code: r.error!.code, message: r.error!.message })),
    }),
  );
};
