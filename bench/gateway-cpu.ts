// Server CPU per request of the S3 gateway: starts a real Quire (embedded, durable, access log on), runs a
// fixed number of signed 4 KiB PUTs and GETs (and 1 MiB GETs) and reads the server's own
// process_cpu_seconds_total before and after each phase. CPU per request is steadier than throughput on
// a shared machine. Run: node --import tsx bench/gateway-cpu.ts [--ops 20000] [--prof DIR [--prof-interval µs]] [--stub: gateway over in-memory storage]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { runLoad } from './load.ts';
import { freePort, startServer } from './procs.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY } from './targets.ts';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '20000' },
    prof: { type: 'string' },
    /** Sampling interval of --prof in µs (V8's default is 1000: too coarse to tell a few µs per request apart). */
    'prof-interval': { type: 'string', default: '1000' },
    only: { type: 'string' },
    stub: { type: 'boolean', default: false },
    /** Paced load (requests/s): CPU per request depends on the load level, so A/B runs should share one. */
    rate: { type: 'string' },
    /** Serve from another checkout (A/B against a baseline copy of the tree). */
    root: { type: 'string' },
    /** Print the stub's event-loop delay lines at the end. */
    'loop-delay': { type: 'boolean', default: false },
  },
});
const ops = Number(values.ops);
const repoRoot = values.root ?? new URL('..', import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), 'quire-gwcpu-'));
const port = await freePort();
const server = await startServer({
  name: 'quire',
  command: process.execPath,
  args: [
    ...(values.prof
      ? ['--cpu-prof', `--cpu-prof-dir=${values.prof}`, `--cpu-prof-interval=${values['prof-interval']}`]
      : []),
    ...(values.stub
      ? ['--import', 'tsx', join(repoRoot, 'bench', 'gateway-stub.ts'), '--port', String(port)]
      : [join(repoRoot, 'bin', 'quire.mjs'), 'server', '--data', join(work, 'data'), '--port', String(port)]),
  ],
  port,
  cwd: repoRoot,
  env: { ...process.env, QUIRE_ACCESS_KEY: BENCH_ACCESS_KEY, QUIRE_SECRET_KEY: BENCH_SECRET_KEY },
  logFile: join(work, 'quire.log'),
  readyTimeoutMs: 60_000,
});

/** The server's event-loop delay since the last scrape (prom-client's default metrics), as 'p99 X / max Y ms'. */
async function loopLag(): Promise<string> {
  const res = await request(`${server.url}/metrics`);
  const text = await res.body.text();
  const read = (name: string) =>
    Number(new RegExp(`^quire_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]);
  return `p99 ${(read('p99') * 1000).toFixed(1)} / max ${(read('max') * 1000).toFixed(1)} ms`;
}

async function serverCpuSeconds(): Promise<number> {
  const res = await request(`${server.url}/metrics`);
  const text = await res.body.text();
  const m = /^quire_process_cpu_seconds_total (\S+)$/m.exec(text);
  if (!m) throw new Error('no process_cpu_seconds_total in /metrics');
  return Number(m[1]);
}

const client = new BenchS3Client(
  { url: server.url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
  { connections: 32 },
);
const small = Buffer.alloc(4096, 7);
const medium = Buffer.alloc(1024 * 1024, 9);

const rate = values.rate === undefined ? undefined : Number(values.rate);

async function phase(name: string, count: number, op: (i: number) => Promise<number>): Promise<void> {
  const before = await serverCpuSeconds();
  const t0 = performance.now();
  const r = await runLoad({
    concurrency: 32,
    durationMs: 600_000,
    maxOps: count,
    op: async (i) => {
      if (rate !== undefined) {
        const due = t0 + (i * 1000) / rate - performance.now();
        if (due > 0) await sleep(due);
      }
      const status = await op(i);
      return { ok: status === 200, units: 1, detail: `HTTP ${status}` };
    },
  });
  const cpu = (await serverCpuSeconds()) - before;
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} errors, first ${r.firstError}`);
  process.stdout.write(
    `${name.padEnd(12)} ${((cpu * 1e6) / r.ops).toFixed(1).padStart(7)} µs CPU/req  ` +
      `${(r.ops / r.seconds).toFixed(0).padStart(6)} req/s  (${r.ops} requests)\n`,
  );
}

/** p99 of small GETs alone, then while two clients PUT 64 MiB objects (as bench/http.ts measures it). */
async function latencyUnderLargePuts(): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024, 5);
  const probe = () =>
    runLoad({
      concurrency: 4,
      durationMs: 4000,
      recordLatency: true,
      op: async (i) => ({ ok: (await client.get('bench', `w${i % 3000}`)).status === 200, units: 1 }),
    });
  const p99 = (ms: readonly number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length * 0.99)] ?? NaN;
  await loopLag(); // prom-client resets its event-loop histogram on every scrape
  const idle = await probe();
  const idleLag = await loopLag();
  const [loaded, large] = await Promise.all([
    probe(),
    runLoad({
      concurrency: 2,
      durationMs: 4000,
      op: async (i) => ({
        ok: (await client.putRepeated('bench', `big${i}`, chunk, 64 * 1024 * 1024)).status === 200,
        units: 64,
      }),
    }),
  ]);
  const loadedLag = await loopLag();
  process.stdout.write(
    `small GET p99 idle ${p99(idle.latenciesMs).toFixed(2)} ms, during 64 MiB PUTs ${p99(loaded.latenciesMs).toFixed(2)} ms ` +
      `(${((large.units * 1.048576) / large.seconds).toFixed(0)} MB/s of PUTs); server event-loop delay (10 ms resolution) ` +
      `idle ${idleLag}, during PUTs ${loadedLag}\n`,
  );
}

try {
  await client.createBucket('bench');
  const want = (n: string) => values.only === undefined || values.only.split(',').includes(n);
  // Warm-up: JIT the server's paths before anything is counted.
  await phase('warm-up put', 3000, async (i) => (await client.put('bench', `w${i}`, small)).status);
  await phase('warm-up get', 3000, async (i) => (await client.get('bench', `w${i}`)).status);
  if (want('put'))
    await phase('PUT 4 KiB', ops, async (i) => (await client.put('bench', `k${i}`, small)).status);
  if (want('get'))
    await phase('GET 4 KiB', ops, async (i) => (await client.get('bench', `w${i % 3000}`)).status);
  if (want('get1m')) {
    for (let i = 0; i < 16; i++) await client.put('bench', `m${i}`, medium);
    await phase(
      'GET 1 MiB',
      Math.max(200, ops / 20),
      async (i) => (await client.get('bench', `m${i % 16}`)).status,
    );
  }
  if (want('latency')) await latencyUnderLargePuts();
} finally {
  await client.close();
  await server.stop();
  if (values['loop-delay']) {
    const log = await readFile(join(work, 'quire.log'), 'utf8');
    for (const line of log.split('\n')) if (line.startsWith('loop delay')) process.stdout.write(`${line}\n`);
  }
  await rm(work, { recursive: true, force: true });
}
