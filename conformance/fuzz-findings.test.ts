// What the HTTP fuzz test (fuzz.test.ts) found, kept as deterministic cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorCode, signedRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const TIMEOUT = { timeout: 60_000 };

describe('fuzz findings', () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('findings');

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hello' }));
  }, TIMEOUT);

  after(async () => {
    s3?.destroy();
    await target?.close();
  }, TIMEOUT);

  // Seed 898977383: `response-expires=🙂.\0…` on a GET/HEAD answered 500 (Node refused the header value).
  for (const [name, value] of [
    ['response-expires', '🙂.\x0072y \u2028 '],
    ['response-content-type', 'text/plain\x00'],
    ['response-cache-control', 'a\x7fb\x01'],
  ]) {
    for (const method of ['GET', 'HEAD']) {
      test(
        `${method} with ${name} holding control characters → 400 InvalidArgument, not 500`,
        TIMEOUT,
        async () => {
          const res = await signedRaw(target, {
            method,
            path: `/${bucket}/k`,
            query: { [name as string]: value as string },
          });
          assert.equal(res.status, 400, res.body.toString());
          if (method === 'GET') assert.equal(errorCode(res.body), 'InvalidArgument');
          assert.equal(res.headers['content-type'] ?? 'application/xml', 'application/xml');
          assert.equal(res.headers.etag, undefined, 'no object header leaks into the error');
          const ok = await signedRaw(target, { method: 'GET', path: `/${bucket}/k` });
          assert.equal(ok.body.toString(), 'hello');
        },
      );
    }
  }
});
