// Bucket lifecycle through the SDK: the configuration (round trip, AWS's refusals), x-amz-expiration on
// GET/HEAD, and the storage node's worker run "days later" with the server's injected clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { md5b64 } from './bytes.ts';
import { errorCode, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const DAY = 24 * 3600 * 1000;

describe('sdk: lifecycle configuration', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const put = (Rules: LifecycleRule[], Bucket = bucket) =>
    s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
  const get = (Bucket = bucket) => s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('lc');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('none → 404 NoSuchLifecycleConfiguration; put, get back, replace, delete', async () => {
    await expectS3Error(get(), { code: 'NoSuchLifecycleConfiguration', status: 404 });
    const rules: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      {
        ID: 'old versions',
        Status: 'Enabled',
        Filter: { And: { Prefix: 'db/', Tags: [{ Key: 'keep', Value: 'no' }], ObjectSizeGreaterThan: 10 } },
        NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 3 },
      },
      {
        ID: 'uploads',
        Status: 'Disabled',
        Filter: {},
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
      },
      {
        ID: 'markers',
        Status: 'Enabled',
        Filter: { Prefix: '' },
        Expiration: { ExpiredObjectDeleteMarker: true },
      },
      {
        ID: 'dated',
        Status: 'Enabled',
        Filter: { ObjectSizeLessThan: 100 },
        Expiration: { Date: new Date(Date.UTC(2031, 5, 1)) },
      },
    ];
    await put(rules);
    const got = await get();
    assert.deepEqual(got.Rules, rules);
    await put([rules[0]!]);
    assert.deepEqual((await get()).Rules, [rules[0]]);
    const del = await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectS3Error(get(), { code: 'NoSuchLifecycleConfiguration', status: 404 });
  });

  test("AWS's refusals, and the configuration before them stays", async () => {
    const keep: LifecycleRule[] = [{ ID: 'keep', Status: 'Enabled', Filter: {}, Expiration: { Days: 9 } }];
    await put(keep);
    const refuse = (rules: LifecycleRule[], code: string, status = 400) =>
      expectS3Error(put(rules), { code, status }, code);
    await refuse(
      [{ ID: 'x', Status: 'Enabled', Filter: {}, Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }],
      'InvalidStorageClass',
    );
    await refuse([{ ID: 'x', Status: 'Enabled', Filter: {}, Expiration: { Days: 0 } }], 'InvalidArgument');
    await refuse([{ ID: 'x', Status: 'Enabled', Filter: {} }], 'InvalidRequest');
    await refuse(
      [
        { ID: 'same', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } },
        { ID: 'same', Status: 'Enabled', Filter: {}, Expiration: { Days: 2 } },
      ],
      'InvalidArgument',
    );
    await refuse(
      [{ ID: 'x', Status: 'Enabled', Filter: {}, Expiration: { Date: new Date(Date.UTC(2031, 0, 1, 12)) } }],
      'InvalidArgument',
    );
    const malformed = Buffer.from(
      '<LifecycleConfiguration><Rule><Status>On</Status></Rule></LifecycleConfiguration>',
    );
    const raw = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { lifecycle: '' },
      headers: { 'content-md5': md5b64(malformed) },
      body: malformed,
    });
    assert.equal(raw.status, 400);
    assert.equal(errorCode(raw.body), 'MalformedXML');
    // As AWS, the configuration must come with Content-MD5 (or a checksum).
    const good = Buffer.from(
      '<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    );
    const unchecked = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { lifecycle: '' },
      body: good,
    });
    assert.equal(unchecked.status, 400);
    assert.equal(errorCode(unchecked.body), 'InvalidRequest');
    const checked = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { lifecycle: '' },
      headers: { 'content-md5': md5b64(good) },
      body: good,
    });
    assert.equal(checked.status, 200);
    await put(keep);
    assert.deepEqual((await get()).Rules, keep);
  });

  test('GET and HEAD of an object a rule will expire carry x-amz-expiration (midnight UTC, rule id)', async () => {
    const b = uniqueBucket('lc-exp');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await put(
      [{ ID: 'tmp rule', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 3 } }],
      b,
    );
    const written = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'tmp/a', Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/a', Body: 'x' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'tmp/a' }));
    const lm = head.LastModified!.getTime();
    const day = Math.ceil((lm + 3 * DAY) / DAY) * DAY;
    assert.equal(head.Expiration, `expiry-date="${new Date(day).toUTCString()}", rule-id="tmp%20rule"`);
    const getRes = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'tmp/a' }));
    assert.equal(getRes.Expiration, head.Expiration);
    assert.equal(written.Expiration, head.Expiration, 'PutObject announces it too');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'tmp/mp' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: b, Key: 'tmp/mp', UploadId, PartNumber: 1, Body: 'p' }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'tmp/mp',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
      }),
    );
    assert.match(
      done.Expiration ?? '',
      /^expiry-date="[^"]+ 00:00:00 GMT", rule-id="tmp%20rule"$/,
      'and so does CompleteMultipartUpload',
    );
    await getRes.Body?.transformToByteArray();
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'keep/a' }))).Expiration, undefined);
    // A rule filtered by tag applies to objects carrying the tag only.
    await put(
      [
        { ID: 'tmp rule', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 3 } },
        {
          ID: 'scratch',
          Status: 'Enabled',
          Filter: { Tag: { Key: 'scratch', Value: 'yes' } },
          Expiration: { Days: 1 },
        },
      ],
      b,
    );
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/t', Body: 'x', Tagging: 'scratch=yes' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/u', Body: 'x', Tagging: 'scratch=no' }));
    assert.match(
      (await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'keep/t' }))).Expiration ?? '',
      /rule-id="scratch"/,
    );
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'keep/u' }))).Expiration, undefined);
    // A noncurrent version (read by id) is not announced by an Expiration rule.
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const old = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'tmp/v', Body: '1' }))).VersionId;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'tmp/v', Body: '2' }));
    assert.match(
      (await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'tmp/v' }))).Expiration ?? '',
      /tmp%20rule/,
    );
    assert.equal(
      (await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'tmp/v', VersionId: old }))).Expiration,
      undefined,
    );
  });
});
