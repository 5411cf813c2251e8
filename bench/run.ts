// The project benchmark: `npm run bench [-- disk|packing|http|cluster|all] [--quick] [--endpoint URL] [--profile]`.
// Prints progress, then one markdown table of every figure with its ratio and goal, and writes
// the same figures as JSON to .bench/last.json. Not a test: it reports, it does not judge.
// Quire inherits this process's environment, so e.g. QUIRE_LOG_LEVEL=warn measures it without
// per-request access logs; --profile leaves its CPU profile in .bench/profiles.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCluster, clusterRows } from './cluster.ts';
import type { DiskFigures } from './disk.ts';
import { measureDisk, measureSequentialMBps } from './disk.ts';
import type { HttpReport, Probe } from './http.ts';
import { benchHttp, httpPlan } from './http.ts';
import type { ChildServer } from './procs.ts';
import { stopChild } from './procs.ts';
import type { Row } from './report.ts';
import { markdownTable } from './report.ts';
import { DISK_PROBE, diskRows, httpRows, packingRows } from './rows.ts';
import type { S3Endpoint } from './s3client.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY, quireAvailable, startCeiling, startQuire } from './targets.ts';
import type { HttpTarget } from './workloads.ts';

/** Above this 1-minute load average before we start, the machine is shared with other work: say so. */
const BUSY_LOAD = 1.5;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const benchDir = join(repoRoot, '.bench');

type Section = 'disk' | 'packing' | 'http' | 'cluster';
const SECTIONS: readonly Section[] = ['disk', 'packing', 'http', 'cluster'];

interface Args {
  readonly sections: Set<Section>;
  readonly quick: boolean;
  readonly endpoint: S3Endpoint | null;
  /** Write a CPU profile of the Quire server to .bench/profiles when it exits. */
  readonly profile: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const sections = new Set<Section>();
  let quick = false;
  let endpointUrl: string | null = null;
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--profile') profile = true;
    else if (a === '--endpoint') endpointUrl = argv[++i] ?? null;
    else if (a === 'all') for (const s of SECTIONS) sections.add(s);
    else if ((SECTIONS as readonly string[]).includes(a)) sections.add(a as Section);
    else
      throw new Error(
        `unknown argument ${a} (sections: ${SECTIONS.join(' ')} all; --quick; --endpoint URL; --profile)`,
      );
  }
  if (sections.size === 0) for (const s of SECTIONS) sections.add(s);
  // An external S3 server (e.g. another implementation, to check the client) takes credentials from env.
  const endpoint =
    endpointUrl === null
      ? null
      : {
          url: endpointUrl,
          accessKey: process.env.QUIRE_ACCESS_KEY ?? BENCH_ACCESS_KEY,
          secretKey: process.env.QUIRE_SECRET_KEY ?? BENCH_SECRET_KEY,
          region: process.env.QUIRE_REGION ?? 'us-east-1',
        };
  return { sections, quick, endpoint, profile };
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function runDisk(workDir: string, quick: boolean): Promise<DiskFigures> {
  log('# disk');
  const d = await measureDisk({
    dir: join(workDir, 'disk'),
    sequentialBytes: quick ? 512 << 20 : 1 << 30,
    syncDurationMs: quick ? 1500 : 3000,
  });
  log(
    `  sequential 1 MiB writes + fsync: ${d.sequentialMiBps.toFixed(0)} MiB/s (${d.sequentialMBps.toFixed(0)} MB/s)`,
  );
  log(`  4 KiB append + fdatasync: ${d.syncOpsPerSec.toFixed(0)} ops/s`);
  log(`  4 KiB in-place write + fdatasync: ${d.syncInPlaceOpsPerSec.toFixed(0)} ops/s`);
  return d;
}

async function runPacking(workDir: string, quick: boolean): Promise<Record<string, number> | null> {
  log('# packing');
  // A variable specifier: bench/packing.ts is written by another helper and may not exist yet.
  const specifier = './packing.ts';
  let mod: { benchPacking?: (opts: unknown) => Promise<Record<string, number>> };
  try {
    mod = await import(specifier);
  } catch (err) {
    log(`  unavailable: bench/packing.ts could not be loaded (${(err as Error).message.split('\n')[0]})`);
    return null;
  }
  if (typeof mod.benchPacking !== 'function') {
    log('  unavailable: bench/packing.ts does not export benchPacking');
    return null;
  }
  const dir = join(workDir, 'packing');
  await mkdir(dir, { recursive: true });
  const figures = await mod.benchPacking({ quick, dir, log: (line: string) => log(`  ${line.trim()}`) });
  return figures;
}

async function runHttp(workDir: string, args: Args, servers: ChildServer[]): Promise<HttpReport | null> {
  log('# http');
  const ceiling = await startCeiling(repoRoot, workDir);
  servers.push(ceiling);
  let subject: { name: string; endpoint: S3Endpoint } | null = null;
  if (args.endpoint !== null) subject = { name: 'subject', endpoint: args.endpoint };
  else if (quireAvailable(repoRoot)) {
    try {
      const profileArgs = ['--cpu-prof', '--cpu-prof-dir', join(benchDir, 'profiles')];
      const quire = await startQuire(repoRoot, workDir, args.profile ? profileArgs : []);
      servers.push(quire);
      const endpoint = { url: quire.url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY };
      subject = { name: 'quire', endpoint };
    } catch (err) {
      log(`  quire unavailable: ${(err as Error).message}\n  measuring the ceiling only`);
    }
  } else log('  quire unavailable: bin/quire.mjs does not exist yet; measuring the ceiling only');
  const plan = httpPlan(args.quick);
  const endpoints = [
    { name: 'ceiling', endpoint: { url: ceiling.url, accessKey: 'ceiling', secretKey: 'ceiling' } },
    ...(subject === null ? [] : [subject]),
  ];
  const targets: HttpTarget[] = endpoints.map((e) => ({
    name: e.name,
    client: new BenchS3Client(e.endpoint, { connections: plan.concurrency }),
    smallWritten: 0,
    mediumWritten: 0,
  }));
  try {
    // Raw disk bandwidth right before each round of 64 MiB PUTs, on the filesystem Quire writes to.
    const diskProbe: Probe = {
      name: DISK_PROBE,
      unit: 'MB/s',
      forWorkload: 'put64m',
      run: () => measureSequentialMBps(join(workDir, 'disk-probe'), args.quick ? 512 << 20 : 1 << 30),
    };
    return await benchHttp(targets, plan, log, subject === null ? [] : [diskProbe]);
  } finally {
    await Promise.all(targets.map((t) => t.client.close()));
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const workDir = join(benchDir, `run-${process.pid}`);
  await mkdir(workDir, { recursive: true });
  const servers: ChildServer[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(servers.map((s) => stopChild(s.child)));
    servers.length = 0;
    // Keep the servers' logs of the last run next to last.json; the data itself goes.
    for (const name of ['quire.log', 'ceiling.log']) {
      await copyFile(join(workDir, name), join(benchDir, `last-${name}`)).catch(() => {});
    }
    await rm(workDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  if (loadBefore > BUSY_LOAD) {
    log(
      `warning: 1-minute load average is ${loadBefore.toFixed(1)} on ${cpus().length} cores before starting;`,
    );
    log('         other work on this machine will lower and scatter every figure.');
  }
  try {
    const disk = args.sections.has('disk') ? await runDisk(workDir, args.quick) : null;
    const packing = args.sections.has('packing') ? await runPacking(workDir, args.quick) : null;
    const http = args.sections.has('http') ? await runHttp(workDir, args, servers) : null;
    const cluster = args.sections.has('cluster')
      ? await benchCluster({ repoRoot, workDir, quick: args.quick, log, servers })
      : null;
    const rows: Row[] = [
      ...diskRows(disk),
      ...packingRows(packing, disk),
      ...httpRows(http, disk),
      ...clusterRows(cluster),
    ];
    log(`\n# results${args.quick ? ' (--quick)' : ''}\n`);
    log(markdownTable(rows));
    const seconds = (performance.now() - started) / 1000;
    const machine = {
      cpus: cpus().length,
      node: process.version,
      loadBefore,
      loadAfter: loadavg()[0]!,
      commit: commit(),
    };
    log(
      `\n(${seconds.toFixed(0)} s; load average ${loadBefore.toFixed(1)} before, ${machine.loadAfter.toFixed(1)} after)`,
    );
    const json = { quick: args.quick, seconds, machine, rows, disk, packing, http, cluster };
    await writeFile(join(benchDir, 'last.json'), `${JSON.stringify(json, null, 2)}\n`);
    log(`written to ${join(benchDir, 'last.json')}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
