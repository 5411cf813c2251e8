// Mirroring, measured on real processes on 127.0.0.1 (a standalone run, not part of `npm run bench`):
//   node --import tsx bench/mirror-measure.ts [seconds per run, default 10] [concurrency, default 32]
// A tracker with one syncgroup, `quire storage` nodes and a gateway, as `quire cluster local` starts them. 4 KiB PUT
// ops/s through the gateway on: one node alone; two nodes, a mirrored bucket; two nodes, an async bucket, with the
// replication lag (records and bytes the mirrors lack, from `quire status`'s source) sampled during the load and
// the time it takes to drain after it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load.ts';
import { stopChild } from './procs.ts';
import { BenchS3Client } from './s3client.ts';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const BIN = join(ROOT, 'bin', 'quire.mjs');
const SECRET_HEADER = 'x-quire-cluster-secret';
const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 32);
const KEY = { accessKeyId: 'QUIREMIRRORBENCH', secretAccessKey: 'quire-mirror-bench-secret' };

interface Proc {
  stop(): Promise<void>;
  line(re: RegExp): Promise<string>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, QUIRE_ACCESS_KEY: KEY.accessKeyId, QUIRE_SECRET_KEY: KEY.secretAccessKey },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const waiters: Array<{ re: RegExp; resolve: (s: string) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    for (const w of [...waiters]) {
      const m = w.re.exec(l);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[1] ?? l);
      }
    }
  });
  return {
    stop: () => stopChild(child),
    line: (re) => new Promise((resolve) => waiters.push({ re, resolve })),
  };
}

interface Cluster {
  endpoint: string;
  tracker: string;
  secret: string;
  stop(): Promise<void>;
}

async function cluster(nodes: number): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'quire-mirror-bench-'));
  const procs: Proc[] = [];
  const tracker = start(['tracker', '--data', join(dir, 't'), '--port', '0', '--syncgroups', 'a']);
  procs.push(tracker);
  const trackerUrl = await tracker.line(/^\s+tracker:\s+(\S+)/);
  const secretFile = join(dir, 't', 'cluster-secret');
  const secret = readFileSync(secretFile, 'utf8').trim();
  for (let i = 0; i < nodes; i++) {
    const p = start([
      'storage',
      '--data',
      join(dir, `n${i}`),
      '--port',
      '0',
      '--syncgroup',
      'a',
      '--tracker',
      trackerUrl,
      '--cluster-secret-file',
      secretFile,
      '--heartbeat-ms',
      '200',
    ]);
    procs.push(p);
    await p.line(/is serving at (\S+);/);
  }
  // Every node registered (and told of its mirrors) before the gateway routes.
  for (;;) {
    const s = (await internal(trackerUrl, secret, '/v1/status')) as {
      syncgroups: Array<{ nodes: Array<{ state: string }> }>;
    };
    if (s.syncgroups[0]!.nodes.filter((n) => n.state === 'up').length === nodes) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  const gw = start([
    'gateway',
    '--port',
    '0',
    '--tracker',
    trackerUrl,
    '--cluster-secret-file',
    secretFile,
    '--poll-ms',
    '200',
  ]);
  procs.push(gw);
  const endpoint = await gw.line(/serving S3 at (\S+)/);
  return {
    endpoint,
    tracker: trackerUrl,
    secret,
    stop: async () => {
      for (const p of procs.reverse()) await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function internal(base: string, secret: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { [SECRET_HEADER]: secret, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

interface Lag {
  ops: number;
  bytes: number;
}

async function lag(c: Cluster): Promise<Lag> {
  const s = (await internal(c.tracker, c.secret, '/v1/status')) as {
    syncgroups: Array<{ nodes: Array<{ sync?: Array<{ lagOps: number; lagBytes: number }> }> }>;
  };
  let ops = 0;
  let bytes = 0;
  for (const n of s.syncgroups[0]!.nodes)
    for (const m of n.sync ?? []) {
      ops += m.lagOps;
      bytes += m.lagBytes;
    }
  return { ops, bytes };
}

async function putLoad(c: Cluster, bucket: string): Promise<number> {
  const client = new BenchS3Client(
    { url: c.endpoint, accessKey: KEY.accessKeyId, secretKey: KEY.secretAccessKey },
    { connections: concurrency },
  );
  const body = randomBytes(4096);
  const r = await runLoad({
    concurrency,
    durationMs: seconds * 1000,
    op: async (i) => {
      const reply = await client.put(bucket, `k${i}`, body);
      return reply.status === 200
        ? { ok: true, units: 4096 }
        : { ok: false, units: 0, detail: `${reply.status}` };
    },
  });
  await client.close();
  if (r.errors > 0) console.log(`  ${r.errors} errors, first: ${r.firstError}`);
  return r.ops / r.seconds;
}

async function bucket(c: Cluster, name: string, mode?: 'async'): Promise<void> {
  const client = new BenchS3Client(
    { url: c.endpoint, accessKey: KEY.accessKeyId, secretKey: KEY.secretAccessKey },
    { connections: 1 },
  );
  const r = await client.createBucket(name);
  await client.close();
  if (r.status !== 200) throw new Error(`create bucket ${name}: ${r.status}`);
  if (!mode) return;
  const poll = (await internal(c.tracker, c.secret, '/v1/gateway/poll', {
    gatewayId: randomBytes(8).toString('hex'),
  })) as { catalog: { buckets: Array<{ name: string; id: string }> } };
  const b = poll.catalog.buckets.find((x) => x.name === name)!;
  await internal(c.tracker, c.secret, '/v1/buckets/config', {
    bucket: { name, id: b.id },
    kind: 'replication-mode',
    value: mode,
  });
  // The nodes get the setting with their next heartbeat reply.
  await new Promise((r) => setTimeout(r, 1000));
}

const single = await cluster(1);
await bucket(single, 'one');
const singleOps = await putLoad(single, 'one');
await single.stop();
console.log(`single node: ${singleOps.toFixed(0)} PUT/s (4 KiB, ${concurrency} clients)`);

const pair = await cluster(2);
await bucket(pair, 'mirrored');
await bucket(pair, 'async', 'async');
const mirroredOps = await putLoad(pair, 'mirrored');
console.log(
  `mirrored:    ${mirroredOps.toFixed(0)} PUT/s (${(mirroredOps / singleOps).toFixed(2)} of single); lag after: ${JSON.stringify(await lag(pair))}`,
);
let peak: Lag = { ops: 0, bytes: 0 };
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const l = await lag(pair);
    if (l.ops > peak.ops) peak = l;
    await new Promise((r) => setTimeout(r, 250));
  }
})();
const asyncOps = await putLoad(pair, 'async');
const loadEnd = performance.now();
sampling = false;
await sampler;
let drained = -1;
for (;;) {
  const l = await lag(pair);
  if (l.ops === 0) {
    drained = (performance.now() - loadEnd) / 1000;
    break;
  }
  if (performance.now() - loadEnd > 120_000) break;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(
  `async:       ${asyncOps.toFixed(0)} PUT/s (${(asyncOps / singleOps).toFixed(2)} of single); peak lag ${peak.ops} ops / ${peak.bytes} bytes; drained ${drained >= 0 ? `${drained.toFixed(1)} s` : 'not within 120 s'} after the load`,
);
await pair.stop();
