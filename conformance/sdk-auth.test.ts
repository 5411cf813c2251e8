// Authentication and authorisation: a second key, wrong secrets, unknown keys, presigned URLs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { errorCode, keyPath, presignRaw } from './raw.ts';
import { expectS3Error, expectStatus, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

describe('sdk: auth', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('auth');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'owned by key one' }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('a second key gets 403 AccessDenied on the first key’s bucket', async (t) => {
    if (!target.otherCreds) return t.skip('no second key configured (QUIRE_S3_ACCESS_KEY_2)');
    const other = s3For(target, target.otherCreds);
    const denied = { code: 'AccessDenied', status: 403 };
    await expectS3Error(
      other.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' })),
      denied,
      'GetObject',
    );
    await expectS3Error(
      other.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' })),
      denied,
      'Put',
    );
    await expectS3Error(other.send(new ListObjectsV2Command({ Bucket: bucket })), denied, 'List');
    await expectS3Error(
      other.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'secret' })),
      denied,
      'Delete',
    );
    await expectS3Error(other.send(new DeleteBucketCommand({ Bucket: bucket })), denied, 'DeleteBucket');
    // HEAD errors carry no body, so the SDK cannot name the code: only the status is checked.
    await expectStatus(
      other.send(new HeadObjectCommand({ Bucket: bucket, Key: 'secret' })),
      403,
      'HeadObject',
    );
    await expectS3Error(other.send(new CreateBucketCommand({ Bucket: bucket })), {
      code: 'BucketAlreadyExists',
      status: 409,
    });
    const listed = await other.send(new ListBucketsCommand({}));
    assert.ok(!listed.Buckets?.some((b) => b.Name === bucket), 'the other key does not see the bucket');
    const still = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' }));
    assert.equal((await readBody(still.Body)).toString(), 'owned by key one');
    other.destroy();
  });

  test('wrong secret → 403 SignatureDoesNotMatch', async () => {
    const bad = s3For(target, { accessKeyId: target.creds.accessKeyId, secretAccessKey: 'not-the-secret' });
    await expectS3Error(bad.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' })), {
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
    await expectS3Error(bad.send(new PutObjectCommand({ Bucket: bucket, Key: 'forged', Body: 'x' })), {
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
    bad.destroy();
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'forged' })), {
      code: 'NoSuchKey',
      status: 404,
    });
  });

  test('unknown access key → 403 InvalidAccessKeyId', async () => {
    const stranger = s3For(target, { accessKeyId: 'AKIDNOSUCHKEY0000000', secretAccessKey: 'whatever' });
    await expectS3Error(stranger.send(new ListBucketsCommand({})), {
      code: 'InvalidAccessKeyId',
      status: 403,
    });
    stranger.destroy();
  });

  test('presigned PUT then presigned GET, fetched without the SDK', async () => {
    const body = seededBytes(9, 64_000);
    const path = keyPath(bucket, 'presigned/ß and space');
    const putUrl = await presignRaw(target, 'PUT', path, 300);
    const put = await fetch(`${target.endpoint}${putUrl}`, { method: 'PUT', body });
    assert.equal(put.status, 200, await put.text());
    const getUrl = await presignRaw(target, 'GET', path, 300);
    const got = await fetch(`${target.endpoint}${getUrl}`);
    assert.equal(got.status, 200);
    assert.ok(got.headers.get('x-amz-request-id'));
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(body));
  });

  test('an expired presigned URL → 403 AccessDenied', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const url = await presignRaw(target, 'GET', keyPath(bucket, 'secret'), 60, hourAgo);
    const res = await fetch(`${target.endpoint}${url}`);
    const text = await res.text();
    assert.equal(res.status, 403);
    assert.equal(errorCode(Buffer.from(text)), 'AccessDenied', text);
  });

  test('a presigned URL with a tampered signature → 403 SignatureDoesNotMatch', async () => {
    const url = await presignRaw(target, 'GET', keyPath(bucket, 'secret'), 300);
    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
    );
    assert.notEqual(tampered, url);
    const res = await fetch(`${target.endpoint}${tampered}`);
    const text = await res.text();
    assert.equal(res.status, 403);
    assert.equal(errorCode(Buffer.from(text)), 'SignatureDoesNotMatch', text);
  });
});
