// Object ACLs: canned ACLs and grants on PutObject and CopyObject, Get/PutObjectAcl, object ownership,
// ownership controls and the public access block on objects, anonymous reads through an object's ACL (raw
// HTTP), the ACL surviving a crash, and `s3cmd setacl --acl-public`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketWebsiteCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { seededBytes, sha256hex } from './bytes.ts';
import { errorCode, sendRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { run, s3cmdConfig, skipUnlessInstalled } from './tree.ts';

const T = { timeout: 90_000 };

/** GET from a port of 127.0.0.1 with the given Host (the website endpoint picks the bucket from it). */
function getFrom(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: `${host}:${port}` }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

describe('sdk: object ACLs', () => {
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

  async function newBucket(prefix: string): Promise<string> {
    const bucket = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return bucket;
  }
  const anonymousGet = (bucket: string, key: string) =>
    sendRaw(target, { method: 'GET', path: `/${bucket}/${key}` });
  const grantsOf = (acl: {
    Grants?: Array<{ Grantee?: { ID?: string; URI?: string }; Permission?: string }>;
  }) => acl.Grants?.map((g) => [g.Grantee?.URI ?? g.Grantee?.ID, g.Permission]);

  test(
    'PutObject with public-read: anyone reads it; GetObjectAcl shows the grant; others stay private',
    T,
    async () => {
      const bucket = await newBucket('oacl-put');
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'public.txt', Body: 'hello', ACL: 'public-read' }),
      );
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'private.txt', Body: 'secret' }));
      const pub = await anonymousGet(bucket, 'public.txt');
      assert.equal(pub.status, 200);
      assert.equal(pub.body.toString(), 'hello');
      const priv = await anonymousGet(bucket, 'private.txt');
      assert.equal(priv.status, 403);
      assert.equal(errorCode(priv.body), 'AccessDenied');
      // No grant reaches a missing key: same answer as a private one.
      const missing = await anonymousGet(bucket, 'missing.txt');
      assert.equal(missing.status, 403);
      assert.equal(errorCode(missing.body), 'AccessDenied');

      const acl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'public.txt' }));
      assert.equal(acl.Owner?.ID, owner);
      assert.deepEqual(grantsOf(acl), [
        [owner, 'FULL_CONTROL'],
        [ALL_USERS, 'READ'],
      ]);
      assert.deepEqual(
        grantsOf(await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'private.txt' }))),
        [[owner, 'FULL_CONTROL']],
      );
      await expectS3Error(s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'missing.txt' })), {
        code: 'NoSuchKey',
        status: 404,
      });
      await expectS3Error(other.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'missing.txt' })), {
        code: 'AccessDenied',
        status: 403,
      });
      await expectS3Error(other.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'public.txt' })), {
        code: 'AccessDenied',
        status: 403,
      });
    },
  );

  test(
    'PutObjectAcl makes an object public and private again; grants by id; READ_ACP and WRITE_ACP',
    T,
    async () => {
      const bucket = await newBucket('oacl-set');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
      await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'public-read' }));
      assert.equal((await anonymousGet(bucket, 'k')).status, 200);
      await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'private' }));
      assert.equal((await anonymousGet(bucket, 'k')).status, 403);

      await expectS3Error(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), {
        code: 'AccessDenied',
        status: 403,
      });
      await s3.send(
        new PutObjectAclCommand({
          Bucket: bucket,
          Key: 'k',
          GrantRead: `id="${otherKey}"`,
          GrantReadACP: `id="${otherKey}"`,
          GrantFullControl: `id="${owner}"`,
        }),
      );
      const got = await other.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      assert.equal((await readBody(got.Body)).toString(), 'v');
      const seen = await other.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'k' }));
      assert.deepEqual(grantsOf(seen), [
        [owner, 'FULL_CONTROL'],
        [otherKey, 'READ'],
        [otherKey, 'READ_ACP'],
      ]);
      await expectS3Error(
        other.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'public-read' })),
        {
          code: 'AccessDenied',
          status: 403,
        },
      );
      await s3.send(
        new PutObjectAclCommand({
          Bucket: bucket,
          Key: 'k',
          AccessControlPolicy: {
            Owner: { ID: owner },
            Grants: [
              { Grantee: { Type: 'CanonicalUser', ID: owner }, Permission: 'FULL_CONTROL' },
              { Grantee: { Type: 'CanonicalUser', ID: otherKey }, Permission: 'WRITE_ACP' },
            ],
          },
        }),
      );
      await other.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'public-read' }));
      assert.equal((await anonymousGet(bucket, 'k')).status, 200);
      // The ACL changed, the object did not.
      const after = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      assert.equal((await readBody(after.Body)).toString(), 'v');
      await expectS3Error(
        s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'missing', ACL: 'private' })),
        {
          code: 'NoSuchKey',
          status: 404,
        },
      );
    },
  );

  test(
    'an object written by another key belongs to it (ObjectWriter); bucket-owner-full-control',
    T,
    async () => {
      const bucket = await newBucket('oacl-writer');
      await s3.send(
        new PutBucketAclCommand({
          Bucket: bucket,
          GrantWrite: `id="${otherKey}"`,
          GrantFullControl: `id="${owner}"`,
        }),
      );
      await other.send(new PutObjectCommand({ Bucket: bucket, Key: 'theirs', Body: 'from other' }));
      const acl = await other.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'theirs' }));
      assert.equal(acl.Owner?.ID, otherKey);
      assert.deepEqual(grantsOf(acl), [[otherKey, 'FULL_CONTROL']]);
      // The writer reads what it owns; the bucket owner keeps full access to everything in its bucket.
      assert.equal(
        (
          await readBody((await other.send(new GetObjectCommand({ Bucket: bucket, Key: 'theirs' }))).Body)
        ).toString(),
        'from other',
      );
      assert.equal(
        (
          await readBody((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'theirs' }))).Body)
        ).toString(),
        'from other',
      );
      await other.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'shared', Body: 's', ACL: 'bucket-owner-full-control' }),
      );
      assert.deepEqual(grantsOf(await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'shared' }))), [
        [otherKey, 'FULL_CONTROL'],
        [owner, 'FULL_CONTROL'],
      ]);
      // BucketOwnerPreferred: bucket-owner-full-control hands the object to the bucket owner.
      await s3.send(
        new PutBucketOwnershipControlsCommand({
          Bucket: bucket,
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
        }),
      );
      await other.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'handed', Body: 'h', ACL: 'bucket-owner-full-control' }),
      );
      assert.equal(
        (await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'handed' }))).Owner?.ID,
        owner,
      );
    },
  );

  test('CopyObject: the copy gets the request ACL, never the source one', T, async () => {
    const bucket = await newBucket('oacl-copy');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'copy me', ACL: 'public-read' }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'plain-copy', CopySource: `${bucket}/src` }));
    assert.equal((await anonymousGet(bucket, 'plain-copy')).status, 403);
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'public-copy',
        CopySource: `${bucket}/src`,
        ACL: 'public-read',
      }),
    );
    assert.equal((await anonymousGet(bucket, 'public-copy')).body.toString(), 'copy me');
    // Another key may copy a source it can read through the source's ACL, into a bucket it may write.
    const theirs = uniqueBucket('oacl-copy-dst');
    await other.send(new CreateBucketCommand({ Bucket: theirs }));
    await other.send(new CopyObjectCommand({ Bucket: theirs, Key: 'got', CopySource: `${bucket}/src` }));
    await expectS3Error(
      other.send(new CopyObjectCommand({ Bucket: theirs, Key: 'no', CopySource: `${bucket}/plain-copy` })),
      {
        code: 'AccessDenied',
        status: 403,
      },
    );
  });

  test('CreateMultipartUpload with public-read: the completed object is public', T, async () => {
    const bucket = await newBucket('oacl-mpu');
    const mpu = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big', ACL: 'public-read' }),
    );
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: 'big',
        UploadId: mpu.UploadId,
        PartNumber: 1,
        Body: 'multi',
      }),
    );
    assert.equal((await anonymousGet(bucket, 'big')).status, 403, 'nothing there yet');
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'big',
        UploadId: mpu.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    assert.equal((await anonymousGet(bucket, 'big')).body.toString(), 'multi');
    assert.deepEqual(grantsOf(await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'big' }))), [
      [owner, 'FULL_CONTROL'],
      [ALL_USERS, 'READ'],
    ]);
  });

  test('BucketOwnerEnforced: object ACLs are refused (bucket-owner-full-control accepted)', T, async () => {
    const bucket = await newBucket('oacl-enforced');
    await s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: bucket,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    );
    await expectS3Error(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v', ACL: 'public-read' })),
      {
        code: 'AccessControlListNotSupported',
        status: 400,
      },
    );
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v', ACL: 'bucket-owner-full-control' }),
    );
    await expectS3Error(s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'public-read' })), {
      code: 'AccessControlListNotSupported',
      status: 400,
    });
    assert.deepEqual(grantsOf(await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'k' }))), [
      [owner, 'FULL_CONTROL'],
    ]);
  });

  test(
    'public access block: BlockPublicAcls refuses public object ACLs, IgnorePublicAcls disregards them',
    T,
    async () => {
      const bucket = await newBucket('oacl-pab');
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'was-public', Body: 'p', ACL: 'public-read' }),
      );
      await s3.send(
        new PutPublicAccessBlockCommand({
          Bucket: bucket,
          PublicAccessBlockConfiguration: { BlockPublicAcls: true },
        }),
      );
      await expectS3Error(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v', ACL: 'public-read' })),
        {
          code: 'AccessDenied',
          status: 403,
        },
      );
      await expectS3Error(
        s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'was-public', ACL: 'public-read-write' })),
        {
          code: 'AccessDenied',
          status: 403,
        },
      );
      assert.equal(
        (await anonymousGet(bucket, 'was-public')).status,
        200,
        'BlockPublicAcls alone keeps existing grants',
      );
      await s3.send(
        new PutPublicAccessBlockCommand({
          Bucket: bucket,
          PublicAccessBlockConfiguration: { IgnorePublicAcls: true },
        }),
      );
      assert.equal((await anonymousGet(bucket, 'was-public')).status, 403);
    },
  );

  test('the website endpoint serves an object made public by its ACL alone', T, async () => {
    const bucket = await newBucket('oacl-site');
    await s3.send(
      new PutBucketWebsiteCommand({
        Bucket: bucket,
        WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } },
      }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'index.html', Body: '<h1>acl</h1>', ACL: 'public-read' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'private.html', Body: 'no' }));
    assert.ok(target.websitePort, 'the embedded server serves websites');
    const site = (path: string) => getFrom(target.websitePort!, `${bucket}.s3-website.localhost`, path);
    const home = await site('/');
    assert.equal(home.status, 200);
    assert.equal(home.body, '<h1>acl</h1>');
    assert.equal((await site('/private.html')).status, 403);
  });

  test('an object ACL is kept with its version: it survives a crash', {
    ...T,
    skip: process.env.QUIRE_S3_ENDPOINT ? 'needs an embedded server' : false,
  }, async () => {
    const bucket = await newBucket('oacl-crash');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'durable', ACL: 'public-read' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'later', Body: 'l' }));
    await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'later', ACL: 'public-read' }));
    await target.kill();
    await target.start();
    assert.equal((await anonymousGet(bucket, 'k')).body.toString(), 'durable');
    assert.equal((await anonymousGet(bucket, 'later')).status, 200);
  });
});

describe('aws s3 cp --acl public-read', async () => {
  const skip = await skipUnlessInstalled('aws');
  let target: Target;
  let s3: S3Client;
  let work: string;
  const bucket = uniqueBucket('awscli-acl');
  before(async () => {
    if (skip) return;
    target = await startTarget();
    s3 = s3For(target);
    work = mkdtempSync(join(tmpdir(), 'quire-awscli-acl-'));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a small file (PutObject) and a 9 MiB one (multipart) both end up public', {
    ...T,
    skip,
  }, async () => {
    const config = join(work, 'aws-config');
    writeFileSync(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    const env = {
      PATH: process.env.PATH,
      HOME: work,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
      AWS_ACCESS_KEY_ID: target.creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
      AWS_DEFAULT_REGION: target.region,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const small = join(work, 'small.html');
    writeFileSync(small, '<p>small</p>');
    const big = join(work, 'big.bin');
    const bigBody = seededBytes(31, 9 * 1024 * 1024 + 5);
    writeFileSync(big, bigBody);
    for (const [file, key] of [
      [small, 'small.html'],
      [big, 'big.bin'],
    ] as const) {
      const res = await run(
        'aws',
        [
          '--endpoint-url',
          target.endpoint,
          's3',
          'cp',
          '--acl',
          'public-read',
          file,
          `s3://${bucket}/${key}`,
        ],
        env,
      );
      assert.equal(res.code, 0, res.stderr);
    }
    assert.equal(
      (await sendRaw(target, { method: 'GET', path: `/${bucket}/small.html` })).body.toString(),
      '<p>small</p>',
    );
    const got = await sendRaw(target, { method: 'GET', path: `/${bucket}/big.bin` }, 60_000);
    assert.equal(got.status, 200);
    assert.equal(sha256hex(got.body), sha256hex(bigBody));
  });
});

describe('s3cmd setacl', async () => {
  const skip = await skipUnlessInstalled('s3cmd');
  let target: Target;
  let s3: S3Client;
  let work: string;
  const bucket = uniqueBucket('s3cmd-acl');
  before(async () => {
    if (skip) return;
    target = await startTarget();
    s3 = s3For(target);
    work = mkdtempSync(join(tmpdir(), 'quire-s3cmd-acl-'));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'page.html', Body: '<p>public</p>' }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('--acl-public then --acl-private on an object', { ...T, skip }, async () => {
    const cfg = s3cmdConfig(work, target);
    const s3cmd = (...args: string[]) =>
      run('s3cmd', ['-c', cfg, ...args], { PATH: process.env.PATH, HOME: work });
    assert.equal((await sendRaw(target, { method: 'GET', path: `/${bucket}/page.html` })).status, 403);
    const pub = await s3cmd('setacl', '--acl-public', `s3://${bucket}/page.html`);
    assert.equal(pub.code, 0, pub.stderr);
    const got = await sendRaw(target, { method: 'GET', path: `/${bucket}/page.html` });
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), '<p>public</p>');
    const info = await s3cmd('info', `s3://${bucket}/page.html`);
    assert.match(info.stdout, /ACL:\s+\*anon\*: READ/);
    const priv = await s3cmd('setacl', '--acl-private', `s3://${bucket}/page.html`);
    assert.equal(priv.code, 0, priv.stderr);
    assert.equal((await sendRaw(target, { method: 'GET', path: `/${bucket}/page.html` })).status, 403);
  });
});
