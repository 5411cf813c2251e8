// Lifecycle rules executed "days later" over a real server: the embedded Quire on 127.0.0.1 (real HTTP, LMDB,
// volume files) driven by @aws-sdk/client-s3, its lifecycle clock injected and moved by the test, each pass
// run on demand (no waiting on a timer).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import { resolveConfig } from './config.ts';
import { startEmbedded } from './embedded.ts';

const DAY = 24 * 3600 * 1000;
const creds = { accessKeyId: 'AKLIFECYCLE1', secretAccessKey: 'lifecycle-secret-one' };

test('a bucket lifecycle runs days later: objects expire, uploads are aborted, other buckets untouched', {
  timeout: 90_000,
}, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-lifecycle-run-'));
  // The lifecycle clock: real time until the test sets it.
  let now: number | undefined;
  const config = resolveConfig([
    { dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent', lifecycleIntervalMs: 0 },
  ]);
  const running = await startEmbedded(config, [creds], pino({ level: 'silent' }), {
    lifecycleClock: () => now ?? Date.now(),
  });
  const s3 = new S3Client({
    endpoint: running.endpoint,
    region: 'us-east-1',
    credentials: creds,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'lcb' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'lcb',
        LifecycleConfiguration: {
          Rules: [
            { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 1 } },
            {
              ID: 'small',
              Status: 'Enabled',
              Filter: { And: { Prefix: 'data/', ObjectSizeLessThan: 10 } },
              Expiration: { Days: 3 },
            },
            {
              ID: 'uploads',
              Status: 'Enabled',
              Filter: {},
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
            },
          ],
        },
      }),
    );
    for (const key of ['logs/1', 'logs/2', 'data/tiny', 'keep/x']) {
      await s3.send(new PutObjectCommand({ Bucket: 'lcb', Key: key, Body: 'small' }));
    }
    await s3.send(new PutObjectCommand({ Bucket: 'lcb', Key: 'data/large', Body: 'x'.repeat(100) }));
    await s3.send(new PutObjectCommand({ Bucket: 'other', Key: 'logs/1', Body: 'small' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'lcb', Key: 'logs/upload' }));

    const head = await s3.send(new HeadObjectCommand({ Bucket: 'lcb', Key: 'logs/1' }));
    const expiry = Date.parse(/expiry-date="([^"]+)"/.exec(head.Expiration ?? '')![1]!);
    assert.equal(expiry % DAY, 0);
    const list = async (Bucket: string) =>
      ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((c) => c.Key);

    // Just before the announced expiry: nothing happens.
    now = expiry - 1;
    await running.runLifecycle();
    assert.deepEqual(await list('lcb'), ['data/large', 'data/tiny', 'keep/x', 'logs/1', 'logs/2']);

    // At the expiry date announced by x-amz-expiration: the logs go.
    now = expiry;
    await running.runLifecycle();
    assert.deepEqual(await list('lcb'), ['data/large', 'data/tiny', 'keep/x']);
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: 'lcb', Key: 'logs/1' })),
      (e: unknown) => e instanceof S3ServiceException && e.name === 'NoSuchKey',
    );
    assert.equal(
      ((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'lcb' }))).Uploads ?? []).length,
      1,
    );

    // Days later: the small data object and the upload go too; the large one, keep/ and the other bucket stay.
    now = expiry + 3 * DAY;
    await running.runLifecycle();
    assert.deepEqual(await list('lcb'), ['data/large', 'keep/x']);
    assert.deepEqual((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'lcb' }))).Uploads ?? [], []);
    assert.deepEqual(await list('other'), ['logs/1']);

    // A versioned bucket: the expiry writes a delete marker; a day later the replaced version goes, and the
    // marker, then alone, with it.
    await s3.send(new CreateBucketCommand({ Bucket: 'vers' }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'vers', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'vers',
        LifecycleConfiguration: {
          Rules: [
            { ID: 'cur', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } },
            { ID: 'old', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
            { ID: 'markers', Status: 'Enabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } },
          ],
        },
      }),
    );
    const v1 = (
      await s3.send(new PutObjectCommand({ Bucket: 'vers', Key: 'doc', Body: 'v1', Tagging: 'k=v' }))
    ).VersionId;
    const versions = async () =>
      (await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers' }))).Versions?.map((v) => v.VersionId) ??
      [];
    const markers = async () =>
      (await s3.send(new ListObjectVersionsCommand({ Bucket: 'vers' }))).DeleteMarkers?.length ?? 0;
    now = Date.now() + 2 * DAY;
    await running.runLifecycle();
    assert.deepEqual(await versions(), [v1], 'the version is kept under a delete marker');
    assert.equal(await markers(), 1);
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: 'vers', Key: 'doc' })),
      (e: unknown) => e instanceof S3ServiceException && e.name === 'NoSuchKey',
    );
    now = Date.now() + 4 * DAY;
    await running.runLifecycle();
    assert.deepEqual(await versions(), []);
    assert.equal(await markers(), 0);

    const metrics = await (await fetch(`${running.endpoint}/metrics`)).text();
    assert.match(metrics, /^quire_lifecycle_objects_expired_total 4$/m);
    assert.match(metrics, /^quire_lifecycle_versions_expired_total 1$/m);
    assert.match(metrics, /^quire_lifecycle_delete_markers_removed_total 1$/m);
    assert.match(metrics, /^quire_lifecycle_uploads_aborted_total 1$/m);
    assert.match(metrics, /^quire_lifecycle_passes_total 5$/m);
  } finally {
    s3.destroy();
    await running.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
