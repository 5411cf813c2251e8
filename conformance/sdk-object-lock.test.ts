// Object Lock with the real SDK: a bucket created with Object Lock (versioning on), default retention,
// per-version retention and legal hold, and AWS's refusals: locked versions cannot be removed (COMPLIANCE by
// nobody, GOVERNANCE only with x-amz-bypass-governance-retention), retention only extends, a lock-enabled
// PUT needs Content-MD5 or a checksum, lock headers on a bucket without Object Lock are InvalidRequest.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const DAY = 86_400_000;

describe('object lock', { timeout: 120_000 }, () => {
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

  async function lockedBucket(prefix: string): Promise<string> {
    const b = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: b, ObjectLockEnabledForBucket: true }));
    return b;
  }
  const put = (Bucket: string, Key: string, extra: Record<string, unknown> = {}) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}`, ...extra }));

  test('CreateBucket with Object Lock enables versioning; configuration with a default retention', async () => {
    const b = await lockedBucket('lockcfg');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
    const cfg = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }));
    assert.equal(cfg.ObjectLockConfiguration?.ObjectLockEnabled, 'Enabled');
    assert.equal(cfg.ObjectLockConfiguration?.Rule, undefined);
    await expectS3Error(
      s3.send(
        new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }),
      ),
      { code: 'InvalidBucketState', status: 409 },
    );
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: b,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } },
        },
      }),
    );
    const rule = (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }))).ObjectLockConfiguration
      ?.Rule;
    assert.deepEqual(rule?.DefaultRetention, { Mode: 'GOVERNANCE', Days: 2 });
    // A PUT without its own retention gets the default.
    const before = Date.now();
    const v = (await put(b, 'defaulted')).VersionId;
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'defaulted', VersionId: v }));
    assert.equal(head.ObjectLockMode, 'GOVERNANCE');
    const until = head.ObjectLockRetainUntilDate!.getTime();
    assert.ok(
      until >= before + 2 * DAY - 1000 && until <= Date.now() + 2 * DAY + 1000,
      String(head.ObjectLockRetainUntilDate),
    );
    // Bad configurations.
    const raw = (body: string) =>
      signedRaw(target, {
        method: 'PUT',
        path: `/${b}`,
        query: { 'object-lock': '' },
        body: Buffer.from(body),
      });
    const both = await raw(
      '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>',
    );
    assert.equal(errorCode(both.body), 'MalformedXML');
    const zero = await raw(
      '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>',
    );
    assert.equal(zero.status, 400);
    assert.equal(errorCode(zero.body), 'InvalidArgument');
    // A bucket without Object Lock: no configuration; enabling it needs versioning Enabled.
    const plain = uniqueBucket('lockno');
    await s3.send(new CreateBucketCommand({ Bucket: plain }));
    await expectS3Error(s3.send(new GetObjectLockConfigurationCommand({ Bucket: plain })), {
      code: 'ObjectLockConfigurationNotFoundError',
      status: 404,
    });
    await expectS3Error(
      s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: plain,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
        }),
      ),
      { code: 'InvalidBucketState', status: 409 },
    );
    await expectS3Error(
      put(plain, 'k', {
        ObjectLockMode: 'GOVERNANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + DAY),
      }),
      { code: 'InvalidRequest', status: 400 },
    );
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: plain, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: plain,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
      }),
    );
    assert.equal(
      (await s3.send(new GetObjectLockConfigurationCommand({ Bucket: plain }))).ObjectLockConfiguration
        ?.ObjectLockEnabled,
      'Enabled',
    );
  });

  test('COMPLIANCE: nobody removes the version or shortens its retention; a delete marker is still allowed', async () => {
    const b = await lockedBucket('lockcomp');
    const until = new Date(Date.now() + DAY);
    const v = (await put(b, 'k', { ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }))
      .VersionId!;
    const r = await s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'k', VersionId: v }));
    assert.equal(r.Retention?.Mode, 'COMPLIANCE');
    assert.equal(r.Retention?.RetainUntilDate?.getTime(), Math.floor(until.getTime()));
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v })), {
      code: 'AccessDenied',
      status: 403,
    });
    await expectS3Error(
      s3.send(
        new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v, BypassGovernanceRetention: true }),
      ),
      { code: 'AccessDenied', status: 403 },
    );
    // Shorter, weaker: refused; longer: fine.
    await expectS3Error(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket: b,
          Key: 'k',
          VersionId: v,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + DAY / 2) },
        }),
      ),
      { code: 'AccessDenied', status: 403 },
    );
    await expectS3Error(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket: b,
          Key: 'k',
          VersionId: v,
          Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 2 * DAY) },
          BypassGovernanceRetention: true,
        }),
      ),
      { code: 'AccessDenied', status: 403 },
    );
    const later = new Date(Date.now() + 3 * DAY);
    await s3.send(
      new PutObjectRetentionCommand({
        Bucket: b,
        Key: 'k',
        VersionId: v,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later },
      }),
    );
    const dm = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(dm.DeleteMarker, true);
    // DeleteObjects reports the refusal per key.
    const res = await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'k', VersionId: v }] } }),
    );
    assert.deepEqual(
      (res.Errors ?? []).map((e) => [e.Key, e.Code]),
      [['k', 'AccessDenied']],
    );
  });

  test('GOVERNANCE yields to x-amz-bypass-governance-retention; a legal hold blocks removal until released', async () => {
    const b = await lockedBucket('lockgov');
    const v = (
      await put(b, 'g', {
        ObjectLockMode: 'GOVERNANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + DAY),
      })
    ).VersionId!;
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), {
      code: 'AccessDenied',
      status: 403,
    });
    await expectS3Error(
      s3.send(new PutObjectRetentionCommand({ Bucket: b, Key: 'g', VersionId: v, Retention: {} })),
      { code: 'AccessDenied', status: 403 },
    );
    await s3.send(
      new PutObjectLegalHoldCommand({ Bucket: b, Key: 'g', VersionId: v, LegalHold: { Status: 'ON' } }),
    );
    assert.equal(
      (await s3.send(new GetObjectLegalHoldCommand({ Bucket: b, Key: 'g', VersionId: v }))).LegalHold?.Status,
      'ON',
    );
    const held = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'g', VersionId: v }));
    assert.equal(held.ObjectLockLegalHoldStatus, 'ON');
    await expectS3Error(
      s3.send(
        new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v, BypassGovernanceRetention: true }),
      ),
      { code: 'AccessDenied', status: 403 },
    );
    await s3.send(
      new PutObjectLegalHoldCommand({ Bucket: b, Key: 'g', VersionId: v, LegalHold: { Status: 'OFF' } }),
    );
    const gone = await s3.send(
      new DeleteObjectCommand({ Bucket: b, Key: 'g', VersionId: v, BypassGovernanceRetention: true }),
    );
    assert.equal(gone.VersionId, v);
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'g', VersionId: v })), {
      code: 'NotFound',
      status: 404,
    });
    // A version without retention: no configuration to get.
    const free = (await put(b, 'free')).VersionId!;
    await expectS3Error(s3.send(new GetObjectRetentionCommand({ Bucket: b, Key: 'free', VersionId: free })), {
      code: 'NoSuchObjectLockConfiguration',
      status: 404,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'free', VersionId: free }));
  });

  test('lock headers on copy and multipart create; bad headers and a PUT without an integrity header are refused', async () => {
    const b = await lockedBucket('lockhdr');
    await put(b, 'src');
    const until = new Date(Date.now() + DAY);
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket: b,
        Key: 'copy',
        CopySource: `${b}/src`,
        ObjectLockMode: 'GOVERNANCE',
        ObjectLockRetainUntilDate: until,
        ObjectLockLegalHoldStatus: 'ON',
      }),
    );
    const h = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'copy', VersionId: copied.VersionId }));
    assert.equal(h.ObjectLockMode, 'GOVERNANCE');
    assert.equal(h.ObjectLockLegalHoldStatus, 'ON');
    const up = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: b,
        Key: 'mp',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: until,
      }),
    );
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: b, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: 'x' }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'mp',
        UploadId: up.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] },
      }),
    );
    assert.equal(
      (await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'mp', VersionId: done.VersionId })))
        .ObjectLockMode,
      'COMPLIANCE',
    );
    const signed = (headers: Record<string, string>) =>
      signedRaw(target, { method: 'PUT', path: keyPath(b, 'raw'), headers, body: Buffer.from('raw body') });
    const md5 = createHash('md5').update('raw body').digest('base64');
    const noIntegrity = await signed({});
    assert.equal(noIntegrity.status, 400);
    assert.equal(errorCode(noIntegrity.body), 'InvalidRequest');
    assert.equal((await signed({ 'content-md5': md5 })).status, 200);
    const future = new Date(Date.now() + DAY).toISOString();
    for (const [headers, code] of [
      [{ 'x-amz-object-lock-mode': 'GOVERNANCE' }, 'InvalidArgument'],
      [
        { 'x-amz-object-lock-mode': 'FOREVER', 'x-amz-object-lock-retain-until-date': future },
        'InvalidArgument',
      ],
      [
        {
          'x-amz-object-lock-mode': 'GOVERNANCE',
          'x-amz-object-lock-retain-until-date': '2001-01-01T00:00:00Z',
        },
        'InvalidArgument',
      ],
      [{ 'x-amz-object-lock-legal-hold': 'MAYBE' }, 'InvalidArgument'],
    ] as const) {
      const r = await signed({ 'content-md5': md5, ...headers });
      assert.equal(r.status, 400, JSON.stringify(headers));
      assert.equal(errorCode(r.body), code, JSON.stringify(headers));
    }
  });
});
