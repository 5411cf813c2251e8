// Compaction in a running server: after most objects are deleted the server gives the space back by
// itself (progress visible in /metrics) and every surviving object stays byte-exact; a SIGKILL in the
// middle of a compaction loses nothing acknowledged, and the restarted server finishes the job.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { makeRandom, seededBytes } from './bytes.ts';
import { readBody, s3For, uniqueBucket } from './sdk.ts';
import { isExternal, startTarget, type Target } from './target.ts';

const SEED = 0xc0a1;
/** Small chunkfiles, so a few thousand small objects spread over dozens of them. */
const ENV = { QUIRE_CHUNKFILE_BYTES: String(64 * 1024), QUIRE_COMPACT_INTERVAL_MS: '100' };

async function metric(target: Target, name: string): Promise<number> {
  const res = await fetch(`${target.endpoint}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Re-reads `/metrics` until `done` holds (at most `limit` reads, `everyMs` apart): a state the server reports. */
async function until(
  target: Target,
  what: string,
  done: () => Promise<boolean>,
  limit = 600,
  everyMs = 100,
): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}\n${target.logTail()}`);
}

const objectFor = (i: number) => {
  const rnd = makeRandom(SEED + i * 31);
  return seededBytes(SEED ^ (i * 2654435761), 200 + (rnd() % 3800));
};

async function putMany(s3: S3Client, bucket: string, keys: number[], prefix = 'o/'): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const i = keys[next++]!;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${i}`, Body: objectFor(i) }));
      }
    }),
  );
}

async function deleteMany(s3: S3Client, bucket: string, keys: number[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const i = keys[next++]!;
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `o/${i}` }));
      }
    }),
  );
}

async function expectObjects(s3: S3Client, bucket: string, live: number[], gone: number[], prefix = 'o/') {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < live.length) {
        const i = live[next++]!;
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${i}` }));
        assert.ok((await readBody(r.Body)).equals(objectFor(i)), `${prefix}${i} byte-exact`);
      }
    }),
  );
  for (const i of gone) {
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${i}` })),
      (err: { name?: string }) => err.name === 'NoSuchKey',
      `${prefix}${i} stays deleted`,
    );
  }
}

/** Fills `n` objects and deletes 90 % of them, scattered; returns [survivors, deleted]. */
async function fillAndThin(s3: S3Client, bucket: string, n: number): Promise<[number[], number[]]> {
  const all = Array.from({ length: n }, (_, i) => i);
  await putMany(s3, bucket, all);
  const rnd = makeRandom(SEED);
  const gone = all.filter(() => rnd() % 10 !== 0);
  const goneSet = new Set(gone);
  await deleteMany(s3, bucket, gone);
  return [all.filter((i) => !goneSet.has(i)), gone];
}

describe('compaction in a running server', {
  skip: isExternal() && 'needs the self-started server',
  timeout: 240_000,
}, () => {
  const targets: Target[] = [];
  after(async () => {
    for (const t of targets) await t.close();
  });

  test('the server compacts by itself; survivors stay byte-exact', async () => {
    const target = await startTarget({ env: { ...ENV, QUIRE_COMPACT_BYTES_PER_SECOND: '0' } });
    targets.push(target);
    const s3 = s3For(target);
    const bucket = uniqueBucket('compact');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const [live, gone] = await fillAndThin(s3, bucket, 800);
    await until(
      target,
      'compaction to run',
      async () => (await metric(target, 'quire_compaction_files_total')) > 0,
    );
    // The volume shrinks to within 15 % of the live entries (plus the chunkfiles still being appended to).
    await until(target, 'the volume to shrink', async () => {
      const disk = await metric(target, 'quire_volume_disk_bytes');
      const liveBytes = await metric(target, 'quire_volume_live_bytes');
      return disk <= liveBytes * 1.15 + 2 * 64 * 1024;
    });
    assert.ok((await metric(target, 'quire_compaction_entries_moved_total')) > 0);
    await expectObjects(s3, bucket, live, gone);
  });

  test('SIGKILL mid-compaction loses nothing acknowledged', async () => {
    // Throttled so the kill lands between chunkfiles of one run.
    const target = await startTarget({ env: { ...ENV, QUIRE_COMPACT_BYTES_PER_SECOND: '20000' } });
    targets.push(target);
    const s3 = s3For(target);
    const bucket = uniqueBucket('compact-kill');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const [live, gone] = await fillAndThin(s3, bucket, 800);
    // New objects written while compaction runs: every acknowledged one must survive the kill.
    const acked: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 100_000; writing; i++) {
        try {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `w/${i}`, Body: objectFor(i) }));
          acked.push(i);
        } catch {
          return; // the kill cut this one off: not acknowledged
        }
      }
    })();
    await until(target, 'a chunkfile compacted while more remain', async () => {
      const files = await metric(target, 'quire_compaction_files_total');
      return files >= 1 && (await metric(target, 'quire_compaction_running')) === 1;
    });
    await target.kill();
    writing = false;
    await writer;
    await target.start();
    await expectObjects(s3, bucket, live, gone);
    await expectObjects(s3, bucket, acked, [], 'w/');
    // The restarted server finishes compacting, and still nothing is lost.
    await until(
      target,
      'compaction after the restart',
      async () => (await metric(target, 'quire_compaction_files_total')) > 0,
    );
    await expectObjects(s3, bucket, live, gone);
    await expectObjects(s3, bucket, acked, [], 'w/');
  });
});
