// versionId on a never-versioned bucket, and conditional deletes (If-Match, DeleteObjects <ETag>), with the
// real SDK and raw HTTP. Such a bucket holds only null versions: `null` is the current object, anything else
// is an error (versioned buckets: sdk-versioning.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const WELL_FORMED = 'v5n1PPUjOCMHLyyfq0ayjoZ5RZLfVQKA';

describe('versionId and conditional deletes', { timeout: 60_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('delver');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  const put = async (key: string, body: string) =>
    (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).ETag!;
  const exists = async (key: string) => {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch {
      return false;
    }
  };

  test('delete-object --version-id bogus → 400 InvalidArgument, a well-formed id → 404 NoSuchVersion; the object lives', async () => {
    await put('live', 'still here');
    const err = await expectS3Error(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'live', VersionId: 'bogus' })),
      { code: 'InvalidArgument', status: 400 },
    );
    assert.equal(err.message, 'Invalid version id specified');
    await expectS3Error(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'live', VersionId: WELL_FORMED })),
      {
        code: 'NoSuchVersion',
        status: 404,
      },
    );
    assert.ok(await exists('live'));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'live', VersionId: 'null' }));
    assert.equal(await exists('live'), false);
  });

  test('GET and HEAD: versionId=null is the current object; others are 400/404 (HEAD without a body)', async () => {
    await put('read', 'current bytes');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', VersionId: 'null' }));
    assert.equal((await readBody(got.Body)).toString(), 'current bytes');
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'read', VersionId: 'null' }));
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', VersionId: 'bogus' })), {
      code: 'InvalidArgument',
      status: 400,
    });
    await expectS3Error(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'read', VersionId: WELL_FORMED })),
      {
        code: 'NoSuchVersion',
        status: 404,
      },
    );
    const head = await signedRaw(target, {
      method: 'HEAD',
      path: keyPath(bucket, 'read'),
      query: { versionId: 'x' },
    });
    assert.equal(head.status, 400);
    assert.equal(head.body.length, 0);
    const head404 = await signedRaw(target, {
      method: 'HEAD',
      path: keyPath(bucket, 'read'),
      query: { versionId: WELL_FORMED },
    });
    assert.equal(head404.status, 404);
    const empty = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'read'),
      query: { versionId: '' },
    });
    assert.equal(empty.status, 400);
    assert.equal(errorCode(empty.body), 'InvalidArgument');
  });

  test('copy sources: ?versionId=null copies, bogus → 400, well-formed → 404 (CopyObject and UploadPartCopy)', async () => {
    await put('src', 'source bytes');
    await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src?versionId=null` }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dst' }));
    assert.equal((await readBody(got.Body)).toString(), 'source bytes');
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: 'dst2', CopySource: `${bucket}/src?versionId=bogus` }),
      ),
      { code: 'InvalidArgument', status: 400 },
    );
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'dst2',
          CopySource: `${bucket}/src?versionId=${WELL_FORMED}`,
        }),
      ),
      { code: 'NoSuchVersion', status: 404 },
    );
    assert.equal(await exists('dst2'), false);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part = { Bucket: bucket, Key: 'mp', UploadId: up.UploadId!, PartNumber: 1 };
    await s3.send(new UploadPartCopyCommand({ ...part, CopySource: `${bucket}/src?versionId=null` }));
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ ...part, CopySource: `${bucket}/src?versionId=bogus` })),
      {
        code: 'InvalidArgument',
        status: 400,
      },
    );
    await expectS3Error(
      s3.send(new UploadPartCopyCommand({ ...part, CopySource: `${bucket}/src?versionId=${WELL_FORMED}` })),
      { code: 'NoSuchVersion', status: 404 },
    );
  });

  test('DeleteObject If-Match: a wrong ETag → 412 and the object stays; the right one or * deletes; missing key → 404', async () => {
    const etag = await put('cond', 'v1');
    await expectS3Error(
      s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: '"0123"' })),
      {
        code: 'PreconditionFailed',
        status: 412,
      },
    );
    assert.ok(await exists('cond'));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: etag }));
    assert.equal(await exists('cond'), false);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: etag })), {
      code: 'NoSuchKey',
      status: 404,
    });
    await put('cond', 'v2');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: '*' }));
    assert.equal(await exists('cond'), false);
    // Preconditions Quire cannot check are refused, never ignored.
    await put('cond', 'v3');
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'cond', IfMatchSize: 999 })), {
      code: 'NotImplemented',
      status: 501,
    });
    assert.ok(await exists('cond'));
  });

  test('DeleteObjects: per-key <ETag> and <VersionId> answered per key in the result', async () => {
    const a = await put('m/a', 'a');
    await put('m/b', 'b');
    await put('m/c', 'c');
    await put('m/d', 'd');
    const res = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: {
          Objects: [
            { Key: 'm/a', ETag: a },
            { Key: 'm/b', ETag: '"ffffffffffffffffffffffffffffffff"' },
            { Key: 'm/c', VersionId: 'bogus' },
            { Key: 'm/d', VersionId: 'null' },
            { Key: 'm/none', ETag: a },
          ],
        },
      }),
    );
    const deleted = (res.Deleted ?? []).map((d) => `${d.Key}@${d.VersionId ?? ''}`).sort();
    assert.deepEqual(deleted, ['m/a@', 'm/d@null']);
    const errors = Object.fromEntries(
      (res.Errors ?? []).map((e) => [e.Key, `${e.Code}@${e.VersionId ?? ''}`]),
    );
    assert.deepEqual(errors, {
      'm/b': 'PreconditionFailed@',
      'm/c': 'NoSuchVersion@bogus',
      'm/none': 'NoSuchKey@',
    });
    assert.equal(await exists('m/a'), false);
    assert.equal(await exists('m/b'), true);
    assert.equal(await exists('m/c'), true);
    assert.equal(await exists('m/d'), false);
  });
});
