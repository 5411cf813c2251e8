// Volume size limits through the real CLI: in --help, refused at start when they cannot work (one
// line with the fix), and a changed limit written into the volume at the next start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StorageNode } from '../storage/node.ts';
import { bytes, putInput } from '../storage/testing/harness.ts';
import { dataLayout } from './embedded.ts';

const bin = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');
const GiB = 1024 ** 3;
const env = { ...process.env, QUIRE_ACCESS_KEY: 'QUIRETESTKEY1', QUIRE_SECRET_KEY: 'quire-test-secret-one' };

/** Answers once the server's /health is 200 (its signal handlers are in place by then). */
async function healthy(endpoint: string): Promise<void> {
  for (;;) {
    const ok = await fetch(`${endpoint}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setImmediate(r));
  }
}

/** Runs `quire` to its exit; for `server`, SIGTERMs it once it serves. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let asked = false;
    p.stdout.on('data', (d) => {
      stdout += d;
      const endpoint = /endpoint:\s+(\S+)/.exec(stdout)?.[1];
      if (endpoint && !asked) {
        asked = true;
        void healthy(endpoint).then(() => p.kill('SIGTERM'));
      }
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const server = (dir: string, ...flags: string[]) =>
  run(['server', '--data', dir, '--port', '0', '--log-level', 'warn', ...flags]);

async function superblockLimits(dir: string): Promise<{ max: number; reserve: number }> {
  const sb = await readFile(join(dataLayout(dir).volume, 'volume.qv'));
  return { max: Number(sb.readBigUInt64LE(40)), reserve: Number(sb.readBigUInt64LE(48)) };
}

test('quire server --help names the volume size flags and their env variables', {
  timeout: 30_000,
}, async () => {
  const r = await run(['server', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--volume-max-bytes N .*QUIRE_VOLUME_MAX_BYTES/s);
  assert.match(r.stdout, /--reserved-free-bytes N .*QUIRE_RESERVED_FREE_BYTES/s);
});

test('a maximum not above the reserve is refused at start in one line with the fix', {
  timeout: 30_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-cli-volsize-'));
  try {
    const r = await server(dir, '--volume-max-bytes', String(GiB));
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /volume-max-bytes \(1073741824\) must be larger than reserved-free-bytes \(4294967296\)/,
    );
    assert.match(
      lines[0]!,
      /raise --volume-max-bytes \(QUIRE_VOLUME_MAX_BYTES\) or lower --reserved-free-bytes/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a changed limit applies at the next start; one below what the volume holds is refused', {
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-cli-volsize-'));
  try {
    let r = await server(dir, '--volume-max-bytes', String(2 * GiB), '--reserved-free-bytes', '0');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await superblockLimits(dir), { max: 2 * GiB, reserve: 0 });
    r = await server(dir, '--volume-max-bytes', String(3 * GiB), '--reserved-free-bytes', String(GiB));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await superblockLimits(dir), { max: 3 * GiB, reserve: GiB });
    const nodeFile = JSON.parse(await readFile(join(dir, 'node.json'), 'utf8'));
    assert.equal(nodeFile.volumes[0].maxBytes, 3 * GiB);

    // Put ~300 KB in, then ask for a maximum of 100 KB.
    const layout = dataLayout(dir);
    const node = await StorageNode.open({
      dataDir: layout.node,
      nodeId: 1,
      volumes: [{ dir: layout.volume, maxBytes: 3 * GiB, reservedFreeBytes: GiB }],
    });
    for (let i = 0; i < 3; i++) await node.putObject(putInput('b', `k${i}`, bytes(100_000, i)));
    await node.close();
    r = await server(dir, '--volume-max-bytes', '100000', '--reserved-free-bytes', '0');
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /volume v1 already holds (\d+) bytes, more than a maximum of 100000; set --volume-max-bytes/,
    );
    assert.deepEqual(await superblockLimits(dir), { max: 3 * GiB, reserve: GiB }, 'left as it was');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
