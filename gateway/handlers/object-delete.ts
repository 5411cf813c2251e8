// DeleteObject (idempotent) and DeleteObjects (up to 1000 keys, quiet or verbose).

import { toS3Error } from '../app.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { deleteResultXml, parseDeleteRequest } from '../s3/xml.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const DELETE_CONCURRENCY = 16;

export const deleteObject: Handler<Op<'DeleteObject'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.deleteObject(bucket.id, Buffer.from(op.key, 'utf8')),
  );
  sendEmpty(ex, 204);
};

export const deleteObjects: Handler<Op<'DeleteObjects'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 2 * 1024 * 1024);
  const request = parseDeleteRequest(body.toString('utf8'));
  const results: Array<{ key: string; error?: { code: string; message: string } }> = new Array(
    request.objects.length,
  );
  let next = 0;
  const worker = async () => {
    while (next < request.objects.length) {
      const i = next++;
      const key = request.objects[i]!.key;
      try {
        validateKey(key);
        await deps.storage.deleteObject(bucket.id, Buffer.from(key, 'utf8'));
        results[i] = { key };
      } catch (err) {
        const s3 = toS3Error(err);
        results[i] = { key, error: { code: s3.code, message: s3.message } };
      }
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
      deleted: results.filter((r) => !r.error).map((r) => ({ key: r.key })),
      errors: results
        .filter((r) => r.error)
        .map((r) => ({ key: r.key, code: r.error!.code, message: r.error!.message })),
    }),
  );
};
