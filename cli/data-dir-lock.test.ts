// One process per data directory, with real `quire` processes: a second server or a rebuild-index is refused
// with one line naming the holder; the lock dies with its holder, even under SIGKILL.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lockDataDir } from './data-dir-lock.ts';

const QUIRE = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');
const ENV = {
  ...process.env,
  QUIRE_ACCESS_KEY: 'AKLOCKTEST',
  QUIRE_SECRET_KEY: 'lock-test-secret',
  QUIRE_LOG_LEVEL: 'silent',
};

interface Server {
  readonly child: ChildProcess;
  readonly endpoint: string;
  readonly exited: Promise<number | null>;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Starts `quire server` and resolves once its banner names the endpoint. */
async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, [QUIRE, 'server', '--data', dataDir, '--port', '0'], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = exitOf(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /endpoint:\s+(http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited ${code} before serving: ${err}`)));
  });
  return { child, endpoint, exited };
}

/** Runs a quire command to its end. */
async function runQuire(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [QUIRE, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await exitOf(child);
  return { code, stdout, stderr };
}

async function healthy(endpoint: string): Promise<number> {
  return (await fetch(`${endpoint}/health`)).status;
}

function assertRefusal(result: { code: number | null; stderr: string }, holderPid: number, dir: string) {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${result.stderr}`);
  assert.match(
    lines[0]!,
    new RegExp(`data directory ${dir} is in use by quire server pid ${holderPid} \\(started \\d{4}-`),
  );
}

test('a second server and a rebuild-index are refused while a server holds the directory; SIGKILL frees it', {
  timeout: 120_000,
}, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-lock-'));
  const servers: Server[] = [];
  try {
    const first = await startServer(dataDir);
    servers.push(first);
    const second = await runQuire(['server', '--data', dataDir, '--port', '0']);
    assertRefusal(second, first.child.pid!, dataDir);
    const rebuild = await runQuire(['rebuild-index', '--data', dataDir]);
    assertRefusal(rebuild, first.child.pid!, dataDir);
    assert.equal(await healthy(first.endpoint), 200, 'the holder keeps serving');

    first.child.kill('SIGKILL');
    await first.exited;
    const again = await startServer(dataDir);
    servers.push(again);
    assert.equal(await healthy(again.endpoint), 200);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  } finally {
    for (const s of servers)
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('in one process: the lock is exclusive, released on request, and rebuild-index never creates a directory', {
  timeout: 30_000,
}, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-lock-'));
  try {
    const held = lockDataDir(dataDir, 'server', { create: true });
    // flock locks belong to the open file description: a second open in the same process conflicts too.
    assert.throws(() => lockDataDir(dataDir, 'rebuild-index', { create: false }), {
      code: 'QUIRE_DATA_DIR_LOCKED',
      message: new RegExp(`in use by quire server pid ${process.pid} `),
    });
    held.release();
    lockDataDir(dataDir, 'rebuild-index', { create: false }).release();
    assert.throws(
      () => lockDataDir(join(dataDir, 'missing'), 'rebuild-index', { create: false }),
      /there is no data directory/,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
