// Randomized net under the deterministic incarnation tests: two keys fight over one bucket name over HTTP.
// Each key's janitor empties and deletes the bucket or takes the name back while that key's writers PUT,
// GET, list, and start multipart uploads. Every object key and body, and every upload's key, carries its
// writer's access key: neither key may ever see anything of the other, and no request may answer 5xx.
// Rerun a failure with QUIRE_STRESS_SEED=<seed>.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { makeRandom } from './bytes.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const OPS_PER_WORKER = 120;
const WRITERS_PER_KEY = 2;

/** Errors a racing request may legitimately get; anything else (and any 5xx) fails the test. */
const EXPECTED = new Set([
  'NoSuchBucket',
  'NoSuchKey',
  'NoSuchUpload',
  'BucketNotEmpty',
  'BucketAlreadyExists',
  'BucketAlreadyOwnedByYou',
  'AccessDenied',
]);

/** Seeded uniform numbers in [0, 1). */
function unit(seed: number): () => number {
  const next = makeRandom(seed);
  return () => next() / 2 ** 32;
}

describe('sdk: bucket incarnations under random contention', () => {
  let target: Target;
  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
  });

  test("two keys racing create/delete/write on one name never see each other's data", {
    timeout: 300_000,
  }, async (t) => {
    if (!target.embedded || !target.otherCreds) return t.skip('needs the embedded server and a second key');
    const seed = Number(
      process.env.QUIRE_STRESS_SEED ?? (process.hrtime.bigint() % 2_147_483_647n).toString(),
    );
    const name = uniqueBucket('fight');
    const counts = new Map<string, number>();
    const clients: S3Client[] = [];
    try {
      const players = [target.creds, target.otherCreds].map((creds, i) => {
        const s3 = s3For(target, creds);
        clients.push(s3);
        return { me: `k${i + 1}`, s3 };
      });
      const workers = players.flatMap((p, i) => [
        janitor(p, unit(seed * 31 + i)),
        ...Array.from({ length: WRITERS_PER_KEY }, (_, w) => writer(p, unit(seed * 97 + i * 7 + w))),
      ]);
      await Promise.all(workers);
    } catch (err) {
      throw new Error(`seed ${seed}: ${(err as Error).message}\n${target.logTail()}`, { cause: err });
    } finally {
      for (const c of clients) c.destroy();
    }
    t.diagnostic(`seed ${seed}: ${JSON.stringify(Object.fromEntries(counts))}`);
    // The races happened: both keys owned the name at some point and requests met deleted incarnations.
    assert.ok((counts.get('created') ?? 0) >= 2, `seed ${seed}: ${JSON.stringify([...counts])}`);

    type Player = { me: string; s3: S3Client };

    /** Sends one request: the result, or the S3 error code if it is one a race may produce. */
    async function call<T>(p: Player, what: string, op: () => Promise<T>): Promise<T | string> {
      try {
        return await op();
      } catch (err) {
        if (!(err instanceof S3ServiceException)) throw err;
        const status = err.$metadata.httpStatusCode ?? 0;
        if (status >= 500 || !EXPECTED.has(err.name)) {
          throw new Error(`${p.me} ${what}: ${status} ${err.name} ${err.message}`);
        }
        counts.set(err.name, (counts.get(err.name) ?? 0) + 1);
        return err.name;
      }
    }

    function mine(p: Player, key: string | undefined, what: string): void {
      assert.ok(key?.startsWith(`${p.me}-`), `${p.me} ${what} shows ${key}, written by the other key`);
    }

    async function janitor(p: Player, random: () => number): Promise<void> {
      for (let i = 0; i < OPS_PER_WORKER / 4; i++) {
        const created = await call(p, 'CreateBucket', () =>
          p.s3.send(new CreateBucketCommand({ Bucket: name })),
        );
        if (typeof created !== 'string') counts.set('created', (counts.get('created') ?? 0) + 1);
        if (random() < 0.5) continue;
        // Empty what this key can see, then try to delete the bucket while writers keep going.
        const listed = await call(p, 'List', () => p.s3.send(new ListObjectsV2Command({ Bucket: name })));
        if (typeof listed !== 'string') {
          for (const o of listed.Contents ?? []) {
            mine(p, o.Key, 'ListObjectsV2');
            await call(p, 'DeleteObject', () =>
              p.s3.send(new DeleteObjectCommand({ Bucket: name, Key: o.Key })),
            );
          }
        }
        const uploads = await call(p, 'ListUploads', () =>
          p.s3.send(new ListMultipartUploadsCommand({ Bucket: name })),
        );
        if (typeof uploads !== 'string') {
          for (const u of uploads.Uploads ?? []) {
            mine(p, u.Key, 'ListMultipartUploads');
            await call(p, 'Abort', () =>
              p.s3.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId })),
            );
          }
        }
        await call(p, 'DeleteBucket', () => p.s3.send(new DeleteBucketCommand({ Bucket: name })));
      }
    }

    async function writer(p: Player, random: () => number): Promise<void> {
      for (let i = 0; i < OPS_PER_WORKER; i++) {
        const key = `${p.me}-${Math.floor(random() * 8)}`;
        const dice = random();
        if (dice < 0.45) {
          await call(p, 'PutObject', () =>
            p.s3.send(new PutObjectCommand({ Bucket: name, Key: key, Body: key })),
          );
        } else if (dice < 0.7) {
          const got = await call(p, 'GetObject', () =>
            p.s3.send(new GetObjectCommand({ Bucket: name, Key: key })),
          );
          if (typeof got !== 'string') mine(p, await got.Body?.transformToString(), 'GetObject body');
        } else if (dice < 0.85) {
          const listed = await call(p, 'List', () => p.s3.send(new ListObjectsV2Command({ Bucket: name })));
          if (typeof listed !== 'string')
            for (const o of listed.Contents ?? []) mine(p, o.Key, 'ListObjectsV2');
        } else {
          await call(p, 'CreateUpload', () =>
            p.s3.send(new CreateMultipartUploadCommand({ Bucket: name, Key: key })),
          );
          const uploads = await call(p, 'ListUploads', () =>
            p.s3.send(new ListMultipartUploadsCommand({ Bucket: name })),
          );
          if (typeof uploads !== 'string')
            for (const u of uploads.Uploads ?? []) mine(p, u.Key, 'ListMultipartUploads');
        }
      }
    }
  });
});
