// Gives each conformance test file an S3 endpoint: an external one named by env, or a real
// `quire server` child process on a free loopback port with a fresh data dir.
// The suite talks HTTP only: nothing here imports Quire internals.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Where the embedded server keeps its LMDB index inside the data dir (deleting it forces a rebuild). */
export const INDEX_DIR_NAME = 'index';

export const REPO_ROOT = join(fileURLToPath(import.meta.url), '..', '..');
export const QUIRE_BIN = join(REPO_ROOT, 'bin', 'quire.mjs');
const HEALTH_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface Target {
  /** `http://host:port`, no trailing slash. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly region: string;
  /** The static-website endpoint's port on `host` (QUIRE_S3_WEBSITE_PORT for an external target), or null. */
  readonly websitePort: number | null;
  readonly creds: Credentials;
  /** A second key that owns nothing of the first key's; null when the external target names none. */
  readonly otherCreds: Credentials | null;
  /** True when this process started the server (restart/kill/dataDir are usable). */
  readonly embedded: boolean;
  /** The embedded server's data dir; null for an external endpoint. */
  readonly dataDir: string | null;
  /** Directory that holds the data dir and the server log (embedded only); everything else must stay out of it. */
  readonly workDir: string | null;
  /** SIGKILL the server and wait for it to be gone. */
  kill(): Promise<void>;
  /** Start the server again on the same data dir and port; resolves when /health is 200. */
  start(): Promise<void>;
  /** SIGTERM and wait; returns the exit code (null if killed by a signal). */
  stop(): Promise<number | null>;
  /** End of the test file: stop (asserting exit code 0 in embedded mode) and remove temp dirs. */
  close(): Promise<void>;
  /** Last lines of the server's log, for failure messages. */
  logTail(): string;
  /** The embedded server's process id while it runs (null otherwise), e.g. to read its memory from /proc. */
  pid(): number | null;
}

export function indexDir(dataDir: string): string {
  return join(dataDir, INDEX_DIR_NAME);
}

/** True when QUIRE_S3_ENDPOINT points the suite at some other S3 server. */
export function isExternal(): boolean {
  return Boolean(process.env.QUIRE_S3_ENDPOINT);
}

export interface TargetOptions {
  /** Extra environment for an embedded server (e.g. small QUIRE_*_TIMEOUT_MS values). */
  env?: Record<string, string>;
}

export async function startTarget(opts: TargetOptions = {}): Promise<Target> {
  return isExternal() ? externalTarget() : embeddedTarget(opts);
}

function externalTarget(): Target {
  const env = process.env;
  const url = new URL(env.QUIRE_S3_ENDPOINT!);
  const other =
    env.QUIRE_S3_ACCESS_KEY_2 && env.QUIRE_S3_SECRET_KEY_2
      ? { accessKeyId: env.QUIRE_S3_ACCESS_KEY_2, secretAccessKey: env.QUIRE_S3_SECRET_KEY_2 }
      : null;
  const notEmbedded = async (): Promise<never> => {
    throw new Error('external target: cannot control the server process');
  };
  return {
    endpoint: url.origin,
    host: url.hostname,
    port: Number(url.port || 80),
    region: env.QUIRE_S3_REGION ?? 'us-east-1',
    websitePort: env.QUIRE_S3_WEBSITE_PORT ? Number(env.QUIRE_S3_WEBSITE_PORT) : null,
    creds: { accessKeyId: env.QUIRE_S3_ACCESS_KEY ?? '', secretAccessKey: env.QUIRE_S3_SECRET_KEY ?? '' },
    otherCreds: other,
    embedded: false,
    dataDir: null,
    workDir: null,
    kill: notEmbedded,
    start: notEmbedded,
    stop: async () => null,
    close: async () => {},
    logTail: () => '',
    pid: () => null,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function embeddedTarget(opts: TargetOptions): Promise<Target> {
  const workDir = mkdtempSync(join(tmpdir(), 'quire-conf-'));
  const dataDir = join(workDir, 'data');
  const logPath = join(workDir, 'server.log');
  const port = await freePort();
  const websitePort = await freePort();
  const creds = { accessKeyId: 'QUIRECONFKEY1', secretAccessKey: 'quire-conformance-secret-one' };
  const otherCreds = { accessKeyId: 'QUIRECONFKEY2', secretAccessKey: 'quire-conformance-secret-two' };
  const env = {
    ...process.env,
    QUIRE_ACCESS_KEY: creds.accessKeyId,
    QUIRE_SECRET_KEY: creds.secretAccessKey,
    QUIRE_EXTRA_KEYS: `${otherCreds.accessKeyId}:${otherCreds.secretAccessKey}`,
    ...opts.env,
  };
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  let log: WriteStream | null = null;

  const start = async (): Promise<void> => {
    if (child) throw new Error('server already running');
    log = createWriteStream(logPath, { flags: 'a' });
    const args = [QUIRE_BIN, 'server', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'];
    args.push('--website-port', String(websitePort));
    const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.pipe(log, { end: false });
    proc.stderr?.pipe(log, { end: false });
    child = proc;
    exited = new Promise((resolve) => {
      proc.once('exit', (code) => {
        child = null;
        resolve(code);
      });
    });
    await waitHealthy(`http://127.0.0.1:${port}`, exited, () => tail(logPath));
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<number | null> => {
    const proc = child;
    if (!proc) return exited;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  const target: Target = {
    endpoint: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    region: 'us-east-1',
    websitePort,
    creds,
    otherCreds,
    embedded: true,
    dataDir,
    workDir,
    kill: async () => {
      await waitExit('SIGKILL');
    },
    start,
    stop: () => waitExit('SIGTERM'),
    close: async () => {
      const wasRunning = child !== null;
      const code = await waitExit('SIGTERM');
      log?.end();
      const logText = tail(logPath);
      keepLog(logPath);
      rmSync(workDir, { recursive: true, force: true });
      if (wasRunning && code !== 0) {
        throw new Error(`quire server exited with ${code} after SIGTERM (want 0)\n${logText}`);
      }
    },
    logTail: () => tail(logPath),
    pid: () => child?.pid ?? null,
  };
  try {
    await start();
  } catch (err) {
    await waitExit('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  return target;
}

async function waitHealthy(
  base: string,
  exited: Promise<number | null>,
  logTail: () => string,
): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  const deadline = performance.now() + HEALTH_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (gone !== undefined) throw new Error(`quire server exited with ${gone} before /health\n${logTail()}`);
    try {
      const res = await fetch(`${base}/health`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`quire server not healthy after ${HEALTH_TIMEOUT_MS} ms\n${logTail()}`);
}

/** With QUIRE_CONF_LOG_DIR set, each server's log is kept there (named by port) for post-mortems. */
function keepLog(logPath: string): void {
  const dir = process.env.QUIRE_CONF_LOG_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  try {
    copyFileSync(logPath, join(dir, `quire-${process.pid}-${Date.now()}.log`));
  } catch {
    // no log written
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no server log)';
  }
}
