// Where a cluster request's time goes: starts the benchmark's cluster (tracker, 2 × 2 storage nodes, gateway) and
// a single `quire server`, runs the 4 KiB PUT and GET workloads of `npm run bench -- cluster` on each, and prints
// ops/s with the CPU each process spent per operation (from /proc), so CPU-bound and waiting can be told apart.
// Run: node --import tsx bench/cluster-probe.ts [--ms 4000] [--concurrency 32] [--prof DIR] [--no-single]
// --prof DIR leaves a CPU profile of every cluster process in DIR (cpu-profile.mjs, preloaded through NODE_OPTIONS,
// which refuses --cpu-prof; QUIRE_PROF_INTERVAL sets the sampling interval in µs).
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchCluster, startBenchCluster } from './cluster.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY, startQuire } from './targets.ts';
import { BUCKET, getSmall, type HttpTarget, putSmall } from './workloads.ts';

const { values } = parseArgs({
  options: {
    ms: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '32' },
    prof: { type: 'string' },
    'no-single': { type: 'boolean', default: false },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const ms = Number(values.ms);
const concurrency = Number(values.concurrency);
const repoRoot = new URL('..', import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), 'quire-probe-'));
const TICKS = 100; // USER_HZ

/** CPU seconds (user + system) a process has used so far. */
function cpuOf(pid: number | string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

async function newTarget(name: string, url: string): Promise<HttpTarget> {
  const client = new BenchS3Client(
    { url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
    { connections: concurrency },
  );
  const t: HttpTarget = { name, client, smallWritten: 0, mediumWritten: 0 };
  await client.createBucket(BUCKET);
  for (let round = 0; round < 10 && t.smallWritten === 0; round++) await putSmall(t, concurrency, 1000);
  await getSmall(t, concurrency, 1000);
  return t;
}

/** CPU seconds per thread name (summed) of a process. */
function threadsOf(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = `${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()}${tid === String(pid) ? '(main)' : ''}`;
      out.set(comm, (out.get(comm) ?? 0) + cpuOf(`${pid}/task/${tid}`));
    } catch {}
  }
  return out;
}

function threadLine(
  name: string,
  before: Map<string, number>,
  after: Map<string, number>,
  ops: number,
): string {
  const parts = [...after]
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${((v / ops) * 1e6).toFixed(0)}`);
  return `    ${name} threads µs/op: ${parts.join(', ')}`;
}

/** CPU the processes use with no request for 3 s (heartbeats, push sync, background work). */
async function idle(pids: Array<[string, number]>, when: string): Promise<void> {
  const idle0 = pids.map(([, pid]) => cpuOf(pid));
  await new Promise((r) => setTimeout(r, 3000));
  const each = pids.map(([n, pid], i) => `${n} ${(((cpuOf(pid) - idle0[i]!) / 3) * 1000).toFixed(0)}`);
  console.log(`cluster idle ${when} the load: CPU ms/s: ${each.join(', ')}`);
}

async function probe(t: HttpTarget, pids: Array<[string, number]>): Promise<void> {
  for (const [label, run] of [
    ['PUT 4 KiB', () => putSmall(t, concurrency, ms)],
    ['GET 4 KiB', () => getSmall(t, concurrency, ms)],
  ] as const) {
    if (values.only && !label.startsWith(values.only)) continue;
    const before = pids.map(([, pid]) => cpuOf(pid));
    const threads0 = pids.map(([, pid]) => threadsOf(pid));
    const self0 = process.cpuUsage();
    const r = await run();
    const self = process.cpuUsage(self0);
    const ops = r.result.ops;
    const per = pids.map(
      ([name, pid], i) => `${name} ${(((cpuOf(pid) - before[i]!) / ops) * 1e6).toFixed(0)}`,
    );
    const client = ((self.user + self.system) / ops).toFixed(0);
    const total =
      pids.reduce((s, [, pid], i) => s + cpuOf(pid) - before[i]!, 0) + (self.user + self.system) / 1e6;
    console.log(
      `${t.name} ${label}: ${r.opsPerSec.toFixed(0)} ops/s (errors ${r.result.errors}); CPU µs/op: ${per.join(', ')}, ` +
        `client ${client}; CPU busy ${((total / r.result.seconds) * 100).toFixed(0)} % of one core`,
    );
    for (const [i, [name, pid]] of pids.entries())
      console.log(threadLine(name, threads0[i]!, threadsOf(pid), ops));
  }
}

try {
  if (!values['no-single']) {
    const dir = join(work, 'single');
    const quire = await startQuire(repoRoot, dir);
    try {
      const t = await newTarget('single', quire.url);
      await probe(t, [['server', quire.child.pid!]]);
      await t.client.close();
    } finally {
      await quire.stop();
    }
  }
  const prof = values.prof;
  if (prof)
    Object.assign(process.env, {
      NODE_OPTIONS: `--import=${join(repoRoot, 'bench', 'cpu-profile.mjs')}`,
      QUIRE_PROF_DIR: prof,
    });
  const c: BenchCluster = await startBenchCluster(join(work, 'cluster'), () => {});
  if (prof) process.env.NODE_OPTIONS = '';
  try {
    const t = await newTarget('cluster', c.endpoint);
    const pids: Array<[string, number]> = [...c.nodes.entries()].map(([n, x]) => [
      n.replace('storage-', ''),
      x.proc.proc.pid!,
    ]);
    pids.push(...c.others().map((p): [string, number] => [p.name, p.proc.pid!]));
    await idle(pids, 'before');
    await probe(t, pids);
    await idle(pids, 'after');
    await t.client.close();
  } finally {
    await c.close();
  }
} finally {
  if (values.keep) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
