import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const guards = join(fileURLToPath(import.meta.url), '..', 'process-guards.ts');

/** Runs a small ESM program under tsx that may install the guards, then rejects a promise nobody handles. */
function runChild(install: boolean) {
  const program = `
    import pino from 'pino';
    import { installProcessGuards } from ${JSON.stringify(guards)};
    const logger = pino({ base: undefined }, pino.destination({ dest: 1, sync: true }));
    const g = ${install ? 'installProcessGuards(logger)' : 'undefined'};
    Promise.reject(new Error('stray rejection'));
    // Unhandled rejections are processed after the microtask queue drains, before the next macrotask.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ alive: true, rejections: g?.rejections() }));
  `;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

test('without the guards a stray rejection kills the process (what the guard prevents)', {
  timeout: 30_000,
}, () => {
  const r = runChild(false);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /alive/);
});

test('with the guards a stray rejection is logged and the process serves on', { timeout: 30_000 }, () => {
  const r = runChild(true);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /unhandled promise rejection/);
  assert.match(r.stdout, /stray rejection/);
  assert.match(r.stdout, /"alive":true,"rejections":1/);
});
