// A SIGTERM that arrives while `quire server` is still opening its node (recovery, a rebuild) lets the open
// finish and then stops cleanly (exit 0), instead of killing the process mid-open. The pause point is a FIFO
// in place of the index state file: the node's open blocks reading it until the test writes it, and the
// test knows the server is inside that read because opening the FIFO for writing returns only then.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, QUIRE_BIN, REPO_ROOT } from '../conformance/target.ts';

test('SIGTERM during startup: the node finishes opening, then the server stops cleanly', {
  timeout: 60_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'quire-stop-starting-'));
  const data = join(work, 'data');
  const env = { ...process.env, QUIRE_ACCESS_KEY: 'STOPSTARTKEY', QUIRE_SECRET_KEY: 'stop-start-secret-key' };
  const args = async () => [
    QUIRE_BIN,
    'server',
    '--data',
    data,
    '--host',
    '127.0.0.1',
    '--port',
    String(await freePort()),
  ];
  try {
    // A first start and clean stop lays out the data directory and its index state file.
    const first = spawn(process.execPath, await args(), {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let firstOut = '';
    first.stdout.on('data', (d) => {
      firstOut += d;
      if (firstOut.includes('Quire is running')) first.kill('SIGTERM');
    });
    assert.equal(await new Promise((r) => first.once('exit', r)), 0);
    const stateFile = join(data, 'index-state.json');
    const state = readFileSync(stateFile);
    unlinkSync(stateFile);
    assert.equal(spawnSync('mkfifo', [stateFile]).status, 0, 'mkfifo');

    const server = spawn(process.execPath, await args(), {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const seen = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => out.includes(text) && resolve();
        server.stdout.on('data', (d) => {
          out += d;
          check();
        });
        server.stderr.on('data', (d) => {
          out += d;
        });
        check();
      });
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    // Returns once the server has opened the FIFO for reading: it is inside its node's open.
    const fifo = await open(stateFile, 'w');
    const asked = seen('stop requested while starting');
    server.kill('SIGTERM');
    // On a server that dies of the signal mid-open, `exited` settles first and the checks below fail.
    await Promise.race([asked, exited]);
    await fifo.writeFile(state);
    await fifo.close();
    assert.equal(await exited, 0, out);
    assert.match(out, /stopped cleanly/);
    assert.doesNotMatch(out, /Quire is running/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
