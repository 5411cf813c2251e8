// `quire cluster local`: a whole cluster on 127.0.0.1 as child processes — one tracker, syncgroups a and b with
// two storage nodes each, one gateway — started with exactly the commands an operator would type, and stopped
// together (gateway first, tracker last) on Ctrl-C or SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SECRET_HEADER, statusSchema, TRACKER } from '../common/cluster-wire.ts';
import { numberFlag } from './cluster-process.ts';
import { SECRET_FILE_NAME } from './cluster-secret.ts';
import { ConfigError } from './config.ts';

const QUIRE_BIN = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');
const SYNCGROUPS = ['a', 'b'];
const NODES_PER_SYNCGROUP = 2;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  logPath: string;
}

export async function clusterCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'local') throw new ConfigError('usage: quire cluster local [--dir D] [--port P]');
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: { dir: { type: 'string' }, port: { type: 'string' } },
  });
  const dir = resolve(values.dir ?? './data-cluster');
  const port = numberFlag(values.port ?? '9000', '--port', 0, 65535);
  mkdirSync(join(dir, 'logs'), { recursive: true });

  const children: Child[] = [];
  let stopping = false;
  let failed: string | undefined;
  let wakeStop!: () => void;
  const stopRequested = new Promise<void>((r) => {
    wakeStop = r;
  });
  const start = (name: string, argv: string[]): { child: Child; line: (re: RegExp) => Promise<string> } => {
    const logPath = join(dir, 'logs', `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    const proc = spawn(process.execPath, [QUIRE_BIN, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    proc.stderr?.pipe(log, { end: false });
    const waiters: Array<{ re: RegExp; resolve: (m: string) => void }> = [];
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
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const child: Child = { name, proc, exited, logPath };
    children.push(child);
    void exited.then((code) => {
      log.end();
      if (!stopping) {
        failed ??= `${name} exited with ${code}; see ${logPath}`;
        wakeStop();
      }
    });
    const line = (re: RegExp) =>
      within(
        new Promise<string>((r) => waiters.push({ re, resolve: r })),
        exited.then((code) => {
          throw new Error(`${name} exited with ${code} while starting; see ${logPath}`);
        }),
        `${name} did not start within ${START_TIMEOUT_MS / 1000} s; see ${logPath}`,
      );
    return { child, line };
  };

  const stopAll = async () => {
    stopping = true;
    // Gateway first (no new requests), then the nodes, then the tracker.
    for (const group of [
      ['gateway'],
      children.map((c) => c.name).filter((n) => n.startsWith('storage')),
      ['tracker'],
    ]) {
      await Promise.all(children.filter((c) => group.includes(c.name)).map(stopChild));
    }
  };

  let endpoint = '';
  let website = '';
  let trackerUrl = '';
  let accessKey = '';
  let secretKey = '';
  try {
    const tracker = start('tracker', [
      'tracker',
      '--data',
      join(dir, 'tracker'),
      '--port',
      '0',
      '--syncgroups',
      SYNCGROUPS.join(','),
    ]);
    // A fresh tracker prints the keys once the storage nodes have reported (they may hold the old catalog's).
    const keys = Promise.all([
      tracker.line(/^\s+access key:\s+(\S+)/),
      tracker.line(/^\s+secret key:\s+(\S+)/),
    ]);
    keys.catch(() => undefined); // awaited below; a failure meanwhile must not count as unhandled
    trackerUrl = await tracker.line(/^\s+tracker:\s+(\S+)/);
    const secretFile = join(dir, 'tracker', SECRET_FILE_NAME);
    const common = ['--tracker', trackerUrl, '--cluster-secret-file', secretFile];
    const nodes = SYNCGROUPS.flatMap((g) =>
      Array.from({ length: NODES_PER_SYNCGROUP }, (_, i) =>
        start(`storage-${g}-${i + 1}`, [
          'storage',
          '--data',
          join(dir, `storage-${g}-${i + 1}`),
          '--port',
          '0',
          '--syncgroup',
          g,
          ...common,
        ]),
      ),
    );
    await Promise.all(nodes.map((n) => n.line(/is serving at/)));
    [accessKey, secretKey] = await keys;
    // Every node registered before the gateway routes anything: with no mirroring yet, a key's node is fixed by
    // the syncgroup's membership, so the gateway must see all members from its first request.
    await within(
      waitForNodes(trackerUrl, secretFile, SYNCGROUPS.length * NODES_PER_SYNCGROUP),
      stopRequested.then(() => {
        throw new Error(failed ?? 'stopped');
      }),
      `the storage nodes did not register with the tracker within ${START_TIMEOUT_MS / 1000} s; see ${join(dir, 'logs')}`,
    );
    const gateway = start('gateway', ['gateway', '--port', String(port), ...common]);
    [endpoint, website] = await Promise.all([
      gateway.line(/serving S3 at (\S+)/),
      gateway.line(/serving websites at (\S+)/),
    ]);
    await within(
      waitHealthy(endpoint),
      stopRequested.then(() => {
        throw new Error(failed ?? 'stopped');
      }),
      `the gateway did not become healthy within ${START_TIMEOUT_MS / 1000} s; see ${join(dir, 'logs')}`,
    );
  } catch (err) {
    await stopAll();
    throw new ConfigError(`the local cluster did not start: ${(err as Error).message}`);
  }

  process.stdout.write(`
Quire cluster is running (1 tracker, syncgroups ${SYNCGROUPS.join(' and ')} × ${NODES_PER_SYNCGROUP} storage nodes, 1 gateway).
  endpoint:    ${endpoint}
  website:     ${website}
  access key:  ${accessKey}
  secret key:  ${secretKey}
  region:      us-east-1
  tracker:     ${trackerUrl}
  data, logs:  ${dir}

Try it:
  AWS_ACCESS_KEY_ID=${accessKey} AWS_SECRET_ACCESS_KEY=${secretKey} AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url ${endpoint} s3 ls
  node bin/quire.mjs status --tracker ${trackerUrl} --cluster-secret-file ${join(dir, 'tracker', SECRET_FILE_NAME)}

`);
  const onSignal = () => wakeStop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await stopRequested;
  await stopAll();
  if (failed) {
    process.stderr.write(`quire cluster local: ${failed}; stopped the others\n`);
    return 1;
  }
  const codes = await Promise.all(children.map((c) => c.exited));
  return codes.every((c) => c === 0) ? 0 : 1;
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await c.exited;
  clearTimeout(timer);
}

/** `p`, unless `fail` rejects first or the start timeout passes. */
async function within<T>(p: Promise<T>, fail: Promise<unknown>, timeoutMessage: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(timeoutMessage)), START_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, fail as Promise<never>, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForNodes(trackerUrl: string, secretFile: string, want: number): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const secret = readFileSync(secretFile, 'utf8').trim();
  for (;;) {
    try {
      const res = await fetch(new URL(TRACKER.status, trackerUrl), { headers: { [SECRET_HEADER]: secret } });
      const s = statusSchema.parse(await res.json());
      const up = s.syncgroups.flatMap((g) => g.nodes).filter((n) => n.state === 'up').length;
      if (up >= want) return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitHealthy(endpoint: string): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/health`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
