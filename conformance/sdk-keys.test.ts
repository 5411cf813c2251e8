// Awkward object keys round-tripped byte-exact through put, head, get, list and delete.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { md5hex } from './bytes.ts';
import { decodeListedKey, expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

// A key of exactly `bytes` UTF-8 bytes that mixes multi-byte characters in.
function keyOfBytes(bytes: number): string {
  const unit = 'k-ß-日/'; // 1 + 1 + 2 + 1 + 3 + 1 = 9 bytes
  let k = unit.repeat(Math.floor(bytes / 9));
  k += 'x'.repeat(bytes - Buffer.byteLength(k));
  assert.equal(Buffer.byteLength(k), bytes);
  return k;
}

const AWKWARD_KEYS = [
  'a',
  '/',
  '//',
  'a//b',
  'with space',
  'plus+sign',
  'percent%20',
  'unicode-ß-日本-🙂',
  '../x',
  './.',
  '\x01ctrl',
  'trailing/',
  'question?mark#hash&amp=;',
  'tilde~star*paren(1)',
  keyOfBytes(1024),
];

describe('sdk: awkward keys', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('keys');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  for (const key of AWKWARD_KEYS) {
    const label = key.length > 40 ? `${Buffer.byteLength(key)}-byte key` : JSON.stringify(key);
    test(`key ${label}: put, head, get, list (url), delete`, async () => {
      const body = Buffer.from(`body of ${key}`);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      assert.equal(put.ETag, `"${md5hex(body)}"`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ContentLength, body.length);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual(await readBody(got.Body), body);

      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: key, EncodingType: 'url' }),
      );
      const keys = listed.Contents?.map((c) => decodeListedKey(c.Key!)) ?? [];
      assert.ok(keys.includes(key), `listed: ${JSON.stringify(keys)}`);

      const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(del.$metadata.httpStatusCode, 204);
      await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })), {
        code: 'NoSuchKey',
        status: 404,
      });
    });
  }

  test('all awkward keys coexist and list in UTF-8 byte order', async () => {
    for (const key of AWKWARD_KEYS)
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url' }));
    const keys = res.Contents?.map((c) => decodeListedKey(c.Key!)) ?? [];
    const want = [...AWKWARD_KEYS].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(keys, want);
    for (const key of AWKWARD_KEYS) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal((await readBody(got.Body)).toString(), key);
    }
  });

  test('a 1025-byte key → 400 KeyTooLongError', async () => {
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: keyOfBytes(1025), Body: 'x' })), {
      code: 'KeyTooLongError',
      status: 400,
    });
  });
});
