// GetObject through the SDK: ranges, conditional requests and their precedence, response overrides.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  type GetObjectCommandInput,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, expectStatus, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const SIZE = 10_000;
const DAY_MS = 86_400_000;

describe('sdk: GetObject', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const body = seededBytes(42, SIZE);
  let etag = '';
  let lastModified = new Date(0);

  const get = (extra: Partial<GetObjectCommandInput> = {}) =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'obj', ...extra }));

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('get');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: body }));
    etag = put.ETag!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'obj' }));
    lastModified = head.LastModified!;
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  const ranges: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=10-19', 10, 19],
    ['bytes=9000-', 9000, SIZE - 1],
    ['bytes=-50', SIZE - 50, SIZE - 1],
    ['bytes=9990-20000', 9990, SIZE - 1],
    ['bytes=-20000', 0, SIZE - 1],
  ];
  for (const [range, first, last] of ranges) {
    test(`Range ${range} → 206 bytes ${first}-${last}/${SIZE}`, async () => {
      const res = await get({ Range: range });
      assert.equal(res.$metadata.httpStatusCode, 206);
      assert.equal(res.ContentRange, `bytes ${first}-${last}/${SIZE}`);
      assert.equal(res.ContentLength, last - first + 1);
      assert.equal(res.ETag, etag);
      assert.deepEqual(await readBody(res.Body), body.subarray(first, last + 1));
    });
  }

  test('Range starting at or past the end → 416 InvalidRange', async () => {
    await expectS3Error(get({ Range: `bytes=${SIZE}-` }), { code: 'InvalidRange', status: 416 });
    await expectS3Error(get({ Range: `bytes=${SIZE + 5}-${SIZE + 10}` }), {
      code: 'InvalidRange',
      status: 416,
    });
  });

  test('If-Match: matching → 200, other ETag → 412 PreconditionFailed', async () => {
    const ok = await get({ IfMatch: etag });
    assert.deepEqual(await readBody(ok.Body), body);
    await expectS3Error(get({ IfMatch: '"0123456789abcdef0123456789abcdef"' }), {
      code: 'PreconditionFailed',
      status: 412,
    });
  });

  test('If-None-Match: matching → 304 (no body), other ETag → 200', async () => {
    await expectStatus(get({ IfNoneMatch: etag }), 304);
    const raw = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'obj'),
      headers: { 'if-none-match': etag },
    });
    assert.equal(raw.status, 304);
    assert.equal(raw.body.length, 0);
    assert.equal(raw.headers.etag, etag);
    const ok = await get({ IfNoneMatch: '"0123456789abcdef0123456789abcdef"' });
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await readBody(ok.Body);
  });

  test('If-Modified-Since: at Last-Modified → 304; a day before → 200', async () => {
    await expectStatus(get({ IfModifiedSince: lastModified }), 304);
    const ok = await get({ IfModifiedSince: new Date(lastModified.getTime() - DAY_MS) });
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await readBody(ok.Body);
  });

  test('If-Unmodified-Since: a day before → 412; at Last-Modified → 200', async () => {
    await expectS3Error(get({ IfUnmodifiedSince: new Date(lastModified.getTime() - DAY_MS) }), {
      code: 'PreconditionFailed',
      status: 412,
    });
    const ok = await get({ IfUnmodifiedSince: lastModified });
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await readBody(ok.Body);
  });

  test('precedence: If-Match true wins over If-Unmodified-Since false → 200', async () => {
    const res = await get({ IfMatch: etag, IfUnmodifiedSince: new Date(lastModified.getTime() - DAY_MS) });
    assert.equal(res.$metadata.httpStatusCode, 200);
    assert.deepEqual(await readBody(res.Body), body);
  });

  test('precedence: If-None-Match false wins over If-Modified-Since true → 304', async () => {
    await expectStatus(
      get({ IfNoneMatch: etag, IfModifiedSince: new Date(lastModified.getTime() - DAY_MS) }),
      304,
    );
  });

  test('HeadObject honours the same conditions (412 / 304 without a body)', async () => {
    const stale = await signedRaw(target, {
      method: 'HEAD',
      path: keyPath(bucket, 'obj'),
      headers: { 'if-match': '"0123456789abcdef0123456789abcdef"' },
    });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.length, 0);
    const same = await signedRaw(target, {
      method: 'HEAD',
      path: keyPath(bucket, 'obj'),
      headers: { 'if-none-match': etag },
    });
    assert.equal(same.status, 304);
  });

  test('response-* overrides replace the returned headers', async () => {
    const expires = new Date('2030-01-01T00:00:00Z');
    const res = await get({
      ResponseContentType: 'text/x-override',
      ResponseContentLanguage: 'fr',
      ResponseCacheControl: 'no-store',
      ResponseContentDisposition: 'inline; filename="o.txt"',
      ResponseContentEncoding: 'identity',
      ResponseExpires: expires,
    });
    assert.equal(res.ContentType, 'text/x-override');
    assert.equal(res.ContentLanguage, 'fr');
    assert.equal(res.CacheControl, 'no-store');
    assert.equal(res.ContentDisposition, 'inline; filename="o.txt"');
    assert.equal(res.ContentEncoding, 'identity');
    assert.equal(res.ExpiresString ?? res.Expires?.toUTCString(), expires.toUTCString());
    assert.deepEqual(await readBody(res.Body), body);
  });

  test('GetObject on a missing key carries the S3 error body and a request id', async () => {
    const raw = await signedRaw(target, { method: 'GET', path: keyPath(bucket, 'missing') });
    assert.equal(raw.status, 404);
    assert.equal(errorCode(raw.body), 'NoSuchKey');
    assert.ok(raw.headers['x-amz-request-id']);
    assert.match(String(raw.headers['content-type']), /xml/);
  });
});
