// What retrying and checking clients rely on: a repeated CompleteMultipartUpload answers as the first one did
// (also after a kill -9 and after an index rebuild), partNumber beyond the object's parts is 400
// InvalidPartNumber, and a checksum value that does not match the body is 400 BadDigest with nothing stored.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  type ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { md5hex, multipartEtag, seededBytes } from './bytes.ts';
import { type ChecksumName, checksumB64 } from './checksums.ts';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, expectStatus, s3For, uniqueBucket } from './sdk.ts';
import { INDEX_DIR_NAME, startTarget, type Target } from './target.ts';

const MiB = 1024 * 1024;

describe('sdk: retries and checks', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const parts = [seededBytes(11, 5 * MiB), seededBytes(12, 777)];

  const uploadAll = async (key: string, algorithm?: ChecksumAlgorithm) => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: algorithm }),
    );
    assert.ok(UploadId);
    const list = [];
    for (let i = 0; i < parts.length; i++) {
      const res = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          Body: parts[i],
          ChecksumAlgorithm: algorithm,
        }),
      );
      list.push({ PartNumber: i + 1, ETag: res.ETag!, ChecksumCRC32: res.ChecksumCRC32 });
    }
    return { uploadId: UploadId, list };
  };
  const complete = (key: string, uploadId: string, list: Array<{ PartNumber: number; ETag: string }>) =>
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: list },
      }),
    );
  const answer = (r: Awaited<ReturnType<typeof complete>>) => ({
    etag: r.ETag,
    location: r.Location,
    bucket: r.Bucket,
    key: r.Key,
    crc32: r.ChecksumCRC32,
  });

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('retry');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('a repeated CompleteMultipartUpload answers 200 with the same ETag, location, bucket and key', async () => {
    const key = 'mp/repeat';
    const { uploadId, list } = await uploadAll(key, 'CRC32');
    const first = await complete(key, uploadId, list);
    assert.equal(first.ETag, multipartEtag(parts));
    const again = await complete(key, uploadId, list);
    assert.deepEqual(answer(again), answer(first));
    assert.ok(first.ChecksumCRC32, 'the composite checksum is answered both times');
    // The object is untouched by the repeat.
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(head.ETag, first.ETag);
    assert.equal(head.ContentLength, parts[0]!.length + parts[1]!.length);
  });

  test('two completions of one upload at once both answer 200 with one ETag', async () => {
    const key = 'mp/concurrent';
    const { uploadId, list } = await uploadAll(key);
    const [a, b] = await Promise.all([complete(key, uploadId, list), complete(key, uploadId, list)]);
    assert.deepEqual(answer(a), answer(b));
  });

  test('the repeat answers the same after kill -9 and after the index is rebuilt from the volumes', async (t) => {
    if (!target.embedded) return t.skip('needs the embedded server');
    const key = 'mp/durable';
    const { uploadId, list } = await uploadAll(key);
    const first = await complete(key, uploadId, list);
    await target.kill();
    await target.start();
    assert.deepEqual(answer(await complete(key, uploadId, list)), answer(first));
    await target.stop();
    rmSync(join(target.dataDir!, INDEX_DIR_NAME), { recursive: true, force: true });
    await target.start();
    assert.deepEqual(answer(await complete(key, uploadId, list)), answer(first));
  });

  test('on a versioned bucket the repeat names the same version, also once it is noncurrent', async () => {
    const vb = uniqueBucket('retry-v');
    await s3.send(new CreateBucketCommand({ Bucket: vb }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: vb, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: vb, Key: 'k' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: vb, Key: 'k', UploadId, PartNumber: 1, Body: 'x' }),
    );
    const done = () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: vb,
          Key: 'k',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
        }),
      );
    const first = await done();
    assert.ok(first.VersionId);
    const again = await done();
    assert.equal(again.VersionId, first.VersionId);
    assert.equal(again.ETag, first.ETag);
    // Still so after a later version of the key: the completed one exists, noncurrent.
    await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'later' }));
    const late = await done();
    assert.equal(late.VersionId, first.VersionId);
    assert.equal(late.ETag, first.ETag);
  });

  test('a repeat with another part list, or after the object was replaced, is 404 NoSuchUpload', async () => {
    const key = 'mp/changed';
    const { uploadId, list } = await uploadAll(key);
    await complete(key, uploadId, list);
    const gone = { code: 'NoSuchUpload', status: 404 };
    await expectS3Error(complete(key, uploadId, list.slice(0, 1)), gone, 'fewer parts');
    await expectS3Error(
      complete(key, uploadId, [list[0]!, { PartNumber: 2, ETag: `"${md5hex(Buffer.from('x'))}"` }]),
      gone,
      'another ETag',
    );
    await expectS3Error(
      s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })),
      gone,
      'abort after completion',
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'replaced' }));
    await expectS3Error(complete(key, uploadId, list), gone, 'after an overwrite');
    await expectS3Error(complete('mp/other-key', uploadId, list), gone, 'same upload id, another key');
  });

  test('GET/HEAD partNumber beyond the parts → 400 InvalidPartNumber with the requested and actual counts', async () => {
    const key = 'mp/parts';
    const { uploadId, list } = await uploadAll(key);
    await complete(key, uploadId, list);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 3 })), {
      code: 'InvalidPartNumber',
      status: 400,
    });
    await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 3 })), 400);
    const raw = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, key),
      query: { partNumber: '7' },
    });
    assert.equal(raw.status, 400);
    const body = raw.body.toString();
    assert.equal(errorCode(raw.body), 'InvalidPartNumber');
    assert.match(body, /<PartNumberRequested>7<\/PartNumberRequested>/);
    assert.match(body, /<ActualPartCount>2<\/ActualPartCount>/);
    // A plain object has one part.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'abc' }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'plain', PartNumber: 2 })), {
      code: 'InvalidPartNumber',
      status: 400,
    });
  });

  const algorithms: ChecksumName[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
  for (const alg of algorithms) {
    test(`a wrong x-amz-checksum-${alg.toLowerCase()} → 400 BadDigest on PUT and UploadPart, nothing stored`, async () => {
      const wrong = checksumB64(alg, Buffer.from('not the body'));
      const key = `bad-${alg}`;
      const res = await signedRaw(target, {
        method: 'PUT',
        path: keyPath(bucket, key),
        headers: { [`x-amz-checksum-${alg.toLowerCase()}`]: wrong },
        body: Buffer.from('the body'),
      });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), 'BadDigest');
      await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 404);
      // Through the SDK, on a part.
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      await expectS3Error(
        s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: 1,
            Body: 'the body',
            [`Checksum${alg}`]: wrong,
          }),
        ),
        { code: 'BadDigest', status: 400 },
      );
    });
  }
});
