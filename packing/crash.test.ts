// Crash safety: a child process writes with acknowledgements on stdout and is SIGKILLed at a random
// moment, 20 rounds on the same volume. After each kill the volume must hold exactly the acknowledged
// state of every key (or the result of the one operation in flight on it), byte for byte.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CRASH_OPTS, dataFor, KEYS, keyBuf } from './test-support/crash-workload.ts';
import { tempDir } from './test-support/helpers.ts';
import type { VolumeStats } from './types.ts';
import { Volume } from './volume.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20);
const CHILD = fileURLToPath(new URL('./test-support/crash-child.ts', import.meta.url));

function spaceOf(s: VolumeStats) {
  const { liveEntries, liveBytes, liveDataBytes, holeBytes, holeCount, deadBytes, diskBytes } = s;
  return { liveEntries, liveBytes, liveDataBytes, holeBytes, holeCount, deadBytes, diskBytes };
}

/** A key's state: the version present, or the version whose delete removed it (absent). */
type State = { present: boolean; ver: number };

function runChild(dir: string, round: number, create: boolean, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, dir, String(round * 7919 + 1), create ? 'create' : 'open'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!timer && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('error', reject);
    // 'close', not 'exit': stdout may still hold acknowledgements when the process has exited.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own: code ${code} signal ${signal}`));
      // The last line may be cut by the kill: only complete lines count.
      else resolve(out.split('\n').slice(0, -1));
    });
  });
}

test(`acknowledged writes survive SIGKILL at random moments (${ROUNDS} rounds)`, {
  timeout: 240_000,
}, async () => {
  const { dir, cleanup } = await tempDir('crash');
  const known = new Map<number, State>();
  let acks = 0;
  let inFlightSeen = 0;
  let checkpointRounds = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 40 + ((round * 137) % 400);
      const lines = await runChild(dir, round, round === 0, killAfter);
      const acked = new Map<number, State>(known);
      const pending = new Map<number, State>();
      for (const line of lines) {
        const [tag, k, ver, kind] = line.split(' ');
        if (tag !== 'A' && tag !== 'B') continue;
        const st: State = { present: kind === 'put', ver: Number(ver) };
        if (tag === 'B') pending.set(Number(k), st);
        else {
          acked.set(Number(k), st);
          pending.delete(Number(k));
          acks += 1;
        }
      }
      const filesBefore = (await readdir(dir)).join(' ');
      const v = await Volume.open(dir, CRASH_OPTS);
      const rec = v.recovery;
      const found = new Map<number, { ver: number; data: Buffer }>();
      for await (const e of v.scan()) {
        const k = Number(e.key.toString().slice(4));
        assert.ok(!found.has(k), `key ${k} appears once`);
        const chunks: Buffer[] = [];
        for await (const c of v.openRead(e.location)) chunks.push(c as Buffer);
        found.set(k, { ver: Number(e.opver.counter), data: Buffer.concat(chunks) });
      }
      const stats = spaceOf(v.stats());
      await v.close();
      if (rec.mode === 'checkpoint') checkpointRounds += 1;
      // What reopening from the checkpoint rebuilt equals what reading every file finds.
      await rm(join(dir, 'summary.qs'));
      const full = await Volume.open(dir, CRASH_OPTS);
      assert.equal(full.recovery.mode, 'scan');
      assert.deepEqual(spaceOf(full.stats()), stats, `round ${round}: space after a ${rec.mode} reopen`);
      await full.close();
      for (let k = 0; k < KEYS; k++) {
        const f = found.get(k);
        // Never written counts as "absent": the state before a first put still in flight.
        const before = acked.get(k) ?? { present: false, ver: 0 };
        const allowed = [before, pending.get(k)].filter((s): s is State => s !== undefined);
        const match = allowed.find((s) => (f ? s.present && s.ver === f.ver : !s.present));
        assert.ok(
          match,
          `round ${round} key ${k}: found ${f ? `v${f.ver}` : 'nothing'}, allowed ${JSON.stringify(allowed)}; lines ${lines.filter((l) => l.split(' ')[1] === String(k)).join(',')} of ${lines.length}; files ${filesBefore}; recovery ${rec.mode} moved ${rec.moved.length} dropped ${rec.duplicatesDropped} corrupt ${JSON.stringify(rec.corrupt)}`,
        );
        if (f) assert.deepEqual(f.data, dataFor(k, f.ver), `round ${round} key ${k} v${f.ver} byte-exact`);
        if (match !== before) inFlightSeen += 1;
        known.set(k, match);
        assert.deepEqual(keyBuf(k).toString(), `key-${String(k).padStart(3, '0')}`);
      }
    }
    console.log(
      `crash: ${ROUNDS} rounds, ${acks} acknowledged operations checked, ${inFlightSeen} in-flight results kept`,
    );
    assert.ok(acks > ROUNDS, 'the child got work done between kills');
    assert.ok(checkpointRounds > ROUNDS / 2, `only ${checkpointRounds} reopens from a checkpoint`);
  } finally {
    if (process.env.CRASH_KEEP) console.log(`kept ${dir}`);
    else await cleanup();
  }
});
