// Bucket and object tagging through the SDK: round trips, AWS's limits and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type Tag,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { md5b64 } from './bytes.ts';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, expectStatus, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const tags = (n: number, prefix = 'k'): Tag[] =>
  Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: `v${i}` }));

describe('sdk: bucket tagging', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('btags');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('no tags → 404 NoSuchTagSet; put, get (in order), replace, delete', async () => {
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), {
      code: 'NoSuchTagSet',
      status: 404,
    });
    const set = [
      { Key: 'team', Value: 'backup' },
      { Key: 'cost center', Value: 'é 42' },
      { Key: 'empty', Value: '' },
    ];
    await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: set } }));
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, set);
    await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: tags(50) } }));
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, tags(50));
    const del = await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), {
      code: 'NoSuchTagSet',
      status: 404,
    });
    // Deleting tags that are not there is fine, as on AWS.
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
  });

  test("AWS's refusals leave the tags as they were", async () => {
    const keep = [{ Key: 'keep', Value: 'me' }];
    await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: keep } }));
    const refuse = async (TagSet: Tag[], code: string) => {
      await expectS3Error(s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet } })), {
        code,
        status: 400,
      });
    };
    await refuse(tags(51), 'BadRequest');
    await refuse([{ Key: 'k'.repeat(129), Value: 'v' }], 'InvalidTag');
    await refuse([{ Key: 'k', Value: 'v'.repeat(257) }], 'InvalidTag');
    await refuse(
      [
        { Key: 'a', Value: '1' },
        { Key: 'a', Value: '2' },
      ],
      'InvalidTag',
    );
    await refuse([{ Key: 'aws:reserved', Value: 'x' }], 'InvalidTag');
    const malformed = Buffer.from('<Tagging><TagSet><Tag><Key>x</Key></Tag></TagSet></Tagging>');
    const bad = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { tagging: '' },
      headers: { 'content-md5': md5b64(malformed) },
      body: malformed,
    });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'MalformedXML');
    // As AWS, PutBucketTagging wants Content-MD5 (or a checksum) with its body.
    const unchecked = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { tagging: '' },
      body: Buffer.from('<Tagging><TagSet><Tag><Key>x</Key><Value>y</Value></Tag></TagSet></Tagging>'),
    });
    assert.equal(unchecked.status, 400);
    assert.equal(errorCode(unchecked.body), 'InvalidRequest');
    assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, keep);
  });

  test('tags belong to the incarnation: a bucket created again under the name starts without them', async () => {
    const name = uniqueBucket('btags-again');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: tags(2) } }));
    await s3.send(new DeleteBucketCommand({ Bucket: name }));
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: name })), {
      code: 'NoSuchTagSet',
      status: 404,
    });
  });

  test('another owner is denied; a missing bucket is NoSuchBucket', async (t) => {
    await expectS3Error(s3.send(new GetBucketTaggingCommand({ Bucket: uniqueBucket('none') })), {
      code: 'NoSuchBucket',
      status: 404,
    });
    if (!target.otherCreds) return t.skip('no second key');
    const other = s3For(target, target.otherCreds);
    try {
      await expectS3Error(
        other.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: tags(1) } })),
        { code: 'AccessDenied', status: 403 },
      );
    } finally {
      other.destroy();
    }
  });
});

describe('sdk: object tagging', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const getTags = async (Key: string, VersionId?: string) =>
    (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key, VersionId }))).TagSet;

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('otags');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('put, get, replace, delete; GET/HEAD report x-amz-tagging-count; the data is untouched', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: 'data' }));
    assert.deepEqual(await getTags('o'), []);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'o' }))).TagCount, undefined);
    const set = [
      { Key: 'b', Value: '2' },
      { Key: 'a', Value: '' },
    ];
    const put = await s3.send(
      new PutObjectTaggingCommand({ Bucket: bucket, Key: 'o', Tagging: { TagSet: set } }),
    );
    assert.equal(put.$metadata.httpStatusCode, 200);
    assert.deepEqual(await getTags('o'), set);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'o' }));
    assert.equal(head.TagCount, 2);
    const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'o' }));
    assert.equal(get.TagCount, 2);
    assert.equal(await get.Body?.transformToString(), 'data');
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'o', Tagging: { TagSet: tags(10) } }));
    assert.deepEqual(await getTags('o'), tags(10));
    const del = await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'o' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    assert.deepEqual(await getTags('o'), []);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'o' }))).ETag, head.ETag);
  });

  test("AWS's refusals: 11 tags BadRequest, bad keys/values InvalidTag, bad XML MalformedXML, no key NoSuchKey", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: 'x', Tagging: 'keep=1' }));
    const refuse = (TagSet: Tag[], code: string) =>
      expectS3Error(s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'r', Tagging: { TagSet } })), {
        code,
        status: 400,
      });
    await refuse(tags(11), 'BadRequest');
    await refuse([{ Key: 'k'.repeat(129), Value: '' }], 'InvalidTag');
    await refuse([{ Key: 'k', Value: 'v'.repeat(257) }], 'InvalidTag');
    await refuse([{ Key: 'aws:x', Value: '' }], 'InvalidTag');
    await refuse(
      [
        { Key: 'd', Value: '1' },
        { Key: 'd', Value: '2' },
      ],
      'InvalidTag',
    );
    const bad = await signedRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'r'),
      query: { tagging: '' },
      body: Buffer.from('<Tagging><TagSet><Tag><Key>x</Key></Tag></TagSet></Tagging>'),
    });
    assert.equal(errorCode(bad.body), 'MalformedXML');
    assert.deepEqual(await getTags('r'), [{ Key: 'keep', Value: '1' }]);
    await expectS3Error(getTags('missing'), { code: 'NoSuchKey', status: 404 });
    await expectS3Error(
      s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'missing', Tagging: { TagSet: tags(1) } })),
      { code: 'NoSuchKey', status: 404 },
    );
  });

  test('x-amz-tagging on PUT: stored; 11 tags, a bad tag or a duplicate key refuse the PUT and store nothing', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'p', Body: 'x', Tagging: 'a=1&b=two%20words&c=' }),
    );
    assert.deepEqual(await getTags('p'), [
      { Key: 'a', Value: '1' },
      { Key: 'b', Value: 'two words' },
      { Key: 'c', Value: '' },
    ]);
    const put = (Key: string, Tagging: string) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x', Tagging }));
    await expectS3Error(
      put(
        'p11',
        tags(11)
          .map((t) => `${t.Key}=${t.Value}`)
          .join('&'),
      ),
      { code: 'BadRequest', status: 400 },
    );
    await expectS3Error(put('pbad', `k=${'v'.repeat(257)}`), { code: 'InvalidTag', status: 400 });
    await expectS3Error(put('pdup', 'a=1&a=2'), { code: 'InvalidArgument', status: 400 });
    for (const Key of ['p11', 'pbad', 'pdup'])
      await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key })), 404, Key);
  });

  test('CopyObject: tags are copied by default (COPY), replaced by REPLACE, refused for another directive', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'x', Tagging: 's=1' }));
    const copy = (Key: string, more: { TaggingDirective?: 'COPY' | 'REPLACE'; Tagging?: string } = {}) =>
      s3.send(new CopyObjectCommand({ Bucket: bucket, Key, CopySource: `${bucket}/src`, ...more }));
    await copy('c1');
    assert.deepEqual(await getTags('c1'), [{ Key: 's', Value: '1' }]);
    await copy('c2', { TaggingDirective: 'REPLACE', Tagging: 'r=2' });
    assert.deepEqual(await getTags('c2'), [{ Key: 'r', Value: '2' }]);
    await copy('c3', { TaggingDirective: 'REPLACE' });
    assert.deepEqual(await getTags('c3'), []);
    const odd = await signedRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'c4'),
      headers: { 'x-amz-copy-source': `/${bucket}/src`, 'x-amz-tagging-directive': 'MERGE' },
    });
    assert.equal(odd.status, 400);
    assert.equal(errorCode(odd.body), 'InvalidArgument');
  });

  test('CreateMultipartUpload x-amz-tagging: the completed object carries them, across a restart', async (t) => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', Tagging: 'from=create&n=2' }),
    );
    const part = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'p' }),
    );
    if (target.embedded) {
      // The upload's tags are durable with the upload itself.
      await target.kill();
      await target.start();
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
      }),
    );
    assert.deepEqual(await getTags('mp'), [
      { Key: 'from', Value: 'create' },
      { Key: 'n', Value: '2' },
    ]);
    await expectS3Error(
      s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp2', Tagging: 'aws:no=1' })),
      { code: 'InvalidTag', status: 400 },
    );
    if (!target.embedded) t.diagnostic('restart part skipped: external target');
  });

  test('versioned bucket: each version has its own tags (versionId), a delete marker has none', async () => {
    const vb = uniqueBucket('otags-v');
    await s3.send(new CreateBucketCommand({ Bucket: vb }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: vb, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: '1', Tagging: 'v=1' })))
      .VersionId!;
    const v2 = (await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: '2', Tagging: 'v=2' })))
      .VersionId!;
    const tagsOf = async (VersionId?: string) =>
      (await s3.send(new GetObjectTaggingCommand({ Bucket: vb, Key: 'k', VersionId }))).TagSet;
    assert.deepEqual(await tagsOf(), [{ Key: 'v', Value: '2' }]);
    assert.deepEqual(await tagsOf(v1), [{ Key: 'v', Value: '1' }]);
    const put = await s3.send(
      new PutObjectTaggingCommand({
        Bucket: vb,
        Key: 'k',
        VersionId: v1,
        Tagging: { TagSet: [{ Key: 'old', Value: 'yes' }] },
      }),
    );
    assert.equal(put.VersionId, v1);
    assert.deepEqual(await tagsOf(v1), [{ Key: 'old', Value: 'yes' }]);
    assert.deepEqual(await tagsOf(v2), [{ Key: 'v', Value: '2' }], 'the other version keeps its tags');
    const got = await s3.send(new GetObjectTaggingCommand({ Bucket: vb, Key: 'k' }));
    assert.equal(got.VersionId, v2);
    const del = await s3.send(new DeleteObjectTaggingCommand({ Bucket: vb, Key: 'k', VersionId: v2 }));
    assert.equal(del.VersionId, v2);
    assert.deepEqual(await tagsOf(v2), []);
    // The version ids did not change: the data of each version is still there.
    assert.equal(
      await (
        await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'k', VersionId: v1 }))
      ).Body?.transformToString(),
      '1',
    );
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: vb, Key: 'k' }))).VersionId!;
    await expectS3Error(tagsOf(), { code: 'NoSuchKey', status: 404 });
    await expectS3Error(tagsOf(marker), { code: 'MethodNotAllowed', status: 405 });
    await expectS3Error(
      s3.send(
        new PutObjectTaggingCommand({
          Bucket: vb,
          Key: 'k',
          VersionId: marker,
          Tagging: { TagSet: tags(1) },
        }),
      ),
      { code: 'MethodNotAllowed', status: 405 },
    );
    await expectS3Error(tagsOf('AAAAAAAAAAAAAAAA'), { code: 'NoSuchVersion', status: 404 });
    await expectS3Error(tagsOf('bad id!'), { code: 'InvalidArgument', status: 400 });
  });
});
