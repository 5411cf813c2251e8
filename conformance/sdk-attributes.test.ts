// GetObjectAttributes through the SDK: each attribute, parts paging, and AWS's errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectAttributesCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { md5hex, multipartEtag, seededBytes } from './bytes.ts';
import { checksumB64 } from './checksums.ts';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const MiB = 1024 * 1024;

describe('sdk: GetObjectAttributes', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const body = seededBytes(5, 4321);
  const parts = [seededBytes(1, 5 * MiB), seededBytes(2, 5 * MiB), seededBytes(3, 10)];

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('attrs');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: body, ChecksumAlgorithm: 'SHA256' }),
    );
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ChecksumAlgorithm: 'CRC32' }),
    );
    const list = [];
    // Part numbers may skip: 1, 3, 7.
    const numbers = [1, 3, 7];
    for (let i = 0; i < parts.length; i++) {
      const r = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: 'mp',
          UploadId,
          PartNumber: numbers[i]!,
          Body: parts[i],
          ChecksumAlgorithm: 'CRC32',
        }),
      );
      list.push({ PartNumber: numbers[i]!, ETag: r.ETag!, ChecksumCRC32: r.ChecksumCRC32 });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp',
        UploadId,
        MultipartUpload: { Parts: list },
      }),
    );
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  const attrs = (
    Key: string,
    more: Partial<ConstructorParameters<typeof GetObjectAttributesCommand>[0]> = {},
  ) =>
    s3.send(
      new GetObjectAttributesCommand({
        Bucket: bucket,
        Key,
        ObjectAttributes: ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'],
        ...more,
      }),
    );

  test('a plain object: ETag (unquoted), checksum, class and size; no parts', async () => {
    const r = await attrs('plain');
    assert.equal(r.ETag, md5hex(body));
    assert.equal(r.Checksum?.ChecksumSHA256, checksumB64('SHA256', body));
    assert.equal(r.Checksum?.ChecksumType, 'FULL_OBJECT');
    assert.equal(r.StorageClass, 'STANDARD');
    assert.equal(r.ObjectSize, body.length);
    assert.equal(r.ObjectParts, undefined);
    assert.ok(r.LastModified instanceof Date);
  });

  test('only the attributes asked for come back', async () => {
    const r = await attrs('plain', { ObjectAttributes: ['ObjectSize'] });
    assert.equal(r.ObjectSize, body.length);
    assert.equal(r.ETag, undefined);
    assert.equal(r.Checksum, undefined);
    assert.equal(r.StorageClass, undefined);
  });

  test('a multipart object: its parts with their numbers and sizes, paged by marker and max-parts', async () => {
    const r = await attrs('mp');
    assert.equal(r.ETag, multipartEtag(parts).replace(/"/g, ''));
    assert.equal(r.Checksum?.ChecksumType, 'COMPOSITE');
    assert.ok(r.Checksum?.ChecksumCRC32?.endsWith('-3'));
    assert.equal(r.ObjectSize, 10 * MiB + 10);
    assert.equal(r.ObjectParts?.TotalPartsCount, 3);
    assert.equal(r.ObjectParts?.IsTruncated, false);
    assert.deepEqual(
      r.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size]),
      [
        [1, 5 * MiB],
        [3, 5 * MiB],
        [7, 10],
      ],
    );
    const p1 = await attrs('mp', { ObjectAttributes: ['ObjectParts'], MaxParts: 1 });
    assert.equal(p1.ObjectParts?.IsTruncated, true);
    assert.equal(p1.ObjectParts?.MaxParts, 1);
    assert.equal(p1.ObjectParts?.NextPartNumberMarker, '1');
    assert.deepEqual(
      p1.ObjectParts?.Parts?.map((p) => p.PartNumber),
      [1],
    );
    const p2 = await attrs('mp', { ObjectAttributes: ['ObjectParts'], MaxParts: 5, PartNumberMarker: '1' });
    assert.equal(p2.ObjectParts?.IsTruncated, false);
    assert.equal(p2.ObjectParts?.PartNumberMarker, '1');
    assert.deepEqual(
      p2.ObjectParts?.Parts?.map((p) => p.PartNumber),
      [3, 7],
    );
  });

  test('a missing or empty x-amz-object-attributes → 400 InvalidRequest; an unknown name → 400 InvalidArgument', async () => {
    const none = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'plain'),
      query: { attributes: '' },
    });
    assert.equal(none.status, 400);
    assert.equal(errorCode(none.body), 'InvalidRequest');
    const empty = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'plain'),
      query: { attributes: '' },
      headers: { 'x-amz-object-attributes': ' , ' },
    });
    assert.equal(errorCode(empty.body), 'InvalidRequest');
    const bad = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'plain'),
      query: { attributes: '' },
      headers: { 'x-amz-object-attributes': 'ETag,ETags' },
    });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    assert.match(bad.body.toString(), /<ArgumentValue>ETags<\/ArgumentValue>/);
    // Unreadable paging headers are ignored, as AWS does.
    const lax = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'mp'),
      query: { attributes: '' },
      headers: { 'x-amz-object-attributes': 'ObjectParts', 'x-amz-max-parts': 'many' },
    });
    assert.equal(lax.status, 200);
    assert.match(lax.body.toString(), /<MaxParts>1000<\/MaxParts>/);
  });

  test('versionId: the attributes of that version; a delete marker is 404 (current) or 405 (by id)', async () => {
    const vb = uniqueBucket('attrs-v');
    await s3.send(new CreateBucketCommand({ Bucket: vb }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: vb, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'one' }))).VersionId!;
    await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'second' }));
    const of = (VersionId?: string) =>
      s3.send(
        new GetObjectAttributesCommand({ Bucket: vb, Key: 'k', VersionId, ObjectAttributes: ['ObjectSize'] }),
      );
    assert.equal((await of()).ObjectSize, 6);
    const old = await of(v1);
    assert.equal(old.ObjectSize, 3);
    assert.equal(old.VersionId, v1);
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: vb, Key: 'k' }))).VersionId!;
    await expectS3Error(of(), { code: 'NoSuchKey', status: 404 });
    await expectS3Error(of(marker), { code: 'MethodNotAllowed', status: 405 });
  });

  test('no such key → 404 NoSuchKey; no such bucket → 404 NoSuchBucket; another versionId → 404 NoSuchVersion', async () => {
    await expectS3Error(attrs('nope'), { code: 'NoSuchKey', status: 404 });
    await expectS3Error(
      s3.send(
        new GetObjectAttributesCommand({
          Bucket: uniqueBucket('none'),
          Key: 'k',
          ObjectAttributes: ['ETag'],
        }),
      ),
      { code: 'NoSuchBucket', status: 404 },
    );
    await expectS3Error(attrs('plain', { VersionId: 'a'.repeat(32) }), {
      code: 'NoSuchVersion',
      status: 404,
    });
    const r = await attrs('plain', { VersionId: 'null', ObjectAttributes: ['ObjectSize'] });
    assert.equal(r.ObjectSize, body.length);
  });
});
