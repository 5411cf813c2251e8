// DeleteObject (idempotent) and DeleteObjects (up to 1000 keys, quiet or verbose), both with AWS's
// conditional deletes (If-Match / per-key <ETag>, checked by storage under the key's lock) and versioning:
// without a version id a versioned bucket gets a delete marker (suspended: the null one), with one exactly
// that version goes.

import type { RemoveObjectResult, VersioningMode } from '../../storage/api.ts';
import { deletableKeys } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { parseEtagList } from '../s3/conditionals.ts';
import { headerValue, type Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { malformedVersionId, NULL_VERSION_ID, noSuchVersion, requestedVersionId } from '../s3/version-id.ts';
import { type DeleteObjectEntry, deleteResultXml, parseDeleteRequest } from '../s3/xml.ts';
import { toS3Error } from '../to-s3-error.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const DELETE_CONCURRENCY = 16;

export const deleteObject: Handler<Op<'DeleteObject'>> = async ({ deps, ex, verified, target, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  const versionId = requestedVersionId(target.query);
  // AWS offers these on directory buckets only; ignoring a precondition would delete what the caller protected.
  for (const name of ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size']) {
    if (headerValue(ex.req.headers, name) !== undefined)
      throw new S3Error('NotImplemented', `${name} is not supported`, { Header: name });
  }
  const ifMatch = headerValue(ex.req.headers, 'if-match');
  const etag = ifMatch === undefined ? undefined : (parseEtagList(ifMatch)[0] ?? '');
  const versioning = versioningOf(deps, bucket);
  neverVersioned(versioning, op.key, versionId);
  const r = await inIncarnation(deps, bucket, { writes: versioning !== 'unversioned' }, () =>
    deleteOne(deps, { bucketId: bucket.id, key: op.key, versionId, ifMatchEtag: etag, versioning }),
  );
  sendEmpty(ex, 204, resultHeaders(versioning, versionId, r));
};

/**
 * A bucket that never had versioning holds only null versions: any other id names nothing that can exist
 * (404). On a versioned bucket AWS answers 204 for an id it does not hold (the delete is idempotent).
 */
function neverVersioned(versioning: VersioningMode, key: string, versionId: string | undefined): void {
  if (versioning === 'unversioned' && versionId !== undefined && versionId !== NULL_VERSION_ID)
    throw noSuchVersion(key, versionId);
}

/** x-amz-delete-marker and x-amz-version-id as AWS sends them (a never-versioned bucket names no version). */
function resultHeaders(
  versioning: VersioningMode,
  versionId: string | undefined,
  r: RemoveObjectResult,
): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.deleteMarker) h['x-amz-delete-marker'] = 'true';
  const id = r.versionId ?? versionId;
  if (id !== undefined && (versioning !== 'unversioned' || versionId !== undefined))
    h['x-amz-version-id'] = id;
  return h;
}

/** Deletes one key; a failed condition is the S3 error AWS sends (412 naming If-Match, or 404 NoSuchKey). */
async function deleteOne(
  deps: GatewayDeps,
  d: {
    bucketId: string;
    key: string;
    versionId: string | undefined;
    ifMatchEtag: string | undefined;
    versioning: VersioningMode;
  },
): Promise<RemoveObjectResult> {
  const { key } = d;
  try {
    return await deps.storage.removeObject({
      bucket: d.bucketId,
      key: Buffer.from(key, 'utf8'),
      ...(d.versionId !== undefined ? { versionId: d.versionId } : {}),
      versioning: d.versioning,
      ...(d.ifMatchEtag !== undefined ? { condition: { ifMatchEtag: d.ifMatchEtag } } : {}),
      nowMs: deps.clock(),
    });
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
  deleteMarker?: boolean;
  deleteMarkerVersionId?: string;
  error?: { code: string; message: string };
}

async function deleteEntry(
  deps: GatewayDeps,
  bucketId: string,
  versioning: VersioningMode,
  entry: DeleteObjectEntry,
): Promise<DeleteOutcome> {
  const { key, versionId, etag } = entry;
  const named = versionId === undefined ? {} : { versionId };
  try {
    validateKey(key);
    // Per key, AWS answers a malformed version id with NoSuchVersion, not the 400 of DeleteObject.
    if (malformedVersionId(versionId)) throw new S3Error('NoSuchVersion');
    neverVersioned(versioning, key, versionId);
    const r = await deleteOne(deps, { bucketId, key, versionId, ifMatchEtag: etag, versioning });
    if (!r.deleteMarker) return { key, ...named };
    // A marker written (no version id asked) or removed by its id: AWS names it in both cases.
    return {
      key,
      ...named,
      deleteMarker: true,
      ...(r.versionId !== undefined ? { deleteMarkerVersionId: r.versionId } : {}),
    };
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
  const versioning = versioningOf(deps, bucket);
  const allowed = deletableKeys(deps, verified.access, request.objects);
  const results: DeleteOutcome[] = new Array(request.objects.length);
  let next = 0;
  const worker = async () => {
    while (next < request.objects.length) {
      const i = next++;
      const entry = request.objects[i]!;
      results[i] = allowed[i]
        ? await deleteEntry(deps, bucket.id, versioning, entry)
        : {
            key: entry.key,
            ...(entry.versionId === undefined ? {} : { versionId: entry.versionId }),
            error: DENIED,
          };
    }
  };
  await inIncarnation(deps, bucket, { writes: versioning !== 'unversioned' }, () =>
    Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, request.objects.length) }, worker)),
  );
  sendXml(
    ex,
    200,
    deleteResultXml({
      quiet: request.quiet,
      deleted: results
        .filter((r) => !r.error)
        .map(({ key, versionId, deleteMarker, deleteMarkerVersionId }) => ({
          key,
          versionId,
          deleteMarker,
          deleteMarkerVersionId,
        })),
      errors: results
        .filter((r) => r.error)
        .map((r) => ({ key: r.key, versionId: r.versionId, code: r.error!.code, message: r.error!.message })),
    }),
  );
};
