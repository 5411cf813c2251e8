// Bucket and object tagging through the SDK: round trips, AWS's limits and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketTaggingCommand,
  GetBucketTaggingCommand,
  PutBucketTaggingCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3';
import { errorCode, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
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
    const bad = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { tagging: '' },
      body: Buffer.from('<Tagging><TagSet><Tag><Key>x</Key></Tag></TagSet></Tagging>'),
    });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'MalformedXML');
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
