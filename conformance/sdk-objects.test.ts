// PutObject / HeadObject / DeleteObject / DeleteObjects through the SDK: stored headers, checksums,
// preconditions and errors, byte-exact.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ChecksumAlgorithm,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { md5b64, md5hex, seededBytes } from './bytes.ts';
import { type ChecksumName, checksumB64 } from './checksums.ts';
import { keyPath, signedRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

async function putMany(s3: S3Client, bucket: string, keys: string[], concurrency = 32): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('sdk: objects', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('obj');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('PutObject stores metadata and standard headers; Get and Head return them', async () => {
    const body = seededBytes(1, 70_001);
    const expires = new Date('2031-02-03T04:05:06Z');
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'headers',
        Body: body,
        ContentType: 'application/x-quire-test',
        CacheControl: 'max-age=60, private',
        ContentDisposition: 'attachment; filename="q.bin"',
        ContentEncoding: 'identity',
        ContentLanguage: 'de-CH',
        Expires: expires,
        Metadata: { alpha: 'one', 'mixed-case': 'Two Words' },
      }),
    );
    assert.equal(put.ETag, `"${md5hex(body)}"`);
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'headers' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers' }));
    assert.deepEqual(await readBody(get.Body), body);
    for (const r of [get, head]) {
      assert.equal(r.ETag, put.ETag);
      assert.equal(r.ContentLength, body.length);
      assert.equal(r.ContentType, 'application/x-quire-test');
      assert.equal(r.CacheControl, 'max-age=60, private');
      assert.equal(r.ContentDisposition, 'attachment; filename="q.bin"');
      assert.equal(r.ContentEncoding, 'identity');
      assert.equal(r.ContentLanguage, 'de-CH');
      assert.equal(r.ExpiresString ?? r.Expires?.toUTCString(), expires.toUTCString());
      assert.deepEqual(r.Metadata, { alpha: 'one', 'mixed-case': 'Two Words' });
      assert.ok(r.LastModified instanceof Date);
      assert.equal(r.AcceptRanges, 'bytes');
    }
  });

  test('zero-byte object round-trips', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: Buffer.alloc(0) }));
    assert.equal(put.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty' }));
    assert.equal((await readBody(get.Body)).length, 0);
    assert.equal(get.ContentLength, 0);
  });

  test('Content-MD5 that does not match the body → 400 BadDigest, nothing stored', async () => {
    await expectS3Error(
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'badmd5',
          Body: 'hello',
          ContentMD5: md5b64(Buffer.from('olleh')),
        }),
      ),
      { code: 'BadDigest', status: 400 },
    );
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'badmd5' })), {
      code: 'NoSuchKey',
      status: 404,
    });
    const ok = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'goodmd5',
        Body: 'hello',
        ContentMD5: md5b64(Buffer.from('hello')),
      }),
    );
    assert.equal(ok.ETag, `"${md5hex(Buffer.from('hello'))}"`);
  });

  const algorithms: ChecksumName[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
  for (const alg of algorithms) {
    test(`ChecksumAlgorithm ${alg}: verified, stored, returned with ChecksumMode ENABLED`, async () => {
      const body = seededBytes(alg.length * 7919, 123_457);
      const want = checksumB64(alg, body);
      const key = `sum-${alg}`;
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ChecksumAlgorithm: alg as ChecksumAlgorithm,
        }),
      );
      assert.equal(put[`Checksum${alg}`], want, 'PutObject echoes the checksum');
      // The SDK validates the returned checksum against the body it reads.
      const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      assert.equal(get[`Checksum${alg}`], want);
      assert.deepEqual(await readBody(get.Body), body);
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
      assert.equal(head[`Checksum${alg}`], want);
    });
  }

  test('a wrong x-amz-checksum-sha256 value → 400 BadDigest, nothing stored', async () => {
    const wrong = checksumB64('SHA256', Buffer.from('not the body'));
    await expectS3Error(
      s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'badsum', Body: 'the body', ChecksumSHA256: wrong }),
      ),
      { code: 'BadDigest', status: 400 },
    );
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'badsum' })), {
      code: 'NotFound',
      status: 404,
    });
  });

  test('a wrong x-amz-checksum-crc32 header on a raw PUT → 400 BadDigest', async () => {
    const res = await signedRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'badcrc'),
      headers: { 'x-amz-checksum-crc32': checksumB64('CRC32', Buffer.from('other')) },
      body: Buffer.from('payload'),
    });
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /<Code>BadDigest<\/Code>/);
  });

  test('If-None-Match * → 412 PreconditionFailed when the key exists', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inm', Body: 'first', IfNoneMatch: '*' }));
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inm', Body: 'second', IfNoneMatch: '*' })),
      { code: 'PreconditionFailed', status: 412 },
    );
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inm' }));
    assert.equal((await readBody(get.Body)).toString(), 'first');
  });

  test('PutObject If-Match: matching ETag replaces, stale ETag → 412, missing key → 404 NoSuchKey', async () => {
    const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'im', Body: 'v1' }));
    const second = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'im', Body: 'v2', IfMatch: first.ETag }),
    );
    assert.equal(second.ETag, `"${md5hex(Buffer.from('v2'))}"`);
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'im', Body: 'v3', IfMatch: first.ETag })),
      {
        code: 'PreconditionFailed',
        status: 412,
      },
    );
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'im-missing', Body: 'x', IfMatch: first.ETag })),
      { code: 'NoSuchKey', status: 404 },
    );
  });

  test('HeadObject on a missing key → 404 with no body; GetObject → 404 NoSuchKey', async () => {
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nope' })), {
      code: 'NotFound',
      status: 404,
    });
    const raw = await signedRaw(target, { method: 'HEAD', path: keyPath(bucket, 'nope') });
    assert.equal(raw.status, 404);
    assert.equal(raw.body.length, 0);
    assert.ok(raw.headers['x-amz-request-id']);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' })), {
      code: 'NoSuchKey',
      status: 404,
    });
  });

  test('DeleteObject is idempotent: 204 for present and absent keys', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'del', Body: 'x' }));
    for (let i = 0; i < 2; i++) {
      const res = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del' }));
      assert.equal(res.$metadata.httpStatusCode, 204);
    }
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'del' })), {
      code: 'NoSuchKey',
      status: 404,
    });
  });

  test('DeleteObjects: 1000 keys verbose, then quiet; absent keys count as deleted', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk/${String(i).padStart(4, '0')}`);
    await putMany(s3, bucket, keys.slice(0, 900));
    const verbose = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
    );
    assert.equal(verbose.Errors, undefined);
    assert.deepEqual(verbose.Deleted?.map((d) => d.Key).sort(), keys);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bulk/' }));
    assert.equal(left.KeyCount, 0);

    await putMany(s3, bucket, keys.slice(0, 10));
    const quiet = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Quiet: true, Objects: keys.map((Key) => ({ Key })) },
      }),
    );
    assert.equal(quiet.Deleted, undefined, 'quiet mode lists no successes');
    assert.equal(quiet.Errors, undefined);
    const gone = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'bulk/' }));
    assert.equal(gone.KeyCount, 0);
  });

  test('DeleteObjects with 1001 keys → 400 MalformedXML', async () => {
    const objects = Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` }));
    await expectS3Error(s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } })), {
      code: 'MalformedXML',
      status: 400,
    });
  });

  test('virtual-hosted style: Host <bucket>.localhost:<port> reaches the bucket', async () => {
    if (!target.embedded) return;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'vhost/obj', Body: 'via vhost' }));
    const res = await signedRaw(target, {
      method: 'GET',
      path: '/vhost/obj',
      headers: { host: `${bucket}.localhost:${target.port}` },
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), 'via vhost');
  });
});
