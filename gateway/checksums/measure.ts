// Measures what the hashing pool buys: MD5 of 64 MiB inline vs through a pooled BodyHasher, and the
// event-loop delay while doing it. Run: node --import tsx gateway/checksums/measure.ts
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HashingPool } from './pool.ts';

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 64 * 1024;
const data = Buffer.alloc(TOTAL);
for (let i = 0; i < TOTAL; i += 4096) data[i] = i & 0xff;

async function run(
  label: string,
  feed: (chunk: Buffer) => void | Promise<void>,
  finish: () => Promise<unknown>,
) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let busyMs = 0;
  const t0 = performance.now();
  for (let off = 0; off < TOTAL; off += CHUNK) {
    const s = performance.now();
    const wait = feed(data.subarray(off, off + CHUNK));
    busyMs += performance.now() - s;
    if (wait) await wait;
    // Give the loop a turn between chunks, as a socket would.
    await yieldToLoop();
  }
  await finish();
  const wallMs = performance.now() - t0;
  delay.disable();
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  process.stdout.write(
    `${label}: wall ${wallMs.toFixed(0)} ms, main-thread time in update ${busyMs.toFixed(1)} ms (${((busyMs * 1000) / (TOTAL / CHUNK)).toFixed(1)} µs/chunk), ` +
      `loop delay p50 ${ms(delay.percentile(50))} ms p99 ${ms(delay.percentile(99))} max ${ms(delay.max)} ms\n`,
  );
}

for (let round = 1; round <= 2; round++) {
  const inline = createHash('md5');
  await run(
    `inline MD5 (round ${round})`,
    (c) => void inline.update(c),
    async () => inline.digest('hex'),
  );
}

const pool = new HashingPool({ maxThreads: 1, minThreads: 1 });
const warm = pool.open(['MD5']);
warm.update(Buffer.from('warm-up'));
await warm.digest();
for (let round = 1; round <= 2; round++) {
  const session = pool.open(['MD5']);
  await run(
    `pooled MD5 (round ${round})`,
    (c) => session.update(c),
    () => session.digest(),
  );
}
const both = pool.open(['MD5', 'CRC32']);
await run(
  'pooled MD5+CRC32',
  (c) => both.update(c),
  () => both.digest(),
);
await pool.close();
