// CopyObject through the SDK: metadata directives, copy-source conditions, copy onto itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { md5hex, seededBytes } from './bytes.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

describe('sdk: CopyObject', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  let other: string;
  const body = seededBytes(7, 200_003);
  let etag = '';

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('copy');
    other = uniqueBucket('copy-dst');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new CreateBucketCommand({ Bucket: other }));
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'src',
        Body: body,
        ContentType: 'application/x-src',
        Metadata: { origin: 'source' },
      }),
    );
    etag = put.ETag!;
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('MetadataDirective COPY (default) keeps metadata and bytes, across buckets', async () => {
    const res = await s3.send(
      new CopyObjectCommand({ Bucket: other, Key: 'dst', CopySource: `${bucket}/src` }),
    );
    assert.equal(res.CopyObjectResult?.ETag, etag);
    assert.ok(res.CopyObjectResult?.LastModified instanceof Date);
    const got = await s3.send(new GetObjectCommand({ Bucket: other, Key: 'dst' }));
    assert.deepEqual(await readBody(got.Body), body);
    assert.equal(got.ContentType, 'application/x-src');
    assert.deepEqual(got.Metadata, { origin: 'source' });
  });

  test('MetadataDirective REPLACE takes the new metadata and content type', async () => {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'replaced',
        CopySource: `${bucket}/src`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-new',
        Metadata: { fresh: 'yes' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'replaced' }));
    assert.equal(head.ContentType, 'text/x-new');
    assert.deepEqual(head.Metadata, { fresh: 'yes' });
    assert.equal(head.ETag, etag);
  });

  test('CopySource with a URL-encoded awkward key', async () => {
    const key = 'dir/with space+plus%-ß';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'odd' }));
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'odd-copy',
        CopySource: `${bucket}/${encodeURIComponent(key)}`,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'odd-copy' }));
    assert.equal((await readBody(got.Body)).toString(), 'odd');
  });

  test('CopySourceIfMatch / IfNoneMatch / IfModifiedSince / IfUnmodifiedSince', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'src' }));
    const lm = head.LastModified!;
    const dayBefore = new Date(lm.getTime() - 86_400_000);
    const copy = (extra: Record<string, unknown>) =>
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond', CopySource: `${bucket}/src`, ...extra }));
    const ok = await copy({ CopySourceIfMatch: etag });
    assert.equal(ok.CopyObjectResult?.ETag, etag);
    const fail = { code: 'PreconditionFailed', status: 412 };
    await expectS3Error(copy({ CopySourceIfMatch: '"00000000000000000000000000000000"' }), fail, 'IfMatch');
    await expectS3Error(copy({ CopySourceIfNoneMatch: etag }), fail, 'IfNoneMatch');
    await expectS3Error(copy({ CopySourceIfModifiedSince: lm }), fail, 'IfModifiedSince');
    await expectS3Error(copy({ CopySourceIfUnmodifiedSince: dayBefore }), fail, 'IfUnmodifiedSince');
    const ok2 = await copy({ CopySourceIfNoneMatch: '"00000000000000000000000000000000"' });
    assert.equal(ok2.CopyObjectResult?.ETag, etag);
  });

  test('copy onto itself with REPLACE changes metadata; without REPLACE → 400 InvalidRequest', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'self', Body: 'me', Metadata: { v: '1' } }));
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'self',
        CopySource: `${bucket}/self`,
        MetadataDirective: 'REPLACE',
        Metadata: { v: '2' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'self' }));
    assert.deepEqual(head.Metadata, { v: '2' });
    assert.equal(head.ETag, `"${md5hex(Buffer.from('me'))}"`);
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self', CopySource: `${bucket}/self` })),
      {
        code: 'InvalidRequest',
        status: 400,
      },
    );
  });

  test('copy of a missing source → 404 NoSuchKey; of a missing bucket → 404 NoSuchBucket', async () => {
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/none` })),
      {
        code: 'NoSuchKey',
        status: 404,
      },
    );
    await expectS3Error(
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${uniqueBucket('gone')}/src` })),
      { code: 'NoSuchBucket', status: 404 },
    );
  });
});
