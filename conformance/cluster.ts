// Real cluster processes for the suite: `quire tracker`, `quire storage`, `quire gateway` (and `quire cluster
// local`) as child processes on 127.0.0.1, started with the commands an operator types. Nothing here imports Quire
// internals: the internal APIs are spoken as plain HTTP with the cluster secret header.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from './target.ts';

const QUIRE_BIN = join(REPO_ROOT, 'bin', 'quire.mjs');
export const SECRET_HEADER = 'x-quire-cluster-secret';
const START_TIMEOUT_MS = 120_000;

export const CREDS = { accessKeyId: 'QUIRECLUSTERKEY1', secretAccessKey: 'quire-cluster-secret-key-one' };
export const OTHER_CREDS = {
  accessKeyId: 'QUIRECLUSTERKEY2',
  secretAccessKey: 'quire-cluster-secret-key-two',
};

export interface Proc {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Resolves with the first capture group (or the line) of the first stdout line matching `re`. */
  line(re: RegExp): Promise<string>;
  running(): boolean;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 20 s) and wait; the exit code. */
  stop(): Promise<number | null>;
  logTail(): string;
}

/**
 * Every child still running is SIGKILLed, and every cluster directory not yet removed is removed, when this test
 * process ends, however it ends short of SIGKILL.
 */
const live = new Set<ChildProcess>();
const clusterDirs = new Set<string>();
let reaperInstalled = false;
function reapOnExit(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  const reap = () => {
    for (const p of live) p.kill('SIGKILL');
    for (const d of clusterDirs) {
      try {
        keepLogs(d);
        rmSync(d, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // a child still dying may write meanwhile: best effort
      }
    }
  };
  process.once('exit', reap);
  // The test runner ends a file that outran its timeout with SIGTERM: without this its cluster would live on.
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      reap();
      process.exit(1);
    });
}

export function startProc(name: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = {}): Proc {
  const logPath = join(logDir, `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const proc = spawn(process.execPath, [QUIRE_BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit();
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  proc.stderr?.pipe(log, { end: false });
  const waiters: Array<{ re: RegExp; resolve: (s: string) => void }> = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    log.write(`${l}\n`);
    for (const w of [...waiters]) {
      const m = w.re.exec(l);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[1] ?? l);
      }
    }
  });
  let alive = true;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      alive = false;
      resolve(code);
    }),
  );
  const tail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-25).join('\n');
    } catch {
      return '(no log)';
    }
  };
  return {
    name,
    proc,
    exited,
    running: () => alive,
    logTail: tail,
    line: (re) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no line ${re} within ${START_TIMEOUT_MS} ms\n${tail()}`)),
          START_TIMEOUT_MS,
        );
        waiters.push({
          re,
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited with ${code} before printing ${re}\n${tail()}`));
        });
      }),
    kill: async () => {
      if (alive) proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!alive) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface TestCluster {
  readonly dir: string;
  readonly trackerUrl: string;
  readonly secret: string;
  readonly secretFile: string;
  readonly endpoint: string;
  readonly tracker: Proc;
  readonly nodes: Proc[];
  readonly gateway: Proc;
  /** Where each storage node's internal API answers, by process name. */
  readonly nodeUrls: Map<string, string>;
  s3(creds?: typeof CREDS): S3Client;
  startTracker(): Promise<Proc>;
  startNode(name: string): Promise<Proc>;
  /** POST to an internal API with (or, with `secret: null`, without) the cluster secret. */
  internal(url: string, body?: unknown, secret?: string | null): Promise<{ status: number; json: unknown }>;
  /** Stops everything (SIGKILL whatever is left) and removes the directory. */
  close(): Promise<void>;
}

/** With QUIRE_CONF_LOG_DIR set, every process's log is copied there (for post-mortems). */
function keepLogs(dir: string): void {
  const to = process.env.QUIRE_CONF_LOG_DIR;
  if (!to) return;
  const dest = join(to, `cluster-${process.pid}-${Date.now()}`);
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.log')) copyFileSync(join(dir, f), join(dest, f));
}

export interface ClusterTimings {
  /** The tracker's --suspect-after-ms. */
  suspectAfterMs: number;
  /** Each storage node's --heartbeat-ms. */
  heartbeatMs: number;
  /** The gateway's --poll-ms. */
  pollMs: number;
}

/**
 * Fast failure detection for tests: heartbeats every 200 ms, suspect after 3 s, gateways poll every 200 ms. Not
 * faster: on a loaded 2-core machine a live node's heartbeats can be a second late, and a node wrongly called
 * suspect has its in-flight calls cut by the gateways.
 */
export const FAST_TIMINGS: ClusterTimings = { suspectAfterMs: 3000, heartbeatMs: 200, pollMs: 200 };
/** What an operator gets without flags (the failover windows the issue bounds are measured with these). */
export const DEFAULT_TIMINGS: ClusterTimings = { suspectAfterMs: 10_000, heartbeatMs: 2000, pollMs: 250 };

export interface ClusterOptions {
  timings?: ClusterTimings;
  /** More environment for every process (e.g. QUIRE_MULTIPART_MIN_PART_BYTES). */
  env?: NodeJS.ProcessEnv;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const timings = opts.timings ?? FAST_TIMINGS;
  const dir = mkdtempSync(join(tmpdir(), 'quire-cluster-'));
  clusterDirs.add(dir);
  const logDir = dir;
  const env = {
    ...opts.env,
    QUIRE_ACCESS_KEY: CREDS.accessKeyId,
    QUIRE_SECRET_KEY: CREDS.secretAccessKey,
    QUIRE_EXTRA_KEYS: `${OTHER_CREDS.accessKeyId}:${OTHER_CREDS.secretAccessKey}`,
  };
  const procs: Proc[] = [];
  let trackerPort = '0';
  const startTracker = async () => {
    const p = startProc(
      `tracker-${procs.length}`,
      [
        'tracker',
        '--data',
        join(dir, 'tracker'),
        '--port',
        trackerPort,
        '--syncgroups',
        'a,b',
        '--suspect-after-ms',
        String(timings.suspectAfterMs),
      ],
      logDir,
      env,
    );
    procs.push(p);
    const url = await p.line(/^\s+tracker:\s+(\S+)/);
    trackerPort = new URL(url).port;
    return { p, url };
  };
  const secretFile = join(dir, 'tracker', 'cluster-secret');
  const nodeUrls = new Map<string, string>();
  let trackerUrl = '';
  const startNode = async (name: string) => {
    const group = name.split('-')[1]!;
    const known = nodeUrls.get(name);
    const p = startProc(
      name,
      [
        'storage',
        '--data',
        join(dir, name),
        '--port',
        known ? new URL(known).port : '0',
        '--syncgroup',
        group,
        '--tracker',
        trackerUrl,
        '--cluster-secret-file',
        secretFile,
        '--heartbeat-ms',
        String(timings.heartbeatMs),
      ],
      logDir,
      opts.env,
    );
    procs.push(p);
    nodeUrls.set(name, await p.line(/is serving at (\S+);/));
    return p;
  };
  try {
    const t = await startTracker();
    trackerUrl = t.url;
    const secret = readFileSync(secretFile, 'utf8').trim();
    const nodes = await Promise.all(
      ['storage-a-1', 'storage-a-2', 'storage-b-1', 'storage-b-2'].map(startNode),
    );
    const internal = async (url: string, body?: unknown, withSecret: string | null = secret) => {
      const res = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: withSecret === null ? {} : { [SECRET_HEADER]: withSecret },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    };
    // Every node registered before the gateway starts routing (no mirroring yet: membership fixes placement).
    for (;;) {
      const s = (await internal(`${trackerUrl}/v1/status`)).json as {
        syncgroups: Array<{ nodes: unknown[] }>;
      };
      if (s.syncgroups.every((g) => g.nodes.length === 2)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const gateway = startProc(
      'gateway',
      [
        'gateway',
        '--port',
        '0',
        '--tracker',
        trackerUrl,
        '--cluster-secret-file',
        secretFile,
        '--poll-ms',
        String(timings.pollMs),
      ],
      logDir,
      opts.env,
    );
    procs.push(gateway);
    const endpoint = await gateway.line(/serving S3 at (\S+)/);
    for (;;) {
      const ok = await fetch(`${endpoint}/health`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      dir,
      trackerUrl,
      secret,
      secretFile,
      endpoint,
      tracker: t.p,
      nodes,
      gateway,
      nodeUrls,
      s3: (creds = CREDS) =>
        new S3Client({
          endpoint,
          region: 'us-east-1',
          credentials: creds,
          forcePathStyle: true,
          maxAttempts: 1,
        }),
      startTracker: async () => (await startTracker()).p,
      startNode,
      internal,
      close: async () => {
        await Promise.all(procs.map((p) => p.kill()));
        keepLogs(dir);
        rmSync(dir, { recursive: true, force: true });
        clusterDirs.delete(dir);
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
    clusterDirs.delete(dir);
    throw err;
  }
}
