// What the HTTP fuzz test (fuzz.test.ts) found, kept as deterministic cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checksumB64 } from './checksums.ts';
import { errorCode, keyPath, sendRaw, signedRaw } from './raw.ts';
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

  // Seed 869999771: an unsigned DeleteObjects on a private bucket answered 200 with an AccessDenied entry per
  // key; an anonymous request without any grant is refused as a whole (403), and nothing is deleted.
  test(
    'unsigned DeleteObjects on a private bucket → 403 AccessDenied, nothing deleted',
    TIMEOUT,
    async () => {
      const body = '<Delete><Quiet>false</Quiet><Object><Key>k</Key></Object></Delete>';
      const res = await sendRaw(target, {
        method: 'POST',
        path: `/${bucket}`,
        query: { delete: '' },
        headers: { 'content-type': 'application/xml' },
        body: Buffer.from(body),
      });
      assert.equal(res.status, 403, res.body.toString());
      assert.equal(errorCode(res.body), 'AccessDenied');
      const ok = await signedRaw(target, { method: 'GET', path: `/${bucket}/k` });
      assert.equal(ok.body.toString(), 'hello');
    },
  );

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

  // Seed 259169756: 9 random bytes holding a ':' inserted before the final CRLF of an unsigned-trailer body
  // made an extra trailer line; the decoder ignored it and stored the object. AWS refuses any trailer that
  // x-amz-trailer did not announce with 400 MalformedTrailerError.
  for (const [name, extra] of <Array<[string, string]>>[
    ['random bytes with a colon', '\xb9\xf6\xb0O\xab\xc5:\xee\xd9\r\n'],
    ['an unannounced trailer', 'bonus: trailer\r\n'],
  ]) {
    test(
      `aws-chunked trailer followed by ${name} → 400 MalformedTrailerError, nothing stored`,
      TIMEOUT,
      async () => {
        const key = `trailer-${name.replace(/\W/g, '-')}`;
        const data = Buffer.from('hello world');
        const body = Buffer.from(
          `${data.length.toString(16)}\r\n${data.toString('latin1')}\r\n0\r\n` +
            `x-amz-checksum-crc32:${checksumB64('CRC32', data)}\r\n${extra}\r\n`,
          'latin1',
        );
        const res = await signedRaw(target, {
          method: 'PUT',
          path: keyPath(bucket, key),
          headers: {
            'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
            'content-encoding': 'aws-chunked',
            'x-amz-decoded-content-length': String(data.length),
            'x-amz-trailer': 'x-amz-checksum-crc32',
            'x-amz-sdk-checksum-algorithm': 'CRC32',
          },
          body,
        });
        assert.equal(res.status, 400, res.body.toString());
        assert.equal(errorCode(res.body), 'MalformedTrailerError');
        const get = await signedRaw(target, { method: 'GET', path: keyPath(bucket, key) });
        assert.equal(get.status, 404, 'the rejected body must not be stored');
      },
    );
  }
});
