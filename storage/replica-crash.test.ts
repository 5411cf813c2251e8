// SIGKILL during replicated applies (new versions, delete markers, null versions, removals), real processes:
// after every restart each acknowledged apply holds (its version byte-exact at its opver, or its tombstone), an
// apply cut by the kill either happened whole or not at all, the key's versions stand in stamp order; at the
// end a rebuild of the index from the volumes alone finds the same states.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StorageNode } from './node.ts';
import type { ReplicaState } from './replica-api.ts';
import { bytes, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'replica-crash-child.ts');
const ROUNDS = 6;

type Line = Record<string, unknown> & { key?: string; versionId?: string; opver?: string };

async function runChild(dataDir: string, seed: number, base: bigint, acks: number): Promise<Line[]> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dataDir, String(seed), String(base)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Line[] = [];
  const rl = createInterface({ input: p.stdout });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  let seen = 0;
  rl.on('line', (l) => {
    const o = JSON.parse(l) as Line;
    lines.push(o);
    if (o.ack && ++seen === acks) p.kill('SIGKILL');
  });
  const code = await exited;
  assert.equal(code, null, 'the child ran until it was killed');
  return lines;
}

/** What a version (unit) is: present with its bytes, or removed (a tombstone), at an opver. */
interface Unit {
  opver: string;
  present: boolean;
  dm?: boolean;
  size?: number;
  seed?: number;
}

function asUnit(l: Line): Unit {
  return l.start === 'write' || l.ack === 'write'
    ? { opver: l.opver!, present: true, dm: l.dm === true, size: l.size as number, seed: l.seed as number }
    : { opver: l.opver!, present: false };
}

test(`SIGKILL during replicated applies, ${ROUNDS} rounds: every acknowledged apply holds, a cut one is whole or absent`, {
  timeout: 240_000,
}, async () => {
  const t = await tempDir('quire-rcrash-');
  const opts = {
    dataDir: t.dir,
    nodeId: 2,
    volumes: volumeSpecs(t.dir, 2),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: 16 * 1024,
    tombstonePurgeIntervalMs: 0,
  };
  /** key -> versionId -> what it is. */
  const model = new Map<string, Map<string, Unit>>();
  let acked = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runChild(
        t.dir,
        round + 7,
        BigInt(round + 1) * 1_000_000n,
        15 + ((round * 11) % 30),
      );
      const cut = new Map<string, Line>();
      for (const l of lines) {
        if (!l.key) continue;
        if (l.start) {
          cut.set(l.key, l);
          continue;
        }
        cut.delete(l.key);
        acked++;
        if (l.res !== 'applied') continue;
        const units = model.get(l.key) ?? new Map<string, Unit>();
        model.set(l.key, units);
        const start = lines.find((s) => s.start && s.key === l.key && s.opver === l.opver)!;
        units.set(l.versionId!, asUnit(start));
      }
      const node = await StorageNode.open(opts);
      try {
        for (const key of new Set([...model.keys(), ...cut.keys()])) {
          const k = Buffer.from(key);
          const units = model.get(key) ?? new Map<string, Unit>();
          model.set(key, units);
          const c = cut.get(key);
          const states = new Map((await node.replicaStates('b', k)).map((s) => [s.versionId, s]));
          const ids = new Set([...units.keys(), ...states.keys(), ...(c ? [c.versionId!] : [])]);
          for (const id of ids) {
            const s: ReplicaState | undefined = states.get(id);
            const want = units.get(id);
            const allowed = [want, c?.versionId === id ? asUnit(c) : undefined].filter(
              (u) => u !== undefined,
            );
            const what = `round ${round} ${key} ${id}: holds ${s ? `${s.record ? 'present' : 'removed'} at ${s.opver.counter}` : 'nothing'}, acknowledged ${JSON.stringify(want)}, cut ${JSON.stringify(c)}`;
            const match = allowed.find(
              (u) => s && String(s.opver.counter) === u.opver && !!s.record === u.present,
            );
            assert.ok(match || (!s && allowed.length === 1 && !want), what);
            if (!match) continue;
            units.set(id, match);
            if (!match.present || match.dm) continue;
            const h = await node.openObject('b', k, { versionId: id });
            assert.ok(h, what);
            assert.deepEqual(await readAll(h.stream()), bytes(match.size!, match.seed!), what);
            h.release();
          }
          // The present versions stand in stamp order: the newest stamp is the current one.
          const listed = (await node.listObjectVersions('b', { prefix: k, limit: 1000 })).filter((v) =>
            v.key.equals(k),
          );
          const present = [...states.values()].filter((s) => s.record);
          assert.equal(listed.length, present.length);
          if (listed.length > 0) {
            const newest = present.reduce((a, b) => (a.seq!.counter > b.seq!.counter ? a : b));
            assert.equal(
              listed[0]!.versionId,
              newest.versionId,
              `round ${round} ${key}: the current version`,
            );
          }
        }
        // A later local write is newer than everything applied: the clock moved past it.
        const mine = await node.putObject({
          bucket: 'local',
          key: Buffer.from(`r${round}`),
          size: 1,
          body: (async function* () {
            yield Buffer.from('x');
          })(),
          headers: { userMeta: {} },
          nowMs: 1,
          finish: async () => ({ etag: '9dd4e461268c8034f5c8564e155c67a6', checksums: {} }),
        });
        assert.ok(mine.opver.counter > BigInt(round + 1) * 1_000_000n);
      } finally {
        await node.close();
      }
    }
    // The index agrees with the volumes: a rebuild from scratch finds the same states.
    let node = await StorageNode.open(opts);
    const before = new Map<string, ReplicaState[]>();
    for (const key of model.keys()) before.set(key, await node.replicaStates('b', Buffer.from(key)));
    await node.close();
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    for (const [key, states] of before)
      assert.deepEqual(await node.replicaStates('b', Buffer.from(key)), states, `${key} after a rebuild`);
    await node.close();
    assert.ok(acked > 60, `only ${acked} acknowledged applies`);
  } finally {
    await t.remove();
  }
});
