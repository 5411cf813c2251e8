// Compaction, shown end to end on a real `quire server` (child process, 127.0.0.1, durable defaults):
//   1. fill N small objects (default 200,000);
//   2. measure small-GET latency while idle;
//   3. delete 90 % of them in random order (scattered over every chunkfile) while a read/write load runs
//      (GETs of survivors, checked byte for byte, and PUTs of new objects);
//   4. wait until the volume is within 15 % of its live entries' bytes, measuring small-GET latency while
//      the compactor works;
//   5. check every survivor and every new object byte-exact and a sample of deleted keys gone.
// Prints the numbers (time to shrink, MB/s compacted, GET p99 idle vs compacting) and exits non-zero on
// any error. Run: node --import tsx bench/compaction-demo.ts [--objects N] [--chunkfile-bytes N]
//   [--compact-bytes-per-second N] [--keep]
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantile } from './load.ts';
import { freePort, startServer } from './procs.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY } from './targets.ts';

const REPO = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '200000' },
    'chunkfile-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    'compact-bytes-per-second': { type: 'string', default: String(64 * 1024 * 1024) },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.objects);
const BUCKET = 'demo';

/** Object i: 256 B – 4 KiB, bytes fixed by i. */
function body(i: number): Buffer {
  let x = (i * 2654435761 + 1) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const size = 256 + (next() % 3841);
  const b = Buffer.allocUnsafe(size);
  for (let o = 0; o < size; o += 4) {
    const v = next();
    for (let k = 0; k < 4 && o + k < size; k++) b[o + k] = (v >>> (8 * k)) & 0xff;
  }
  return b;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const errors: string[] = [];
function fail(what: string): void {
  if (errors.length < 20) console.error(`ERROR ${what}`);
  errors.push(what);
}

/** Runs `op(i)` for i in 0..n-1 with `concurrency` at once. */
async function pool(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await op(next++);
    }),
  );
}

async function metrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const name = line.slice(0, line.search(/[ {]/));
    m.set(name, (m.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return m;
}

function ms(t0: number): number {
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'quire-compaction-demo-'));
  const port = await freePort();
  const server = await startServer({
    name: 'quire',
    command: process.execPath,
    args: [join(REPO, 'bin', 'quire.mjs'), 'server', '--data', join(work, 'data'), '--port', String(port)],
    port,
    cwd: REPO,
    env: {
      ...process.env,
      QUIRE_ACCESS_KEY: BENCH_ACCESS_KEY,
      QUIRE_SECRET_KEY: BENCH_SECRET_KEY,
      QUIRE_CHUNKFILE_BYTES: values['chunkfile-bytes'],
      QUIRE_COMPACT_BYTES_PER_SECOND: values['compact-bytes-per-second'],
      QUIRE_COMPACT_INTERVAL_MS: '1000',
      QUIRE_LOG_LEVEL: 'info',
    },
    logFile: join(work, 'quire.log'),
  });
  const client = new BenchS3Client(
    { url: server.url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
    { connections: 64 },
  );
  try {
    await client.createBucket(BUCKET);
    // 1. fill
    let t0 = performance.now();
    await pool(N, 64, async (i) => {
      const r = await client.put(BUCKET, `o/${i}`, body(i));
      if (r.status !== 200) fail(`PUT o/${i}: ${r.status}`);
    });
    const fillS = ms(t0) / 1000;
    const filled = await metrics(server.url);
    console.log(
      `filled ${N} objects in ${fillS.toFixed(1)} s (${Math.round(N / fillS)}/s); volume ${mb(filled.get('quire_volume_disk_bytes'))} MB on disk`,
    );

    // 2. idle GET latency
    const idle = await getLoad(client, N, () => true, 5000);
    console.log(
      `idle small GET: p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms (${idle.n} GETs)`,
    );

    // 3. delete 90 % scattered while reads and writes go on
    const order = shuffled(N, 0xdecaf);
    const doomed = order.slice(0, Math.floor(N * 0.9));
    const isDeleted = new Uint8Array(N);
    for (const i of doomed) isDeleted[i] = 1;
    const survivors = order.slice(Math.floor(N * 0.9));
    let deleting = true;
    const written: number[] = [];
    const writer = (async () => {
      for (let j = 0; deleting || j < 500; j++) {
        const i = N + j;
        const r = await client.put(BUCKET, `w/${i}`, body(i));
        if (r.status === 200) written.push(i);
        else fail(`PUT w/${i}: ${r.status}`);
      }
    })();
    // Small GETs of survivors, checked byte for byte; each one's wall-clock start and latency are kept
    // to be split later into those that overlapped a compaction run and those that did not.
    const timed: Array<{ at: number; ms: number }> = [];
    const reader = async (w: number) => {
      let k = w;
      while (deleting) {
        const i = survivors[(k++ * 7919) % survivors.length]!;
        const at = Date.now();
        const t = performance.now();
        const r = await client.get(BUCKET, `o/${i}`, true);
        timed.push({ at, ms: performance.now() - t });
        if (r.status !== 200 || !r.body?.equals(body(i))) fail(`GET o/${i} during deletes: ${r.status}`);
      }
    };
    const readers = Promise.all(Array.from({ length: 4 }, (_, w) => reader(w * 1000)));
    t0 = performance.now();
    await pool(doomed.length, 32, async (k) => {
      const i = doomed[k]!;
      const r = await client.delete(BUCKET, `o/${i}`);
      if (r.status !== 204) fail(`DELETE o/${i}: ${r.status}`);
    });
    const deleteS = ms(t0) / 1000;
    deleting = false;
    await Promise.all([writer, readers]);
    console.log(`deleted ${doomed.length} in ${deleteS.toFixed(1)} s with a read/write load running`);

    // 4. until the volume is within 15 % of its live bytes; GET latency meanwhile
    let shrunkAfterS = Number.NaN;
    let last = await metrics(server.url);
    const during = getLoad(
      client,
      N,
      (i) => !isDeleted[i],
      600_000,
      () => !Number.isNaN(shrunkAfterS),
    );
    for (;;) {
      last = await metrics(server.url);
      const disk = last.get('quire_volume_disk_bytes') ?? 0;
      const live = last.get('quire_volume_live_bytes') ?? 0;
      if (disk <= live * 1.15) {
        shrunkAfterS = ms(t0) / 1000;
        break;
      }
      if (ms(t0) > 900_000) throw new Error(`volume did not shrink: disk ${disk}, live ${live}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const busy = await during;
    const runs = await compactionRuns(join(work, 'quire.log'));
    const inRun = (t: { at: number; ms: number }) =>
      runs.intervals.some(([a, b]) => t.at + t.ms >= a && t.at <= b);
    const overlapping = split(timed.filter(inRun));
    const outside = split(timed.filter((t) => !inRun(t)));
    console.log(
      `volume within 15 % of live bytes ${shrunkAfterS.toFixed(1)} s after the deletes began ` +
        `(${(shrunkAfterS - deleteS).toFixed(1)} s after they ended): disk ${mb(last.get('quire_volume_disk_bytes'))} MB, live ${mb(last.get('quire_volume_live_bytes'))} MB`,
    );
    console.log(
      `compacted ${runs.files} chunkfiles, moved ${runs.entries} entries, ${mb(runs.bytes)} MB at ${(runs.bytes / 1e6 / runs.seconds).toFixed(1)} MB/s (${runs.seconds.toFixed(1)} s copying)`,
    );
    console.log(
      `small GET during the deletes while a compaction run was copying: p50 ${overlapping.p50.toFixed(2)} ms, p99 ${overlapping.p99.toFixed(2)} ms (${overlapping.n} GETs); ` +
        `during the deletes without compaction: p50 ${outside.p50.toFixed(2)} ms, p99 ${outside.p99.toFixed(2)} ms (${outside.n} GETs); ` +
        `after the deletes until shrunk: p99 ${busy.p99.toFixed(2)} ms (${busy.n} GETs)`,
    );

    // 5. every survivor byte-exact, new objects too, deleted ones gone
    t0 = performance.now();
    await pool(survivors.length, 32, async (k) => {
      const i = survivors[k]!;
      const r = await client.get(BUCKET, `o/${i}`, true);
      if (r.status !== 200 || !r.body?.equals(body(i))) fail(`survivor o/${i}: ${r.status}`);
    });
    await pool(written.length, 32, async (k) => {
      const i = written[k]!;
      const r = await client.get(BUCKET, `w/${i}`, true);
      if (r.status !== 200 || !r.body?.equals(body(i))) fail(`new object w/${i}: ${r.status}`);
    });
    await pool(Math.min(5000, doomed.length), 32, async (k) => {
      const i = doomed[(k * 104729) % doomed.length]!;
      const r = await client.get(BUCKET, `o/${i}`);
      if (r.status !== 404) fail(`deleted o/${i}: ${r.status}`);
    });
    console.log(
      `checked ${survivors.length} survivors and ${written.length} new objects byte-exact (md5 of one: ${md5(body(survivors[0]!)).slice(0, 8)}…), 5000 deleted keys gone, in ${(ms(t0) / 1000).toFixed(1)} s`,
    );
    console.log(errors.length === 0 ? 'no errors' : `${errors.length} ERRORS`);
  } finally {
    await client.close();
    await server.stop();
    if (!values.keep) await rm(work, { recursive: true, force: true });
    else console.log(`kept ${work}`);
  }
  if (errors.length > 0) process.exitCode = 1;
}

/** Random GETs of live small objects until `ms` passed or `stop()`; latency quantiles in ms. */
async function getLoad(
  client: BenchS3Client,
  n: number,
  live: (i: number) => boolean,
  durationMs: number,
  stop: () => boolean = () => false,
): Promise<{ n: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const end = performance.now() + durationMs;
  let k = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < end && !stop()) {
        const i = (k++ * 2654435761) % n;
        if (!live(i)) continue;
        const t = performance.now();
        const r = await client.get(BUCKET, `o/${i}`);
        lat.push(performance.now() - t);
        if (r.status !== 200) fail(`GET o/${i}: ${r.status}`);
      }
    }),
  );
  return { n: lat.length, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

/** The server's own account of its compaction runs (pino lines 'compacted sparse chunkfiles'). */
async function compactionRuns(logPath: string) {
  const out = { files: 0, entries: 0, bytes: 0, seconds: 0, intervals: [] as Array<[number, number]> };
  for (const line of (await readFile(logPath, 'utf8')).split('\n')) {
    if (!line.includes('compacted sparse chunkfiles')) continue;
    const r = JSON.parse(line) as {
      time: string;
      files: number;
      entriesMoved: number;
      bytesMoved: number;
      seconds: number;
    };
    out.files += r.files;
    out.entries += r.entriesMoved;
    out.bytes += r.bytesMoved;
    out.seconds += r.seconds;
    const end = Date.parse(r.time);
    out.intervals.push([end - r.seconds * 1000, end]);
  }
  return out;
}

function split(ts: Array<{ ms: number }>): { n: number; p50: number; p99: number } {
  const ms = ts.map((t) => t.ms);
  return { n: ms.length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const mb = (b: number | undefined) => ((b ?? 0) / 1e6).toFixed(1);

await main();
