// Memory is bounded per request: 64 concurrent aws-chunked 8 MiB uploads (the SDK's streaming upload with a
// CRC32 trailer) keep the server under 400 MiB RSS at its peak (the kernel's high-water mark, VmHWM, so no
// sampling can miss it), and it returns near its idle size afterwards. Seen before: 1.25 GB peak, 776-863 MB idle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const MiB = 1024 * 1024;
const UPLOADS = 64;
const SIZE = 8 * MiB;
const PEAK_LIMIT = 400 * MiB;
/** After the load, RSS must come back within this much of what it was before it. */
const IDLE_SLACK = 120 * MiB;

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN') * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** A body the SDK cannot size by itself: it streams it aws-chunked, with its checksum as a trailer. */
function streamOf(data: Buffer): Readable {
  let at = 0;
  return new Readable({
    read() {
      const n = Math.min(256 * 1024, data.length - at);
      this.push(n > 0 ? data.subarray(at, at + n) : null);
      at += n;
    },
  });
}

describe('memory under 64 concurrent aws-chunked 8 MiB uploads', {
  skip: process.platform !== 'linux',
}, () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('memory');

  before(
    async () => {
      target = await startTarget();
      s3 = s3For(target);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      s3?.destroy();
      await target?.close();
    },
    { timeout: 60_000 },
  );

  test(`peak RSS < ${PEAK_LIMIT / MiB} MiB, back near idle afterwards`, { timeout: 240_000 }, async () => {
    const pid = target.pid();
    assert.ok(pid, 'embedded server only');
    const data = seededBytes(11, SIZE);
    // One round first, so the idle baseline includes what any server keeps after its first uploads (code,
    // pools, threads) and the check below is about growth per request, not warm-up.
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `warm-${i}`,
            Body: streamOf(data),
            ContentLength: SIZE,
          }),
        ),
      ),
    );
    const idle = memoryOf(pid).rss;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: UPLOADS }, (_, i) =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `obj-${i}`,
            Body: streamOf(data),
            ContentLength: SIZE,
          }),
        ),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const { peak } = memoryOf(pid);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `obj-${UPLOADS - 1}` }));
    assert.equal(head.ContentLength, SIZE);

    // Memory comes back as the server's timers run (V8 shrinks its heap when idle, buffers are freed): wait
    // for it, bounded.
    let rss = memoryOf(pid).rss;
    const deadline = Date.now() + 30_000;
    while (rss > idle + IDLE_SLACK && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      rss = memoryOf(pid).rss;
    }
    const mib = (n: number) => `${Math.round(n / MiB)} MiB`;
    console.log(
      `memory: idle ${mib(idle)}, peak ${mib(peak)} during ${UPLOADS} x ${SIZE / MiB} MiB aws-chunked uploads ` +
        `(${seconds.toFixed(1)} s), after ${mib(rss)}`,
    );
    assert.ok(peak < PEAK_LIMIT, `peak RSS ${mib(peak)} ≥ ${mib(PEAK_LIMIT)}`);
    assert.ok(rss <= idle + IDLE_SLACK, `RSS after the load ${mib(rss)}, idle before ${mib(idle)}`);
  });
});
