// Bucket policies through the SDK and raw HTTP: put/get/delete/status, AWS's errors for bad documents, and
// evaluation (cross-key grants, explicit Deny over the owner, conditions, anonymous access without hints).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorCode, sendRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const T = { timeout: 60_000 };

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

describe('sdk: bucket policies', () => {
  let target: Target;
  let s3: S3Client;
  let other: S3Client;
  let otherKey: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    assert.ok(target.otherCreds, 'the suite needs a second access key');
    other = s3For(target, target.otherCreds);
    otherKey = target.otherCreds.accessKeyId;
  });
  after(async () => {
    s3?.destroy();
    other?.destroy();
    await target?.close();
  });

  async function bucketWith(prefix: string, objects: Record<string, string> = {}): Promise<string> {
    const bucket = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [key, body] of Object.entries(objects))
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return bucket;
  }

  const anonymous = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) =>
    sendRaw(target, { method, path, headers, ...(body ? { body } : {}) });

  test('put, get (the document as sent), status, delete; NoSuchBucketPolicy without one', T, async () => {
    const bucket = await bucketWith('pol-crud');
    await expectS3Error(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      code: 'NoSuchBucketPolicy',
      status: 404,
    });
    await expectS3Error(s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket })), {
      code: 'NoSuchBucketPolicy',
      status: 404,
    });
    const doc = `{ "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "${otherKey}"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${bucket}/*"}]}`;
    const put = await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: doc }));
    assert.equal(put.$metadata.httpStatusCode, 204);
    const got = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
    assert.equal(got.Policy, doc);
    const status = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }));
    assert.equal(status.PolicyStatus?.IsPublic, false);

    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${bucket}/*`,
        }),
      }),
    );
    const isPublic = async () =>
      (await s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }))).PolicyStatus?.IsPublic;
    assert.equal(await isPublic(), true);
    // A public grant narrowed to one address range is not public.
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${bucket}/*`,
          Condition: { IpAddress: { 'aws:SourceIp': '10.1.0.0/16' } },
        }),
      }),
    );
    assert.equal(await isPublic(), false);

    const del = await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectS3Error(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      code: 'NoSuchBucketPolicy',
      status: 404,
    });
  });

  test('bad documents → 400 MalformedPolicy, nothing stored', T, async () => {
    const bucket = await bucketWith('pol-bad');
    const arn = `arn:aws:s3:::${bucket}/*`;
    const ok = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: arn };
    const bad: Array<[string, string]> = [
      ['not JSON', '{"Statement": ['],
      ['not an object', '[1,2]'],
      ['no Statement', JSON.stringify({ Version: '2012-10-17' })],
      ['unknown field', policy({ ...ok, Colour: 'blue' })],
      ['bad Effect', policy({ ...ok, Effect: 'Maybe' })],
      ['no Principal', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: arn })],
      ['unknown principal', policy({ ...ok, Principal: { AWS: 'NOSUCHKEY' } })],
      ['invalid action', policy({ ...ok, Action: 's3:FlyToTheMoon' })],
      ['not an s3 action', policy({ ...ok, Action: 'ec2:RunInstances' })],
      ['another bucket', policy({ ...ok, Resource: 'arn:aws:s3:::someone-elses-bucket/*' })],
      ['not an ARN', policy({ ...ok, Resource: 'my-bucket' })],
      ['bucket action on objects only', policy({ ...ok, Action: 's3:ListBucket' })],
      ['unknown condition', policy({ ...ok, Condition: { StringSortOf: { 'aws:Referer': 'x' } } })],
      ['bad address', policy({ ...ok, Condition: { IpAddress: { 'aws:SourceIp': '300.1.1.1/8' } } })],
      ['bad version', JSON.stringify({ Version: '2020-01-01', Statement: [ok] })],
    ];
    for (const [what, doc] of bad) {
      await expectS3Error(
        s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: doc })),
        { code: 'MalformedPolicy', status: 400 },
        what,
      );
    }
    await expectS3Error(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      code: 'NoSuchBucketPolicy',
      status: 404,
    });
  });

  test('another key: denied without a grant; the policy grants exactly what it names', T, async () => {
    const bucket = await bucketWith('pol-cross', { 'shared/a': 'A', 'private/b': 'B' });
    await expectS3Error(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/a' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: { AWS: [`arn:aws:iam::${otherKey}:root`] },
          Action: ['s3:Get*'],
          Resource: `arn:aws:s3:::${bucket}/shared/*`,
        }),
      }),
    );
    const got = await other.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/a' }));
    assert.equal((await readBody(got.Body)).toString(), 'A');
    await expectS3Error(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'private/b' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await expectS3Error(other.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared/c', Body: 'x' })), {
      code: 'AccessDenied',
      status: 403,
    });
    // Without s3:ListBucket, a missing key is AccessDenied, not NoSuchKey.
    await expectS3Error(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/missing' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await expectS3Error(other.send(new ListObjectsV2Command({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
    // Only the owner manages the policy: allowed by the policy → 405, not allowed → 403.
    await expectS3Error(other.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: { AWS: otherKey },
          Action: ['s3:GetBucketPolicy', 's3:ListBucket', 's3:GetObject'],
          Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
        }),
      }),
    );
    await expectS3Error(other.send(new GetBucketPolicyCommand({ Bucket: bucket })), {
      code: 'MethodNotAllowed',
      status: 405,
    });
    // With s3:ListBucket the requester learns the key is missing.
    await expectS3Error(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/missing' })), {
      code: 'NoSuchKey',
      status: 404,
    });
    const listed = await other.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(
      listed.Contents?.map((c) => c.Key),
      ['private/b', 'shared/a'],
    );
  });

  test('x-amz-expected-bucket-owner (and the copy source one) must name the owner, else 403', T, async () => {
    const bucket = await bucketWith('pol-expected', { k: 'v' });
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'k', ExpectedBucketOwner: target.creds.accessKeyId }),
    );
    assert.equal((await readBody(got.Body)).toString(), 'v');
    await expectS3Error(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ExpectedBucketOwner: otherKey })),
      {
        code: 'AccessDenied',
        status: 403,
      },
    );
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'c',
          CopySource: `${bucket}/k`,
          ExpectedSourceBucketOwner: otherKey,
        }),
      ),
      { code: 'AccessDenied', status: 403 },
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'c',
        CopySource: `${bucket}/k`,
        ExpectedSourceBucketOwner: target.creds.accessKeyId,
      }),
    );
  });

  test('an explicit Deny beats the owner, but never locks the owner out of the policy', T, async () => {
    const bucket = await bucketWith('pol-deny', { keep: 'K' });
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Deny',
          Principal: '*',
          Action: ['s3:DeleteObject', 's3:*Policy'],
          Resource: [`arn:aws:s3:::${bucket}/*`, `arn:aws:s3:::${bucket}`],
        }),
      }),
    );
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'keep' })), {
      code: 'AccessDenied',
      status: 403,
    });
    const res = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'keep' }] } }),
    );
    assert.equal(res.Errors?.[0]?.Code, 'AccessDenied');
    assert.ok((await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy);
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'keep' }));
  });

  test('DeleteObjects is decided key by key', T, async () => {
    const bucket = await bucketWith('pol-delkeys', { 'tmp/1': '1', 'keep/2': '2' });
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: { AWS: otherKey },
          Action: 's3:DeleteObject',
          Resource: `arn:aws:s3:::${bucket}/tmp/*`,
        }),
      }),
    );
    const res = await other.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [{ Key: 'tmp/1' }, { Key: 'keep/2' }] },
      }),
    );
    assert.deepEqual(
      res.Deleted?.map((d) => d.Key),
      ['tmp/1'],
    );
    assert.deepEqual(
      res.Errors?.map((e) => [e.Key, e.Code]),
      [['keep/2', 'AccessDenied']],
    );
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(
      left.Contents?.map((c) => c.Key),
      ['keep/2'],
    );
  });

  test('anonymous: allowed exactly where the policy grants it, with no hint of existence', T, async () => {
    const bucket = await bucketWith('pol-anon', { 'public/page.html': '<p>hi</p>', secret: 'S' });
    const denied = async (res: Promise<{ status: number; body: Buffer }>, what: string) => {
      const r = await res;
      assert.equal(r.status, 403, what);
      assert.equal(errorCode(r.body), 'AccessDenied', what);
    };
    await denied(anonymous('GET', `/${bucket}/public/page.html`), 'before any policy');
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Sid: 'PublicRead',
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${bucket}/public/*`,
        }),
      }),
    );
    const ok = await anonymous('GET', `/${bucket}/public/page.html`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), '<p>hi</p>');
    assert.equal((await anonymous('HEAD', `/${bucket}/public/page.html`)).status, 200);
    await denied(anonymous('GET', `/${bucket}/secret`), 'object outside the grant');
    await denied(
      anonymous('GET', `/${bucket}/public/missing`),
      'missing object: same answer as a hidden one',
    );
    await denied(anonymous('GET', `/${bucket}/missing`), 'missing, outside the grant');
    await denied(anonymous('PUT', `/${bucket}/public/new`, {}, Buffer.from('x')), 'write');
    await denied(anonymous('DELETE', `/${bucket}/public/page.html`), 'delete');
    await denied(anonymous('GET', `/${bucket}?list-type=2`), 'list');
    const del = Buffer.from('<Delete><Object><Key>public/page.html</Key></Object></Delete>');
    await denied(anonymous('POST', `/${bucket}?delete`, {}, del), 'DeleteObjects with no grant at all');
    await denied(anonymous('GET', `/${bucket}?policy`), 'read the policy');
    await denied(anonymous('GET', '/'), 'ListBuckets is never anonymous');
    await denied(anonymous('PUT', `/${uniqueBucket('pol-anon-new')}`), 'CreateBucket is never anonymous');
    // A bucket that does not exist is NoSuchBucket to everyone, as on AWS (names are global).
    const none = await anonymous('GET', `/${uniqueBucket('pol-none')}/x`);
    assert.equal(none.status, 404);
    assert.equal(errorCode(none.body), 'NoSuchBucket');
  });

  test('conditions: source address, referer, list prefix, max-keys', T, async () => {
    const bucket = await bucketWith('pol-cond', { 'a/1': '1', 'b/2': '2' });
    const put = (p: string) => s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: p }));
    const get = (headers: Record<string, string> = {}) => anonymous('GET', `/${bucket}/a/1`, headers);
    const objects = `arn:aws:s3:::${bucket}/*`;
    const read = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: objects };
    await put(policy({ ...read, Condition: { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } } }));
    assert.equal((await get()).status, 200);
    await put(policy({ ...read, Condition: { NotIpAddress: { 'aws:SourceIp': '127.0.0.1/32' } } }));
    assert.equal((await get()).status, 403);
    await put(
      policy({ ...read, Condition: { StringLike: { 'aws:Referer': ['https://www.example.com/*'] } } }),
    );
    assert.equal((await get()).status, 403, 'no Referer');
    assert.equal((await get({ referer: 'https://evil.example.net/' })).status, 403);
    assert.equal((await get({ referer: 'https://www.example.com/page' })).status, 200);
    await put(policy({ ...read, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }));
    assert.equal((await get()).status, 403, 'plain HTTP is not secure transport');
    await put(
      policy(
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:ListBucket',
          Resource: `arn:aws:s3:::${bucket}`,
          Condition: { StringEquals: { 's3:prefix': 'a/', 's3:delimiter': '/' } },
        },
        {
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:ListBucket',
          Resource: `arn:aws:s3:::${bucket}`,
          Condition: { NumericGreaterThan: { 's3:max-keys': '10' } },
        },
      ),
    );
    const listed = await anonymous('GET', `/${bucket}?list-type=2&prefix=a%2F&delimiter=%2F`);
    assert.equal(listed.status, 200);
    assert.match(listed.body.toString(), /<Key>a\/1<\/Key>/);
    assert.equal((await anonymous('GET', `/${bucket}?list-type=2&prefix=b%2F&delimiter=%2F`)).status, 403);
    assert.equal((await anonymous('GET', `/${bucket}?list-type=2`)).status, 403);
    const many = await anonymous('GET', `/${bucket}?list-type=2&prefix=a%2F&delimiter=%2F&max-keys=11`);
    assert.equal(many.status, 403);
  });
});
