// `quire server` starts the website endpoint next to the S3 endpoint and says where it is; `--website-port
// off` starts none; a taken website port is one line naming the flag. Real processes on 127.0.0.1.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const QUIRE = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');
const ENV = {
  ...process.env,
  QUIRE_ACCESS_KEY: 'AKSITETEST',
  QUIRE_SECRET_KEY: 'site-test-secret',
  QUIRE_LOG_LEVEL: 'silent',
};

interface Started {
  child: ChildProcess;
  banner: string;
  exited: Promise<number | null>;
}

/** Starts `quire server` and resolves with its banner once it names the S3 endpoint. */
function start(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [QUIRE, 'server', ...args], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Try it:/.test(out)) resolve({ child, banner: out, exited });
    });
    void exited.then((code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

function get(port: number, host: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

test('the website endpoint starts with the server and is printed; off means none', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-site-cli-'));
  try {
    const on = await start(['--data', join(dir, 'a'), '--port', '0', '--website-domain', 'sites.test']);
    const m = /website:\s+http:\/\/<bucket>\.sites\.test:(\d+)\//.exec(on.banner);
    assert.ok(m, on.banner);
    const res = await get(Number(m[1]), 'nosuchbucket.sites.test');
    assert.equal(res.status, 404);
    assert.match(res.type, /^text\/html/);
    assert.match(res.body, /NoSuchBucket/);
    on.child.kill('SIGTERM');
    assert.equal(await on.exited, 0);

    const off = await start(['--data', join(dir, 'b'), '--port', '0', '--website-port', 'off']);
    assert.doesNotMatch(off.banner, /website:/);
    off.child.kill('SIGTERM');
    assert.equal(await off.exited, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a website port in use is one line naming the flag', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-site-cli-'));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const child = spawn(
      process.execPath,
      [QUIRE, 'server', '--data', join(dir, 'c'), '--port', '0', '--website-port', String(port)],
      { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0);
    assert.match(err, new RegExp(`website port ${port} is already in use; pick another with --website-port`));
    assert.equal(err.trim().split('\n').length, 1, err);
  } finally {
    blocker.close();
    await rm(dir, { recursive: true, force: true });
  }
});
