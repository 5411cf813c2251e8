// Bucket operations through @aws-sdk/client-s3: success and error paths, with AWS's codes and statuses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

describe('sdk: buckets', () => {
  let target: Target;
  let s3: S3Client;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('create, list, head, location, versioning, delete', async () => {
    const bucket = uniqueBucket('life');
    const created = await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    assert.equal(created.$metadata.httpStatusCode, 200);
    const listed = await s3.send(new ListBucketsCommand({}));
    const entry = listed.Buckets?.find((b) => b.Name === bucket);
    assert.ok(entry, 'new bucket is listed');
    assert.ok(entry.CreationDate instanceof Date && !Number.isNaN(entry.CreationDate.getTime()));
    assert.ok(listed.Owner?.ID, 'ListBuckets names an owner');
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(head.$metadata.httpStatusCode, 200);
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    // us-east-1 buckets report an empty LocationConstraint, as AWS does.
    if (target.region === 'us-east-1') assert.ok(!loc.LocationConstraint, `got ${loc.LocationConstraint}`);
    else assert.equal(loc.LocationConstraint, target.region);
    const ver = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    assert.equal(ver.Status, undefined, 'versioning never enabled: no Status');
    const del = await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const after = await s3.send(new ListBucketsCommand({}));
    assert.ok(!after.Buckets?.some((b) => b.Name === bucket), 'deleted bucket is gone from the list');
  });

  test('CreateBucket with a CreateBucketConfiguration body naming the server region', async () => {
    const bucket = uniqueBucket('loc');
    const res = await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: target.region as 'us-east-2' },
      }),
    );
    assert.equal(res.$metadata.httpStatusCode, 200);
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  });

  test('CreateBucket twice → 409 BucketAlreadyOwnedByYou', async () => {
    const bucket = uniqueBucket('twice');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: bucket })), {
      code: 'BucketAlreadyOwnedByYou',
      status: 409,
    });
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  });

  const badNames = [
    'ab',
    'x'.repeat(64),
    'Upper-Case',
    'under_score',
    '-leading',
    'trailing-',
    'a..b',
    '192.168.5.4',
  ];
  for (const name of badNames) {
    test(`CreateBucket ${JSON.stringify(name)} → 400 InvalidBucketName`, async () => {
      await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: name })), {
        code: 'InvalidBucketName',
        status: 400,
      });
    });
  }

  test('DeleteBucket: non-empty → 409 BucketNotEmpty; missing → 404 NoSuchBucket', async () => {
    const bucket = uniqueBucket('full');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: bucket })), {
      code: 'BucketNotEmpty',
      status: 409,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: bucket })), {
      code: 'NoSuchBucket',
      status: 404,
    });
  });

  test('DeleteBucket with a multipart upload in progress → 409 BucketNotEmpty; the name reused by another key shows none of it', async () => {
    const bucket = uniqueBucket('uploading');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'first part' }),
    );
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: bucket })), {
      code: 'BucketNotEmpty',
      status: 409,
    });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    if (!target.otherCreds) return;
    const other = s3For(target, target.otherCreds);
    try {
      await other.send(new CreateBucketCommand({ Bucket: bucket }));
      const uploads = await other.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(uploads.Uploads?.length ?? 0, 0);
      const complete = other.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'mp',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
        }),
      );
      await expectS3Error(complete, { code: 'NoSuchUpload', status: 404 });
      await other.send(new DeleteBucketCommand({ Bucket: bucket }));
    } finally {
      other.destroy();
    }
  });

  test('HeadBucket on a missing bucket → 404 without a body', async () => {
    // The SDK names body-less HEAD errors after the status.
    await expectS3Error(s3.send(new HeadBucketCommand({ Bucket: uniqueBucket('nobody') })), {
      code: 'NotFound',
      status: 404,
    });
  });

  test('operations on a missing bucket → 404 NoSuchBucket', async () => {
    const bucket = uniqueBucket('absent');
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' })), {
      code: 'NoSuchBucket',
      status: 404,
    });
    await expectS3Error(s3.send(new GetBucketLocationCommand({ Bucket: bucket })), {
      code: 'NoSuchBucket',
      status: 404,
    });
  });
});
