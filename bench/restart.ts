// Restart after an unclean stop, at scale: fills a data directory with N small objects (in-process,
// durability 'none': the fill is not what is measured), starts a real `quire server` on it, runs a
// PUT load over HTTP, SIGKILLs the server in the middle of it, starts it again and reports how long
// until /health answered 200, the restarted process's RSS, and its recovery log line. Then it checks
// that every PUT acknowledged before the kill reads back byte-exact. Also reports what the binlog
// and the index cost per object and per operation.
//
//   node --import tsx bench/restart.ts [--objects 1000000] [--bytes 100] [--load-seconds 10] [--dir /path]
//                                      [--keep] [--reuse DATA_DIR_KEPT_BY_A_PREVIOUS_RUN]
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dataLayout } from '../cli/embedded.ts';
import type { PutObjectInput } from '../storage/api.ts';
import { StorageNode } from '../storage/node.ts';
import { type ChildServer, freePort, startServer } from './procs.ts';
import { BenchS3Client } from './s3client.ts';
import { BENCH_ACCESS_KEY, BENCH_SECRET_KEY } from './targets.ts';

const REPO = join(fileURLToPath(import.meta.url), '..', '..');
/** The server to measure: this checkout's, or another one's (QUIRE_BENCH_REPO, e.g. to compare with main). */
const SERVER_REPO = process.env.QUIRE_BENCH_REPO ?? REPO;
const WRITERS = 64;

async function fill(dataDir: string, objects: number, bytes: number): Promise<number> {
  const layout = dataLayout(dataDir);
  const node = await StorageNode.open({
    dataDir: layout.node,
    nodeId: 1,
    volumes: [{ dir: layout.volume, maxBytes: 1024 * 2 ** 30, reservedFreeBytes: 4 * 2 ** 30 }],
    durability: 'none',
  });
  const data = Buffer.alloc(bytes, 5);
  const fin = { etag: '0123456789abcdef0123456789abcdef', checksums: {} };
  const start = performance.now();
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < objects; i = next++) {
      const input: PutObjectInput = {
        bucket: 'filled',
        key: Buffer.from(`obj/${String(i).padStart(9, '0')}`),
        size: bytes,
        body: [data] as unknown as AsyncIterable<Buffer>,
        headers: { contentType: 'application/octet-stream', userMeta: {} },
        nowMs: 1_700_000_000_000,
        finish: async () => fin,
      };
      await node.putObject(input);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  await node.close();
  return (performance.now() - start) / 1000;
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [])) n += (await stat(join(dir, name))).size;
  return n;
}

function server(dataDir: string, port: number, log: string): Promise<ChildServer> {
  return startServer({
    name: 'quire',
    command: process.execPath,
    args: [join(SERVER_REPO, 'bin', 'quire.mjs'), 'server', '--data', dataDir, '--port', String(port)],
    port,
    cwd: SERVER_REPO,
    env: { ...process.env, QUIRE_ACCESS_KEY: BENCH_ACCESS_KEY, QUIRE_SECRET_KEY: BENCH_SECRET_KEY },
    logFile: log,
    readyTimeoutMs: 300_000,
  });
}

/** The server log's recovery lines, oldest first. */
async function recoveryLines(log: string): Promise<string[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.includes('recovery: '));
}

/** RSS now and at its peak, and CPU seconds used so far (user + system: less sensitive to a busy machine). */
async function usageOf(
  child: ChildProcess,
): Promise<{ rssMiB: number; peakRssMiB: number; cpuSeconds: number }> {
  const s = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  const st = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(st[11]) + Number(st[12]);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024, cpuSeconds: ticks / 100 };
}

const bodyOf = (i: number) => Buffer.from(`load-${i}-`.padEnd(100, String.fromCharCode(97 + (i % 26))));

export async function benchRestart(
  opts: {
    objects?: number;
    bytes?: number;
    loadSeconds?: number;
    dir?: string;
    keep?: boolean;
    reuse?: string;
  } = {},
): Promise<Record<string, number | string>> {
  const objects = opts.objects ?? 1_000_000;
  const root = await mkdtemp(join(opts.dir ?? tmpdir(), 'quire-bench-restart-'));
  // --reuse: a data directory a previous run kept (its objects stay; the fill is skipped).
  const dataDir = opts.reuse ?? join(root, 'data');
  const log = join(root, 'quire.log');
  const out: Record<string, number | string> = { objects };
  try {
    // The same start on an empty data directory: what starting costs before any recovery.
    const emptyPort = await freePort();
    const t0 = performance.now();
    const empty = await server(join(root, 'empty'), emptyPort, join(root, 'empty.log'));
    out.emptyStartSeconds = (performance.now() - t0) / 1000;
    out.emptyStartCpuSeconds = (await usageOf(empty.child)).cpuSeconds;
    await empty.stop();
    if (!opts.reuse) out.fillSeconds = await fill(dataDir, objects, opts.bytes ?? 100);
    const layout = dataLayout(dataDir);
    out.binlogBytesPerObject = (await dirBytes(join(layout.node, 'binlog'))) / objects;
    out.indexBytesPerObject = (await dirBytes(layout.index)) / objects;
    const port = await freePort();
    let srv = await server(dataDir, port, log);
    const s3 = new BenchS3Client(
      { url: srv.url, accessKey: BENCH_ACCESS_KEY, secretKey: BENCH_SECRET_KEY },
      { connections: WRITERS },
    );
    await s3.createBucket('load');
    // PUT load; the kill lands in the middle of it.
    const acked: number[] = [];
    let next = 0;
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const i = next++;
        try {
          const r = await s3.put('load', `k/${i}`, bodyOf(i));
          if (r.status === 200) acked.push(i);
        } catch {
          return; // the server went away
        }
      }
    };
    const load = Promise.all(Array.from({ length: WRITERS }, writer));
    await sleep((opts.loadSeconds ?? 10) * 1000);
    srv.child.kill('SIGKILL');
    stop = true;
    await new Promise((r) => srv.child.once('exit', r));
    await load;
    out.ackedBeforeKill = acked.length;
    const linesBefore = (await recoveryLines(log)).length;
    const started = performance.now();
    out.restartSpawnedAtMs = Date.now();
    srv = await server(dataDir, port, log);
    out.restartSeconds = (performance.now() - started) / 1000;
    Object.assign(out, await usageOf(srv.child));
    // The log is written asynchronously: wait (bounded) for the restarted server's own recovery line.
    let lines = await recoveryLines(log);
    for (let i = 0; i < 100 && lines.length <= linesBefore; i++) {
      await sleep(50);
      lines = await recoveryLines(log);
    }
    const line = lines.length > linesBefore ? lines.at(-1) : undefined;
    out.recovery = line ? (/"msg":"([^"]*)"/.exec(line)?.[1] ?? line) : 'no recovery line';
    let bad = 0;
    for (const i of acked) {
      const r = await s3.get('load', `k/${i}`);
      if (r.status !== 200 || r.bytes !== 100) bad += 1;
    }
    out.ackedMissingOrWrong = bad;
    await srv.stop();
    await s3.close();
  } finally {
    if (opts.keep) out.kept = root;
    else await rm(root, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      objects: { type: 'string' },
      bytes: { type: 'string' },
      'load-seconds': { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean' },
      reuse: { type: 'string' },
    },
  });
  const r = await benchRestart({
    objects: values.objects ? Number(values.objects) : undefined,
    bytes: values.bytes ? Number(values.bytes) : undefined,
    loadSeconds: values['load-seconds'] ? Number(values['load-seconds']) : undefined,
    dir: values.dir,
    keep: values.keep,
    reuse: values.reuse,
  });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
