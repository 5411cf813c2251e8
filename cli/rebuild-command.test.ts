// `quire rebuild-index` through the real CLI process: progress, a summary line, exit 0, and the
// node afterwards serves exactly what it held.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StorageNode } from '../storage/node.ts';
import { bytes, putInput, readAll } from '../storage/testing/harness.ts';
import { dataLayout } from './embedded.ts';

const bin = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');

function nodeOpts(dataDir: string) {
  const layout = dataLayout(dataDir);
  return {
    dataDir: layout.node,
    nodeId: 1,
    volumes: [{ dir: layout.volume, maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    smallObjectMaxBytes: 64 * 1024,
  };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('quire rebuild-index rebuilds, reports objects, bytes and seconds, and exits 0', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-cli-rebuild-'));
  try {
    let node = await StorageNode.open(nodeOpts(dir));
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const size = i === 7 ? 100_000 : 10 + i * 50; // one singlefile
      total += size;
      await node.putObject(putInput('b', `k${i}`, bytes(size, i)));
    }
    await node.deleteObject('b', Buffer.from('k3'));
    total -= 10 + 3 * 50;
    await node.close();

    const r = await run(['rebuild-index', '--data', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`: 19 objects, ${total} bytes .* in \\d+\\.\\d s\\n$`));
    assert.equal(r.stdout.split('\n').length, 2, 'one summary line');
    // 20 object entries and the delete's tombstone (kept so a late replicated write cannot resurrect k3).
    assert.match(r.stderr, /rebuild-index: volume v1: 21 entries/, 'progress on stderr');

    node = await StorageNode.open(nodeOpts(dir));
    try {
      assert.equal((await node.stats()).objects, 19);
      for (const i of [0, 7, 19]) {
        const h = (await node.openObject('b', Buffer.from(`k${i}`)))!;
        assert.deepEqual(await readAll(h.stream()), bytes(i === 7 ? 100_000 : 10 + i * 50, i));
        h.release();
      }
      assert.equal(await node.headObject('b', Buffer.from('k3')), undefined);
    } finally {
      await node.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('quire rebuild-index on a directory without a node says so in one line', {
  timeout: 30_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-cli-rebuild-'));
  try {
    const r = await run(['rebuild-index', '--data', dir]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no storage node in .*; start `quire server --data/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
