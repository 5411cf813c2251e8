// SIGKILL during versioned writes (new versions, delete markers, removals by version id): after every
// restart each acknowledged version is there, byte-exact, in its order; each acknowledged removal stays
// removed; an operation cut by the kill either happened whole or not at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { versionIdOf } from './keys.ts';
import { StorageNode } from './node.ts';
import { bytes, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'version-crash-child.ts');
const ROUNDS = 8;
/** Seeds of the children (QUIRE_CRASH_SEED replays another series). */
const SEED = Number(process.env.QUIRE_CRASH_SEED ?? 11);

type Line = Record<string, unknown> & { key?: string; versionId?: string };

async function runChild(dataDir: string, seed: number, acks: number): Promise<Line[]> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dataDir, String(seed)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Line[] = [];
  const rl = createInterface({ input: p.stdout });
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  let seen = 0;
  rl.on('line', (l) => {
    const o = JSON.parse(l) as Line;
    lines.push(o);
    if (o.ack && ++seen === acks) p.kill('SIGKILL');
  });
  await exited;
  return lines;
}

interface Known {
  dm: boolean;
  size: number;
  seed: number;
}

test(`SIGKILL during versioned writes, ${ROUNDS} rounds: every acknowledged version and removal holds`, {
  timeout: 240_000,
}, async () => {
  const t = await tempDir('quire-vcrash-');
  const opts = {
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 2),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: 16 * 1024,
  };
  /** Per key: the versions that must exist (id -> what), newest last. */
  const model = new Map<string, Map<string, Known>>();
  /** Versions whose removal was acknowledged: key + '#' + version id. */
  const removed = new Set<string>();
  let acked = 0;
  const modes: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runChild(t.dir, round + SEED, 10 + ((round * 7) % 25));
      const inFlight = new Map<string, Line>();
      for (const l of lines) {
        if (!l.key) continue;
        const versions = model.get(l.key) ?? new Map<string, Known>();
        model.set(l.key, versions);
        if (l.start) {
          inFlight.set(l.key, l);
          continue;
        }
        inFlight.delete(l.key);
        acked++;
        if (l.ack === 'put')
          versions.set(l.versionId!, { dm: false, size: l.size as number, seed: l.seed as number });
        else if (l.ack === 'marker') versions.set(l.versionId!, { dm: true, size: 0, seed: 0 });
        else {
          versions.delete(l.versionId!);
          removed.add(`${l.key}#${l.versionId}`);
        }
      }
      const node = await StorageNode.open(opts);
      modes.push(node.recovery!.mode);
      try {
        for (const [key, versions] of model) {
          const k = Buffer.from(key);
          const listed = (await node.listObjectVersions('b', { prefix: k, limit: 1000 })).filter((v) =>
            v.key.equals(k),
          );
          const cut = inFlight.get(key);
          const ids = listed.map((v) => v.versionId);
          // Acknowledged versions, in acknowledgement order, appear newest first.
          const want = [...versions.keys()].reverse();
          const knownListed = ids.filter((id) => versions.has(id));
          const cutRemoval = cut?.start === 'remove' ? cut.versionId : undefined;
          assert.deepEqual(
            knownListed,
            want.filter((id) => ids.includes(id) || id !== cutRemoval),
            `round ${round} ${key}: listed ${ids.join(',')}, acknowledged ${want.join(',')}, cut ${JSON.stringify(cut)}`,
          );
          for (const id of want)
            if (id !== cutRemoval) assert.ok(ids.includes(id), `round ${round}: ${key} ${id} lost`);
          // At most one version nobody acknowledged: the cut write, whole.
          const unknown = listed.filter((v) => !versions.has(v.versionId));
          assert.ok(
            unknown.length <= 1,
            `round ${round}: ${key} has ${unknown.length} unacknowledged versions`,
          );
          for (const u of unknown) {
            assert.ok(
              cut && (cut.start === 'put' || cut.start === 'marker'),
              `round ${round}: ${key} ${u.versionId} from nowhere`,
            );
            assert.equal(u.isLatest, true);
            assert.equal(u.deleteMarker, cut.start === 'marker');
            versions.set(u.versionId, {
              dm: cut.start === 'marker',
              size: (cut.size as number) ?? 0,
              seed: (cut.seed as number) ?? 0,
            });
          }
          if (cutRemoval && !ids.includes(cutRemoval)) {
            versions.delete(cutRemoval);
            removed.add(`${key}#${cutRemoval}`);
          }
          for (const v of listed) {
            const known = versions.get(v.versionId)!;
            assert.equal(v.deleteMarker, known.dm);
            if (known.dm) continue;
            const h = await node.openObject('b', k, { versionId: v.versionId });
            assert.ok(h);
            const what = `round ${round}: ${key} ${v.versionId} (${JSON.stringify(node.recovery)}, cut ${JSON.stringify(cut)})`;
            const data = await readAll(h.stream()).catch((err) => {
              throw new Error(`${what}: ${err}\n${JSON.stringify(lines.filter((l) => l.key === key))}`);
            });
            assert.deepEqual(data, bytes(known.size, known.seed), what);
            h.release();
          }
        }
        // A mirror replaying the binlog ends where this node is: per version, its newest record says
        // whether it exists (every version has a record; every removal is the last word on its version).
        const last = new Map<string, string>();
        const newest = new Map<string, bigint>();
        for await (const { record } of node.binlog.readFrom()) {
          if (!record.version?.stamp) continue;
          const id = `${record.key.toString()}#${versionIdOf(record.version.stamp)}`;
          if ((newest.get(id) ?? -1n) < record.opver.counter) {
            newest.set(id, record.opver.counter);
            last.set(id, record.op);
          }
        }
        for (const [key, versions] of model)
          for (const id of versions.keys()) {
            const op = last.get(`${key}#${id}`);
            assert.ok(
              op && op !== 'version-delete',
              `round ${round}: ${key} ${id} exists, its last record is ${op}`,
            );
          }
        for (const id of removed)
          assert.equal(last.get(id), 'version-delete', `round ${round}: ${id} removed`);
      } finally {
        await node.close();
      }
    }
    // The index agrees with a scan of the volumes: a rebuild from scratch changes nothing.
    let node = await StorageNode.open(opts);
    const all = { prefix: Buffer.alloc(0), limit: 10_000 };
    const before = await node.listObjectVersions('b', all);
    await node.close();
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    assert.deepEqual(await node.listObjectVersions('b', all), before);
    await node.close();
    assert.ok(acked > 40, `only ${acked} acknowledged ops`);
    // Every reopen after a kill settled only what changed since the checkpoints, versions included.
    assert.deepEqual(new Set(modes), new Set(['tail']), `recovery modes: ${modes.join(' ')}`);
  } finally {
    await t.remove();
  }
});
