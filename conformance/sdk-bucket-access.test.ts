// Bucket ACLs, ownership controls and the public access block through the SDK, and what they let other
// keys and anonymous requests do (raw HTTP); the server-wide --block-public-access default.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketOwnershipControlsCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorCode, sendRaw, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const T = { timeout: 60_000 };
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AUTHENTICATED = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

function publicReadPolicy(bucket: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
    ],
  });
}

describe('sdk: bucket ACLs, ownership controls, public access block', () => {
  let target: Target;
  let s3: S3Client;
  let other: S3Client;
  let owner: string;
  let otherKey: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    assert.ok(target.otherCreds);
    other = s3For(target, target.otherCreds);
    owner = target.creds.accessKeyId;
    otherKey = target.otherCreds.accessKeyId;
  });
  after(async () => {
    s3?.destroy();
    other?.destroy();
    await target?.close();
  });

  async function newBucket(
    prefix: string,
    extra: Partial<ConstructorParameters<typeof CreateBucketCommand>[0]> = {},
  ) {
    const bucket = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ...extra }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
    return bucket;
  }
  const anonymousList = (bucket: string) =>
    sendRaw(target, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } });

  test('GetBucketAcl: the owner with FULL_CONTROL by default', T, async () => {
    const bucket = await newBucket('acl-default');
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    assert.equal(acl.Owner?.ID, owner);
    assert.deepEqual(
      acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.ID, g.Permission]),
      [['CanonicalUser', owner, 'FULL_CONTROL']],
    );
    const raw = await signedRaw(target, { method: 'GET', path: `/${bucket}`, query: { acl: '' } });
    assert.match(
      raw.body.toString(),
      /<Grantee xmlns:xsi="http:\/\/www.w3.org\/2001\/XMLSchema-instance" xsi:type="CanonicalUser"><ID>/,
    );
    await expectS3Error(other.send(new GetBucketAclCommand({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
  });

  test('PutBucketAcl public-read lets anyone list; private takes it back', T, async () => {
    const bucket = await newBucket('acl-public');
    assert.equal((await anonymousList(bucket)).status, 403);
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    assert.deepEqual(
      acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.URI ?? g.Grantee?.ID, g.Permission]),
      [
        ['CanonicalUser', owner, 'FULL_CONTROL'],
        ['Group', ALL_USERS, 'READ'],
      ],
    );
    const listed = await anonymousList(bucket);
    assert.equal(listed.status, 200);
    assert.match(listed.body.toString(), /<Key>k<\/Key>/);
    // READ on a bucket lists it; it does not read the objects (those have their own ACLs).
    const get = await sendRaw(target, { method: 'GET', path: `/${bucket}/k` });
    assert.equal(get.status, 403);
    // Nor does it let anyone write.
    const put = await sendRaw(target, { method: 'PUT', path: `/${bucket}/new`, body: Buffer.from('x') });
    assert.equal(put.status, 403);
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
    assert.equal((await anonymousList(bucket)).status, 403);
  });

  test('public-read-write lets anyone write; authenticated-read only signed keys', T, async () => {
    const bucket = await newBucket('acl-rw');
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
    const put = await sendRaw(target, { method: 'PUT', path: `/${bucket}/dropped`, body: Buffer.from('x') });
    assert.equal(put.status, 200);
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'authenticated-read' }));
    assert.equal((await anonymousList(bucket)).status, 403);
    const listed = await other.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(
      listed.Contents?.map((c) => c.Key),
      ['dropped', 'k'],
    );
  });

  test('grant headers and the AccessControlPolicy document', T, async () => {
    const bucket = await newBucket('acl-grants');
    await expectS3Error(other.send(new ListObjectsV2Command({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
    await s3.send(
      new PutBucketAclCommand({
        Bucket: bucket,
        GrantRead: `id="${otherKey}"`,
        GrantFullControl: `id="${owner}"`,
      }),
    );
    assert.equal((await other.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 1);
    await expectS3Error(other.send(new GetBucketAclCommand({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });

    await s3.send(
      new PutBucketAclCommand({
        Bucket: bucket,
        AccessControlPolicy: {
          Owner: { ID: owner },
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: owner }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'CanonicalUser', ID: otherKey }, Permission: 'READ_ACP' },
            { Grantee: { Type: 'Group', URI: AUTHENTICATED }, Permission: 'WRITE' },
          ],
        },
      }),
    );
    const seen = await other.send(new GetBucketAclCommand({ Bucket: bucket }));
    assert.deepEqual(
      seen.Grants?.map((g) => [g.Grantee?.URI ?? g.Grantee?.ID, g.Permission]),
      [
        [owner, 'FULL_CONTROL'],
        [otherKey, 'READ_ACP'],
        [AUTHENTICATED, 'WRITE'],
      ],
    );
    await expectS3Error(other.send(new ListObjectsV2Command({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
    await other.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-other', Body: 'o' }));
  });

  test('bad ACL requests: AWS codes', T, async () => {
    const bucket = await newBucket('acl-bad');
    const cases: Array<[string, Promise<unknown>, string, number]> = [
      [
        'unknown canned ACL',
        s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'everyone' as 'private' })),
        'InvalidArgument',
        400,
      ],
      [
        'canned and grants',
        s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private', GrantRead: `id="${otherKey}"` })),
        'InvalidRequest',
        400,
      ],
      [
        'unknown id',
        s3.send(new PutBucketAclCommand({ Bucket: bucket, GrantRead: 'id="NOBODY"' })),
        'InvalidArgument',
        400,
      ],
      [
        'email grantee',
        s3.send(new PutBucketAclCommand({ Bucket: bucket, GrantRead: 'emailAddress="a@example.com"' })),
        'UnresolvableGrantByEmailAddress',
        400,
      ],
      [
        'unknown group',
        s3.send(
          new PutBucketAclCommand({
            Bucket: bucket,
            GrantRead: 'uri="http://acs.amazonaws.com/groups/global/Nobody"',
          }),
        ),
        'InvalidArgument',
        400,
      ],
    ];
    for (const [what, op, code, status] of cases) await expectS3Error(op, { code, status }, what);
    const malformed = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { acl: '' },
      body: Buffer.from(
        '<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>',
      ),
    });
    assert.equal(malformed.status, 400);
    assert.equal(errorCode(malformed.body), 'MalformedACLError');
    const badPermission = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { acl: '' },
      body: Buffer.from(
        `<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>${owner}</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>`,
      ),
    });
    assert.equal(errorCode(badPermission.body), 'MalformedACLError');
  });

  test('CreateBucket with a canned ACL and with object ownership', T, async () => {
    const bucket = await newBucket('acl-create', { ACL: 'public-read' });
    assert.equal((await anonymousList(bucket)).status, 200);
    const enforced = await newBucket('own-create', { ObjectOwnership: 'BucketOwnerEnforced' });
    const got = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: enforced }));
    assert.equal(got.OwnershipControls?.Rules?.[0]?.ObjectOwnership, 'BucketOwnerEnforced');
    await expectS3Error(
      s3.send(
        new CreateBucketCommand({
          Bucket: uniqueBucket('own-bad'),
          ACL: 'public-read',
          ObjectOwnership: 'BucketOwnerEnforced',
        }),
      ),
      { code: 'InvalidBucketAclWithObjectOwnership', status: 400 },
    );
  });

  test('ownership controls: put, get, delete; BucketOwnerEnforced turns ACLs off', T, async () => {
    const bucket = await newBucket('own');
    await expectS3Error(s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket })), {
      code: 'OwnershipControlsNotFoundError',
      status: 404,
    });
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    const enforce = () =>
      s3.send(
        new PutBucketOwnershipControlsCommand({
          Bucket: bucket,
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        }),
      );
    await expectS3Error(enforce(), { code: 'InvalidBucketAclWithObjectOwnership', status: 400 });
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
    await enforce();
    const got = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
    assert.equal(got.OwnershipControls?.Rules?.[0]?.ObjectOwnership, 'BucketOwnerEnforced');
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' })), {
      code: 'AccessControlListNotSupported',
      status: 400,
    });
    // Setting the owner-only ACL is still accepted (it changes nothing).
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
    const bad = await signedRaw(target, {
      method: 'PUT',
      path: `/${bucket}`,
      query: { ownershipControls: '' },
      body: Buffer.from(
        '<OwnershipControls><Rule><ObjectOwnership>Whoever</ObjectOwnership></Rule></OwnershipControls>',
      ),
    });
    assert.equal(errorCode(bad.body), 'MalformedXML');
    await s3.send(new DeleteBucketOwnershipControlsCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket })), {
      code: 'OwnershipControlsNotFoundError',
      status: 404,
    });
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
  });

  test('public access block: put, get, delete, and each switch', T, async () => {
    const bucket = await newBucket('pab');
    await expectS3Error(s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket })), {
      code: 'NoSuchPublicAccessBlockConfiguration',
      status: 404,
    });
    const block = (c: Record<string, boolean>) =>
      s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: c }));
    await block({ BlockPublicAcls: true });
    const got = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
    assert.deepEqual(got.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      IgnorePublicAcls: false,
      BlockPublicPolicy: false,
      RestrictPublicBuckets: false,
    });
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, GrantRead: `id="${otherKey}"` }));

    // IgnorePublicAcls: a public ACL set before stops granting.
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    assert.equal((await anonymousList(bucket)).status, 200);
    await block({ IgnorePublicAcls: true });
    assert.equal((await anonymousList(bucket)).status, 403);

    // BlockPublicPolicy refuses a public policy; RestrictPublicBuckets makes an existing one grant nothing.
    await block({ BlockPublicPolicy: true });
    await expectS3Error(
      s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicReadPolicy(bucket) })),
      {
        code: 'AccessDenied',
        status: 403,
      },
    );
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicReadPolicy(bucket) }));
    assert.equal((await sendRaw(target, { method: 'GET', path: `/${bucket}/k` })).status, 200);
    await block({ RestrictPublicBuckets: true });
    const restricted = await sendRaw(target, { method: 'GET', path: `/${bucket}/k` });
    assert.equal(restricted.status, 403);
    assert.equal(errorCode(restricted.body), 'AccessDenied');
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    assert.equal((await sendRaw(target, { method: 'GET', path: `/${bucket}/k` })).status, 200);
    await expectS3Error(other.send(new GetPublicAccessBlockCommand({ Bucket: bucket })), {
      code: 'AccessDenied',
      status: 403,
    });
  });
});

describe('server-wide --block-public-access', () => {
  let target: Target;
  let s3: S3Client;
  before(async () => {
    target = await startTarget({ env: { QUIRE_BLOCK_PUBLIC_ACCESS: 'true' } });
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('public ACLs and policies are refused on every bucket', {
    ...T,
    skip: !process.env.QUIRE_S3_ENDPOINT ? false : 'needs an embedded server',
  }, async () => {
    const bucket = uniqueBucket('pab-server');
    await expectS3Error(s3.send(new CreateBucketCommand({ Bucket: bucket, ACL: 'public-read' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await expectS3Error(s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' })), {
      code: 'AccessDenied',
      status: 403,
    });
    await expectS3Error(
      s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicReadPolicy(bucket) })),
      {
        code: 'AccessDenied',
        status: 403,
      },
    );
    // The bucket's own block cannot loosen the server's.
    await s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: {} }));
    await expectS3Error(
      s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: publicReadPolicy(bucket) })),
      {
        code: 'AccessDenied',
        status: 403,
      },
    );
  });
});
