// The cluster section of `npm run bench`: a tracker, syncgroups a and b × 2 storage nodes and a gateway on
// loopback (real processes, default timings: heartbeats every 2 s, suspect after 10 s, gateway polls every 250 ms),
// measured against a single `quire server` in the same run:
// - 4 KiB PUT and GET ops/s and 64 MiB PUT MB/s, single node vs mirrored vs async (the bucket's
//   'replication-mode' set through the tracker), as ratios to the single node;
// - replication lag (the nodes' push-sync reports in the tracker's status) under a sustained async PUT load, and
//   how long it takes to drain;
// - the failover windows: GETs and PUTs run without pause while one node is SIGKILLed, then while another is
//   SIGSTOPped (and SIGCONTed): failed GETs and the PUT failure window in seconds;
// - the recovery pull rate: a node's data directory wiped and the node restarted refills itself from its mirror.
// Whatever the nodes do not report (no push sync, no recovery phase) is said to be not measured.
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Proc, startProc } from '../conformance/cluster.ts';
import { measureSequentialMBps } from './disk.ts';
import type { ChildServer } from './procs.ts';
import { freePort } from './procs.ts';
import type { Row } from './report.ts';
import { ratioRow } from './report.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY, startQuire } from './targets.ts';
import { BUCKET, bodies, getSmall, type HttpTarget, putLarge, putSmall, spreadKey } from './workloads.ts';

type Log = (line: string) => void;

export interface ClusterPlan {
  readonly concurrency: number;
  readonly runMs: number;
  readonly largeObjects: number;
  readonly lagLoadMs: number;
  /** Consecutive successful PUTs (and GETs started after the fault) that end a failover measurement. */
  readonly settleOps: number;
  readonly recoveryDiskProbeBytes: number;
}

export function clusterPlan(quick: boolean): ClusterPlan {
  return quick
    ? {
        concurrency: 32,
        runMs: 1500,
        largeObjects: 4,
        lagLoadMs: 5000,
        settleOps: 50,
        recoveryDiskProbeBytes: 256 << 20,
      }
    : {
        concurrency: 32,
        runMs: 5000,
        largeObjects: 8,
        lagLoadMs: 15_000,
        settleOps: 300,
        recoveryDiskProbeBytes: 1 << 30,
      };
}

export interface Rates {
  readonly put4k: number;
  readonly get4k: number;
  readonly put64m: number;
}

export interface FailoverFigures {
  readonly fault: 'SIGKILL' | 'SIGSTOP';
  readonly gets: number;
  readonly failedGets: number;
  readonly firstGetError?: string;
  /** Slowest GET started after the fault (a GET to a frozen node waits --failover-after-ms). */
  readonly slowestGetMs: number;
  readonly puts: number;
  /** PUTs that failed, or did not answer within PUT_HUNG_MS (a PUT to a frozen node waits for it). */
  readonly failedPuts: number;
  /** From the fault to the start of the last PUT that failed or hung; 0 when none did. */
  readonly putWindowS: number;
  /** From the fault to the tracker reporting the node suspect. */
  readonly suspectAfterS: number;
}

export interface ClusterFigures {
  /** Whether the nodes reported push sync (mirroring); without it the "mirrored" rates are of one copy per key. */
  readonly mirroring: boolean;
  readonly single: Rates;
  readonly mirrored: Rates | null;
  readonly async: Rates | null;
  /** Peak push-sync lag over all nodes during the async load, and the seconds to drain after it. */
  readonly lag: { peakOps: number; peakBytes: number; drainS: number } | null;
  readonly failover: FailoverFigures[];
  readonly recovery: { mbPerSec: number; objectsPerSec: number; bytes: number; objects: number } | null;
  readonly rawDiskMBps: number | null;
  readonly notes: string[];
}

/** A PUT that has not answered within this long counts as failed (a client would time out and retry). */
const PUT_HUNG_MS = 5000;
const SYNCGROUPS = ['a', 'b'];

interface NodeStatus {
  nodeId: string;
  syncgroup: string;
  url: string;
  state: 'up' | 'suspect' | 'recovering';
  objects: number;
  catalogVersion?: string;
  phase?: string;
  recovery?: { startedMs: number; objects: number; bytes: number };
  sync?: Array<{ nodeId: string; lagOps: number; lagBytes: number }>;
}

export interface BenchCluster {
  readonly endpoint: string;
  readonly nodes: Map<string, { proc: Proc; url: string; port: string; nodeId: string }>;
  status(): Promise<NodeStatus[]>;
  tracker(path: string, body: unknown): Promise<unknown>;
  startNode(name: string): Promise<void>;
  /** The tracker and the gateway. */
  others(): Proc[];
  close(): Promise<void>;
}

/** `track` is told of every process started, so the benchmark's own cleanup (Ctrl-C) stops them too. */
export async function startBenchCluster(dir: string, track: (p: ChildServer) => void): Promise<BenchCluster> {
  await mkdir(dir, { recursive: true });
  const env = {
    QUIRE_ACCESS_KEY: BENCH_ACCESS_KEY,
    QUIRE_SECRET_KEY: BENCH_SECRET_KEY,
    QUIRE_LOG_LEVEL: 'warn',
  };
  const procs: Proc[] = [];
  const started = (p: Proc) => {
    procs.push(p);
    track({ name: p.name, url: '', child: p.proc, stop: async () => void (await p.stop()) });
  };
  const tracker = startProc(
    'tracker',
    ['tracker', '--data', join(dir, 'tracker'), '--port', '0', '--syncgroups', SYNCGROUPS.join(',')],
    dir,
    env,
  );
  started(tracker);
  const trackerUrl = await tracker.line(/^\s+tracker:\s+(\S+)/);
  const secretFile = join(dir, 'tracker', 'cluster-secret');
  const secret = readFileSync(secretFile, 'utf8').trim();
  const common = ['--tracker', trackerUrl, '--cluster-secret-file', secretFile];
  const nodes = new Map<string, { proc: Proc; url: string; port: string; nodeId: string }>();
  const startNode = async (name: string) => {
    const port = nodes.get(name)?.port ?? String(await freePort());
    const proc = startProc(
      name,
      ['storage', '--data', join(dir, name), '--port', port, '--syncgroup', name.split('-')[1]!, ...common],
      dir,
      env,
    );
    started(proc);
    // A node whose data directory was wiped comes back with a new id (at the same address).
    const [nodeId, url] = await Promise.all([
      proc.line(/storage node (\S+) \(syncgroup/),
      proc.line(/is serving at (\S+);/),
    ]);
    nodes.set(name, { proc, url, port, nodeId });
  };
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${trackerUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'x-quire-cluster-secret': secret },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status !== 200) throw new Error(`tracker ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const status = async () =>
    ((await call('/v1/status')) as { syncgroups: Array<{ nodes: NodeStatus[] }> }).syncgroups.flatMap(
      (g) => g.nodes,
    );
  try {
    await Promise.all(SYNCGROUPS.flatMap((g) => [1, 2].map((i) => startNode(`storage-${g}-${i}`))));
    await until(
      async () => (await status()).filter((n) => n.state === 'up').length === 4,
      60_000,
      'nodes up',
    );
    const port = await freePort();
    const gateway = startProc('gateway', ['gateway', '--port', String(port), ...common], dir, env);
    started(gateway);
    const endpoint = await gateway.line(/serving S3 at (\S+)/);
    await until(
      async () => (await fetch(`${endpoint}/health`).catch(() => undefined))?.status === 200,
      60_000,
      'gateway ready',
    );
    return {
      endpoint,
      nodes,
      status,
      tracker: call,
      startNode,
      others: () => [tracker, gateway],
      close: async () => {
        for (const p of procs) p.proc.kill('SIGCONT');
        await Promise.all(procs.map((p) => p.stop()));
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.kill()));
    throw err;
  }
}

/** Polls `ok` every 100 ms until it holds; throws after `limitMs` (a benchmark must end). */
async function until(ok: () => Promise<boolean>, limitMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await ok().catch(() => false)) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measureRates(t: HttpTarget, plan: ClusterPlan, log: Log, name: string): Promise<Rates> {
  const put4k = (await putSmall(t, plan.concurrency, plan.runMs)).opsPerSec;
  const get4k = (await getSmall(t, plan.concurrency, plan.runMs)).opsPerSec;
  const put64m = (await putLarge(t, plan.largeObjects, 4, 180_000)).mbPerSec;
  log(
    `  ${name}: PUT 4 KiB ${put4k.toFixed(0)} ops/s, GET 4 KiB ${get4k.toFixed(0)} ops/s, PUT 64 MiB ${put64m.toFixed(0)} MB/s`,
  );
  return { put4k, get4k, put64m };
}

async function target(name: string, url: string, plan: ClusterPlan): Promise<HttpTarget> {
  const client = new BenchS3Client(
    { url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
    { connections: plan.concurrency },
  );
  const t: HttpTarget = { name, client, smallWritten: 0, mediumWritten: 0 };
  const r = await client.createBucket(BUCKET);
  if (r.status !== 200)
    throw new Error(`${name}: CreateBucket answered ${r.status} ${r.body?.toString() ?? ''}`);
  // Warm up (and objects for the GETs): a just-started cluster may refuse its first writes while the gateway's
  // first poll settles, and a round with any error records no objects.
  for (let round = 0; round < 10 && t.smallWritten === 0; round++) await putSmall(t, plan.concurrency, 1000);
  await getSmall(t, plan.concurrency, 1000);
  return t;
}

/** The bucket's id as the tracker's catalog has it (a poll as a throwaway gateway, then its lease given back). */
async function bucketRef(c: BenchCluster, name: string): Promise<{ name: string; id: string }> {
  const gatewayId = 'bec0000000000001';
  const reply = (await c.tracker('/v1/gateway/poll', { gatewayId })) as {
    catalog?: { buckets: Array<{ name: string; id: string }> };
  };
  await c.tracker('/v1/gateway/leave', { gatewayId });
  const b = reply.catalog?.buckets.find((x) => x.name === name);
  if (!b) throw new Error(`bucket ${name} is not in the tracker's catalog`);
  return { name: b.name, id: b.id };
}

/** Sets the bucket's replication mode and waits until every node holds the catalog version that says so. */
async function setMode(c: BenchCluster, mode: 'async' | undefined): Promise<void> {
  const bucket = await bucketRef(c, BUCKET);
  const reply = (await c.tracker('/v1/buckets/config', {
    bucket,
    kind: 'replication-mode',
    ...(mode === undefined ? {} : { value: mode }),
  })) as { ok: boolean; catalog: { version: string } };
  if (!reply.ok) throw new Error('the tracker did not take the replication-mode setting');
  await until(
    async () =>
      (await c.status()).every((n) => n.state !== 'up' || n.catalogVersion === reply.catalog.version),
    30_000,
    'nodes holding the new catalog',
  );
  // The gateway's copy too (it polls every 250 ms).
  await new Promise((r) => setTimeout(r, 1500));
}

async function measureLag(
  c: BenchCluster,
  t: HttpTarget,
  plan: ClusterPlan,
  log: Log,
): Promise<ClusterFigures['lag']> {
  const lagOf = (ns: NodeStatus[]) => ({
    ops: ns.reduce((n, x) => n + (x.sync ?? []).reduce((m, s) => m + s.lagOps, 0), 0),
    bytes: ns.reduce((n, x) => n + (x.sync ?? []).reduce((m, s) => m + s.lagBytes, 0), 0),
  });
  if (!(await c.status()).some((n) => n.sync !== undefined)) {
    log('  replication lag: not measured (the nodes report no push sync)');
    return null;
  }
  let peakOps = 0;
  let peakBytes = 0;
  let loading = true;
  const sampler = (async () => {
    while (loading) {
      const lag = lagOf(await c.status());
      peakOps = Math.max(peakOps, lag.ops);
      peakBytes = Math.max(peakBytes, lag.bytes);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const rate = await putSmall(t, plan.concurrency, plan.lagLoadMs);
  loading = false;
  await sampler;
  const drainMs = await until(async () => lagOf(await c.status()).ops === 0, 120_000, 'lag drained');
  log(
    `  replication lag under ${rate.opsPerSec.toFixed(0)} async PUT/s for ${plan.lagLoadMs / 1000} s: peak ` +
      `${peakOps} ops / ${(peakBytes / 1e6).toFixed(1)} MB, drained ${(drainMs / 1000).toFixed(1)} s after the load`,
  );
  return { peakOps, peakBytes, drainS: drainMs / 1000 };
}

/** GETs (of objects written before) and PUTs (new keys) without pause while `fault` hits one node. */
async function measureFailover(
  c: BenchCluster,
  url: string,
  victimName: string,
  fault: FailoverFigures['fault'],
  plan: ClusterPlan,
  readable: number,
  log: Log,
): Promise<FailoverFigures> {
  const client = new BenchS3Client(
    { url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
    { connections: 128 },
  );
  const victim = c.nodes.get(victimName)!;
  let faultAt = Number.POSITIVE_INFINITY;
  let stop = false;
  let gets = 0;
  let failedGets = 0;
  let firstGetError: string | undefined;
  let slowestGetMs = 0;
  const puts: Array<{ at: number; ok: boolean }> = [];
  let n = 0;
  const readers = Array.from({ length: 8 }, async (_x, w) => {
    let i = w;
    while (!stop) {
      i = (Math.imul(i + 1, 7919) >>> 0) % readable;
      const t0 = performance.now();
      const r = await client.get(BUCKET, spreadKey('s/', i)).then(
        (x) => ({
          status: x.status,
          detail: /<Code>([^<]*)<\/Code>/.exec(x.body?.toString() ?? '')?.[1] ?? '',
        }),
        (e: Error) => ({ status: 0, detail: e.message }),
      );
      if (t0 < faultAt) continue;
      gets++;
      slowestGetMs = Math.max(slowestGetMs, performance.now() - t0);
      if (r.status !== 200) {
        failedGets++;
        firstGetError ??= `HTTP ${r.status} ${r.detail}`;
      }
    }
  });
  const writers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const key = `f/${fault}/${n++}`;
      const at = performance.now();
      const reply = client.put(BUCKET, key, bodies.small).then(
        (r) => r.status === 200,
        () => false,
      );
      const ok = await Promise.race([
        reply,
        new Promise<boolean>((r) => setTimeout(() => r(false), PUT_HUNG_MS)),
      ]);
      if (at >= faultAt) puts.push({ at, ok });
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  faultAt = performance.now();
  let suspectMs: number;
  try {
    if (fault === 'SIGKILL') await victim.proc.kill();
    else victim.proc.proc.kill('SIGSTOP');
    suspectMs = await until(
      async () => (await c.status()).some((s) => s.url === victim.url && s.state === 'suspect'),
      120_000,
      `${victimName} suspect`,
    );
    const settled = () => {
      let run = 0;
      for (let i = puts.length - 1; i >= 0 && puts[i]!.ok; i--) run++;
      return run >= plan.settleOps && gets >= plan.settleOps;
    };
    await until(async () => settled(), 300_000, 'PUTs succeeding again');
  } finally {
    stop = true;
    if (fault === 'SIGSTOP') victim.proc.proc.kill('SIGCONT');
    await Promise.all([...readers, ...writers]);
    await client.close();
  }
  const failed = puts.filter((p) => !p.ok);
  const figures: FailoverFigures = {
    fault,
    gets,
    failedGets,
    ...(firstGetError === undefined ? {} : { firstGetError }),
    slowestGetMs,
    puts: puts.length,
    failedPuts: failed.length,
    putWindowS: failed.length === 0 ? 0 : (failed.at(-1)!.at - faultAt) / 1000,
    suspectAfterS: suspectMs / 1000,
  };
  log(
    `  ${fault} ${victimName}: ${failedGets} of ${gets} GETs failed (slowest ${slowestGetMs.toFixed(0)} ms)` +
      `${firstGetError ? ` first: ${firstGetError}` : ''}; ${figures.failedPuts} of ${figures.puts} PUTs failed, ` +
      `window ${figures.putWindowS.toFixed(1)} s; suspect after ${figures.suspectAfterS.toFixed(1)} s`,
  );
  return figures;
}

/** Wipes a node's data directory and restarts it; the rate of its recovery pull, if it does one. */
async function measureRecovery(
  c: BenchCluster,
  dir: string,
  name: string,
  log: Log,
): Promise<ClusterFigures['recovery']> {
  const node = c.nodes.get(name)!;
  await node.proc.stop();
  await rm(join(dir, name), { recursive: true, force: true });
  const startedAt = performance.now();
  await c.startNode(name);
  const nodeId = c.nodes.get(name)!.nodeId;
  let last: NodeStatus['recovery'];
  let sawRecovering = false;
  const mine = async () => (await c.status()).find((s) => s.nodeId === nodeId);
  try {
    await until(
      async () => {
        const s = await mine();
        if (s?.state === 'recovering' || s?.phase === 'recovering') {
          sawRecovering = true;
          if (s.recovery) last = s.recovery;
          return false;
        }
        // Up without ever reporting a pull: either no recovery (before it landed) or a pull too quick to see.
        return s?.state === 'up' && (sawRecovering || performance.now() - startedAt > 15_000);
      },
      300_000,
      `${name} recovered`,
    );
  } catch (err) {
    log(`  recovery pull: ${(err as Error).message}`);
    return null;
  }
  const seconds = (performance.now() - startedAt) / 1000;
  if (!sawRecovering || !last) {
    log('  recovery pull: not measured (the restarted node never reported a recovering phase with progress)');
    return null;
  }
  const up = await mine();
  const objects = Math.max(last.objects, up?.objects ?? 0);
  const figures = {
    mbPerSec: last.bytes / seconds / 1e6,
    objectsPerSec: objects / seconds,
    bytes: last.bytes,
    objects,
  };
  log(
    `  recovery pull of ${name}: ${objects} objects, ${(last.bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s = ` +
      `${figures.mbPerSec.toFixed(1)} MB/s, ${figures.objectsPerSec.toFixed(0)} objects/s`,
  );
  return figures;
}

export async function benchCluster(opts: {
  repoRoot: string;
  workDir: string;
  quick: boolean;
  log: Log;
  /** Every process started is added here (the benchmark stops them on Ctrl-C). */
  servers: ChildServer[];
}): Promise<ClusterFigures> {
  const { repoRoot, workDir, quick, log } = opts;
  const plan = clusterPlan(quick);
  const notes: string[] = [];
  log('# cluster');
  // The single node first, alone on the machine, with the same workloads.
  const singleDir = join(workDir, 'cluster-single');
  await mkdir(singleDir, { recursive: true });
  const quire = await startQuire(repoRoot, singleDir);
  opts.servers.push(quire);
  let single: Rates;
  try {
    const t = await target('single', quire.url, plan);
    single = await measureRates(t, plan, log, 'single node');
    await t.client.close();
  } finally {
    await quire.stop();
    await rm(singleDir, { recursive: true, force: true });
  }

  const dir = join(workDir, 'cluster');
  const c = await startBenchCluster(dir, (p) => opts.servers.push(p));
  let mirrored: Rates | null = null;
  let asyncRates: Rates | null = null;
  let lag: ClusterFigures['lag'] = null;
  const failover: FailoverFigures[] = [];
  let recovery: ClusterFigures['recovery'] = null;
  let rawDiskMBps: number | null = null;
  let mirroring = false;
  try {
    mirroring = (await c.status()).every((n) => n.sync !== undefined);
    if (!mirroring)
      notes.push('the storage nodes report no push sync: each key is on one node (no mirroring)');
    log(`  cluster up at ${c.endpoint}${mirroring ? '' : ' (nodes report no push sync: not mirroring)'}`);
    const t = await target('cluster', c.endpoint, plan);
    mirrored = await measureRates(t, plan, log, 'mirrored (default)');
    try {
      await setMode(c, 'async');
      asyncRates = await measureRates(t, plan, log, 'async');
      lag = await measureLag(c, t, plan, log);
    } catch (err) {
      notes.push(`async: ${(err as Error).message}`);
      log(`  async: FAILED ${(err as Error).message}`);
    } finally {
      await setMode(c, undefined).catch(() => undefined);
    }
    await t.client.close();
    const readable = Math.min(t.smallWritten, 50_000);
    if (mirroring) {
      // SIGKILL one node of syncgroup a, then bring it back (it catches up by push sync)…
      const measure = async (victim: string, fault: FailoverFigures['fault']) => {
        try {
          failover.push(await measureFailover(c, c.endpoint, victim, fault, plan, readable, log));
        } catch (err) {
          notes.push(`${fault} failover: ${(err as Error).message}`);
          log(`  ${fault} ${victim}: FAILED ${(err as Error).message}`);
        }
      };
      await measure('storage-a-1', 'SIGKILL');
      await c.startNode('storage-a-1');
      // Back and caught up by push sync (until then it may lack what was written while it was down).
      const caughtUp = async () =>
        (await c.status()).every((s) => s.state === 'up' && (s.sync ?? []).every((x) => x.lagOps === 0));
      const catchUpMs = await until(caughtUp, 600_000, 'storage-a-1 back up and caught up');
      log(`  storage-a-1 restarted: up and caught up after ${(catchUpMs / 1000).toFixed(1)} s`);
      // …then freeze one of syncgroup b.
      await measure('storage-b-1', 'SIGSTOP');
      await until(caughtUp, 600_000, 'storage-b-1 back up and caught up');
      recovery = await measureRecovery(c, dir, 'storage-a-2', log);
      rawDiskMBps = await measureSequentialMBps(
        join(workDir, 'cluster-disk-probe'),
        plan.recoveryDiskProbeBytes,
      );
      log(`  raw disk seq: ${rawDiskMBps.toFixed(0)} MB/s`);
    } else {
      log(
        '  failover and recovery: not measured (without mirroring a node that is down takes its keys with it)',
      );
      notes.push('failover windows and recovery pull not measured: no mirroring');
    }
  } finally {
    await c.close();
  }
  return { mirroring, single, mirrored, async: asyncRates, lag, failover, recovery, rawDiskMBps, notes };
}

/** The table rows: each cluster figure beside the single node (or the raw disk), with the issue's goals. */
export function clusterRows(f: ClusterFigures | null): Row[] {
  if (f === null) return [];
  const rows: Row[] = [];
  const section = 'cluster' as const;
  const figures = [
    { id: 'put4k', label: 'PUT 4 KiB', unit: 'ops/s' },
    { id: 'get4k', label: 'GET 4 KiB', unit: 'ops/s' },
    { id: 'put64m', label: 'PUT 64 MiB', unit: 'MB/s' },
  ] as const;
  for (const x of figures) {
    rows.push({ section, figure: `${x.label} single node`, unit: x.unit, value: f.single[x.id] });
    for (const [mode, rates] of [
      ['mirrored', f.mirrored],
      ['async', f.async],
    ] as const) {
      if (rates === null) continue;
      const base = {
        section,
        figure: `${x.label} ${mode === 'mirrored' && !f.mirroring ? 'one copy, no mirroring' : mode} (2 × 2 nodes)`,
        unit: x.unit,
        value: rates[x.id],
        versus: 'single node',
        baseline: f.single[x.id],
      };
      rows.push(mode === 'mirrored' && x.id === 'put4k' ? ratioRow(base, 0.6) : ratioRow(base));
    }
  }
  if (f.lag) {
    rows.push({ section, figure: 'async replication lag, peak', unit: 'ops', value: f.lag.peakOps });
    rows.push({ section, figure: 'async replication lag, peak', unit: 'MB', value: f.lag.peakBytes / 1e6 });
    rows.push({ section, figure: 'async replication lag drained after', unit: 's', value: f.lag.drainS });
  }
  for (const w of f.failover) {
    rows.push({
      section,
      figure: `${w.fault}: failed GETs (of ${w.gets})`,
      unit: 'GETs',
      value: w.failedGets,
      goal: '0',
      met: w.failedGets === 0,
    });
    rows.push({
      section,
      figure: `${w.fault}: PUT failure window (${w.failedPuts} of ${w.puts} failed)`,
      unit: 's',
      value: w.putWindowS,
      goal: '< 15 s',
      met: w.putWindowS < 15,
    });
  }
  if (f.recovery) {
    rows.push(
      ratioRow({
        section,
        figure: `recovery pull (${f.recovery.objects} objects)`,
        unit: 'MB/s',
        value: f.recovery.mbPerSec,
        ...(f.rawDiskMBps === null ? {} : { versus: 'raw disk seq', baseline: f.rawDiskMBps }),
      }),
    );
    rows.push({ section, figure: 'recovery pull', unit: 'objects/s', value: f.recovery.objectsPerSec });
  }
  for (const n of f.notes) rows.push({ section, figure: `not measured: ${n}`, unit: '', value: Number.NaN });
  return rows;
}
