// Durability: SIGKILL the embedded server during a 32-way PUT storm; every acknowledged PUT must
// survive restart byte-exact, and survive again after the index directory is deleted and rebuilt.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { makeRandom, md5hex, seededBytes, sha256hex } from './bytes.ts';
import { readBody, s3For, uniqueBucket } from './sdk.ts';
import { indexDir, isExternal, startTarget, type Target } from './target.ts';

const WORKERS = 32;
const KILL_AFTER_ACKS = 120;
const SEED = 0x5eed;

/** Object `n` of the storm: its size (1 KiB – 3 MiB, skewed small) and bytes follow from n alone. */
function stormObject(n: number): { key: string; body: Buffer } {
  const rnd = makeRandom(SEED + n * 7919);
  const minLog = Math.log(1024);
  const maxLog = Math.log(3 * 1024 * 1024);
  const size = Math.round(Math.exp(minLog + (rnd() / 0xffffffff) * (maxLog - minLog)));
  return { key: `storm/${String(n).padStart(5, '0')}`, body: seededBytes(SEED ^ n, size) };
}

interface Listed {
  key: string;
  etag: string;
  size: number;
}

async function listAll(s3: S3Client, bucket: string): Promise<Listed[]> {
  const out: Listed[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const c of res.Contents ?? []) out.push({ key: c.Key!, etag: c.ETag!, size: c.Size! });
    token = res.NextContinuationToken;
  } while (token);
  return out;
}

describe('crash: SIGKILL during a PUT storm', {
  skip: isExternal() && 'needs the self-started server',
}, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const acked = new Map<string, string>(); // key → sha256 of the bytes acknowledged

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('crash');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  /** Every listed object must read back exactly as it was sent: no torn or foreign bytes. */
  async function verify(listing: Listed[]): Promise<void> {
    const listedKeys = new Set(listing.map((l) => l.key));
    for (const key of acked.keys()) assert.ok(listedKeys.has(key), `acknowledged ${key} is listed`);
    for (const item of listing) {
      const want = stormObject(Number(item.key.slice('storm/'.length))).body;
      assert.equal(item.size, want.length, `${item.key} size`);
      assert.equal(item.etag, `"${md5hex(want)}"`, `${item.key} etag`);
      const got = await readBody(
        (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: item.key }))).Body,
      );
      assert.equal(sha256hex(got), sha256hex(want), `${item.key} bytes`);
      const ack = acked.get(item.key);
      if (ack) assert.equal(sha256hex(got), ack);
    }
  }

  test('acknowledged PUTs survive kill -9 and an index rebuild', async () => {
    let next = 0;
    let killed = false;
    const killOnce = async () => {
      if (killed) return;
      killed = true;
      await target.kill();
    };
    const worker = async () => {
      while (!killed) {
        const n = next++;
        const { key, body } = stormObject(n);
        try {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          acked.set(key, sha256hex(body));
        } catch {
          return; // the server is gone; unacknowledged writes may or may not exist
        }
        // Killed on an event (enough acknowledgements), never on a timer: a slow machine only makes it later.
        if (acked.size >= KILL_AFTER_ACKS) await killOnce();
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    await killOnce();
    assert.ok(acked.size >= KILL_AFTER_ACKS, `storm made progress (${acked.size} acks in flight ${next})`);

    await target.start();
    s3.destroy(); // sockets to the killed process are dead
    s3 = s3For(target);
    const afterCrash = await listAll(s3, bucket);
    await verify(afterCrash);
    // The restart looked only at what changed since the last checkpoints, not at every object:
    // each PUT touched about one key and two entries (a large one: its manifest and its body).
    const log = readFileSync(join(target.workDir!, 'server.log'), 'utf8');
    const lines = log.split('\n').filter((l) => l.includes('recovery: '));
    const line =
      /recovery: after an unclean stop, checked what changed since the last checkpoints: (\d+) entries/.exec(
        lines.at(-1) ?? '',
      );
    assert.ok(line, `the restart says what recovery did: ${lines.join('\n')}`);
    assert.ok(Number(line[1]) <= 3 * next + 10, `checked ${line[1]} for ${next} PUTs started`);

    const code = await target.stop();
    assert.equal(code, 0, 'clean SIGTERM exit');
    rmSync(indexDir(target.dataDir!), { recursive: true, force: true });
    await target.start();
    const rebuilt = await listAll(s3, bucket);
    assert.deepEqual(rebuilt, afterCrash, 'listing identical after the index rebuild');
    await verify(rebuilt);
  });
});
