// The HTTP section: the same client workloads against the ceiling and the server under test,
// alternating (ceiling, subject, ceiling, subject) so both see the same machine conditions.
import type { HttpTarget, LatencyFigures } from './workloads.ts';
import {
  BUCKET,
  FILL_BUCKET,
  fillCurve,
  getLatencyUnderLargePuts,
  getMedium,
  getSmall,
  listPages,
  putLarge,
  putSmall,
} from './workloads.ts';

export interface HttpPlan {
  readonly concurrency: number;
  /** Length of one timed run of a throughput workload. */
  readonly runMs: number;
  readonly rounds: number;
  readonly largeObjects: number;
  readonly largeConcurrency: number;
  readonly latencyMs: number;
  readonly fillTarget: number;
  readonly fillSteps: number;
  readonly fillTimeLimitMs: number;
}

export function httpPlan(quick: boolean): HttpPlan {
  return quick
    ? {
        concurrency: 32,
        runMs: 1500,
        rounds: 2,
        largeObjects: 8,
        largeConcurrency: 4,
        latencyMs: 2000,
        fillTarget: 100_000,
        fillSteps: 5,
        fillTimeLimitMs: 30_000,
      }
    : {
        concurrency: 32,
        runMs: 5000,
        rounds: 2,
        largeObjects: 16,
        largeConcurrency: 4,
        latencyMs: 5000,
        fillTarget: 1_000_000,
        fillSteps: 10,
        fillTimeLimitMs: 300_000,
      };
}

/** One workload's figures: per target name, one value per round. */
export interface Measured {
  readonly id: 'put4k' | 'get4k' | 'get1m' | 'put64m' | 'list';
  readonly label: string;
  readonly unit: string;
  readonly values: Record<string, number[]>;
  readonly errors: Record<string, string>;
}

export interface HttpReport {
  readonly measured: Measured[];
  readonly latency: Record<string, LatencyFigures>;
  readonly fill: { level: number; putsPerSec: number }[];
  readonly fillTarget: number;
}

type Log = (line: string) => void;

interface Workload {
  readonly id: Measured['id'];
  readonly label: string;
  readonly unit: string;
  run(t: HttpTarget): Promise<number>;
}

function workloads(plan: HttpPlan): Workload[] {
  const c = plan.concurrency;
  return [
    {
      id: 'put4k',
      label: 'PUT 4 KiB',
      unit: 'ops/s',
      run: async (t) => (await putSmall(t, c, plan.runMs)).opsPerSec,
    },
    {
      id: 'get4k',
      label: 'GET 4 KiB',
      unit: 'ops/s',
      run: async (t) => (await getSmall(t, c, plan.runMs)).opsPerSec,
    },
    {
      id: 'get1m',
      label: 'GET 1 MiB',
      unit: 'MB/s',
      run: async (t) => (await getMedium(t, c, plan.runMs)).mbPerSec,
    },
    {
      id: 'put64m',
      label: 'PUT 64 MiB',
      unit: 'MB/s',
      run: async (t) => (await putLarge(t, plan.largeObjects, plan.largeConcurrency, 120_000)).mbPerSec,
    },
  ];
}

const listWorkload = (plan: HttpPlan): Workload => ({
  id: 'list',
  label: 'ListObjectsV2 (1,000-key pages)',
  unit: 'keys/s',
  run: async (t) => (await listPages(t, plan.concurrency, plan.runMs)).keysPerSec,
});

/** A figure measured at the start of each round of one workload, e.g. raw disk bandwidth next to 64 MiB PUTs. */
export interface Probe {
  readonly name: string;
  readonly unit: string;
  readonly forWorkload: Measured['id'];
  run(): Promise<number>;
}

/** targets[0] is the ceiling; the fill curve runs on every other target. */
export async function benchHttp(
  targets: HttpTarget[],
  plan: HttpPlan,
  log: Log,
  probes: readonly Probe[] = [],
): Promise<HttpReport> {
  for (const t of targets) await createBuckets(t);
  await warmUp(targets, log);
  const measured: Measured[] = [];
  for (const w of workloads(plan)) {
    const probe = probes.find((p) => p.forWorkload === w.id);
    measured.push(await alternate(w, targets, plan.rounds, log, probe));
  }

  const latency: Record<string, LatencyFigures> = {};
  for (const t of targets) {
    try {
      latency[t.name] = await getLatencyUnderLargePuts(t, 4, 2, plan.latencyMs);
      const l = latency[t.name]!;
      log(
        `  ${t.name}: small GET p99 idle ${l.idleP99Ms.toFixed(2)} ms, during 64 MiB PUTs ` +
          `${l.loadedP99Ms.toFixed(2)} ms (${l.largeMbPerSec.toFixed(0)} MB/s of PUTs)`,
      );
    } catch (err) {
      log(`  ${t.name}: latency probe failed: ${(err as Error).message}`);
    }
  }

  let fill: HttpReport['fill'] = [];
  for (const t of targets.slice(1)) {
    log(`  ${t.name}: filling ${FILL_BUCKET} to ${plan.fillTarget.toLocaleString('en-US')} objects`);
    try {
      fill = await fillCurve(
        t,
        plan.fillTarget,
        plan.fillSteps,
        plan.concurrency,
        plan.fillTimeLimitMs,
        (s) => log(`    at ${s.level.toLocaleString('en-US')} objects: ${s.putsPerSec.toFixed(0)} PUT/s`),
      );
    } catch (err) {
      log(`  ${t.name}: fill failed: ${(err as Error).message}`);
    }
  }
  measured.push(await alternate(listWorkload(plan), targets, plan.rounds, log));
  return { measured, latency, fill, fillTarget: plan.fillTarget };
}

async function createBuckets(t: HttpTarget): Promise<void> {
  for (const bucket of [BUCKET, FILL_BUCKET]) {
    const r = await t.client.createBucket(bucket);
    // 409 BucketAlreadyOwnedByYou is fine: an external endpoint may keep buckets between runs.
    if (r.status !== 200 && r.status !== 409) {
      throw new Error(`${t.name}: CreateBucket ${bucket} answered ${r.status} ${r.body?.toString() ?? ''}`);
    }
  }
}

/** JIT both the client and the servers before anything is timed. */
async function warmUp(targets: HttpTarget[], log: Log): Promise<void> {
  for (const t of targets) {
    await putSmall(t, 32, 1000);
    await getSmall(t, 32, 1000);
  }
  log('  warmed up');
}

async function alternate(
  w: Workload,
  targets: HttpTarget[],
  rounds: number,
  log: Log,
  probe?: Probe,
): Promise<Measured> {
  const values: Record<string, number[]> = {};
  const errors: Record<string, string> = {};
  for (let round = 0; round < rounds; round++) {
    if (probe !== undefined) {
      const v = await probe.run();
      values[probe.name] = [...(values[probe.name] ?? []), v];
      log(`  ${probe.name}: ${fmt(v)} ${probe.unit}`);
    }
    for (const t of targets) {
      if (errors[t.name] !== undefined) continue;
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      try {
        const v = await w.run(t);
        values[t.name] = [...(values[t.name] ?? []), v];
        log(`  ${w.label} ${t.name}: ${fmt(v)} ${w.unit} (client CPU ${clientCpu(cpu, t0)} %)`);
      } catch (err) {
        errors[t.name] = (err as Error).message;
        log(`  ${w.label} ${t.name}: FAILED ${errors[t.name]}`);
      }
    }
  }
  return { id: w.id, label: w.label, unit: w.unit, values, errors };
}

/** Share of one core the benchmark process used: near 100 means the client may be the bottleneck. */
function clientCpu(since: NodeJS.CpuUsage, t0: number): string {
  const used = process.cpuUsage(since);
  const wallUs = (performance.now() - t0) * 1000;
  return ((100 * (used.user + used.system)) / wallUs).toFixed(0);
}

function fmt(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

export function mean(values: readonly number[] | undefined): number {
  if (values === undefined || values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}
