// SIGKILL during replicated upload applies (uploads, newer copies of them, inline and blob parts, removals), real
// processes: after every restart each acknowledged apply holds (the upload, a part byte-exact at its opver, or the
// upload's tombstone with nothing else of it), an apply cut by the kill happened whole or not at all; at the end a
// rebuild of the index from the volumes alone finds the same states.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StorageNode } from './node.ts';
import type { UploadState } from './replica-api.ts';
import { bytes, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'upload-crash-child.ts');
const ROUNDS = 6;

type Line = Record<string, unknown> & { w?: number; uploadId?: string; opver?: string };

async function runChild(dataDir: string, round: number, base: bigint, acks: number): Promise<Line[]> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dataDir, String(round), String(base)], {
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

interface Unit {
  opver: string;
  size?: number;
  seed?: number;
}

/** One upload as acknowledged: its units ('u' the upload, 'p<n>' its parts), or removed at an opver. */
interface Upload {
  key: Buffer;
  units: Map<string, Unit>;
  removedAt?: string;
}

const unitOf = (l: Line) => (l.start === 'upload' || l.ack === 'upload' ? 'u' : `p${l.partNumber}`);
const nameOf = (s: UploadState) => (s.partNumber === undefined ? 'u' : `p${s.partNumber}`);

test(`SIGKILL during replicated upload applies, ${ROUNDS} rounds: every acknowledged apply holds, a cut one is whole or absent`, {
  timeout: 240_000,
}, async () => {
  const t = await tempDir('quire-ucrash-');
  const opts = {
    dataDir: t.dir,
    nodeId: 2,
    volumes: volumeSpecs(t.dir, 2),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: 16 * 1024,
    tombstonePurgeIntervalMs: 0,
  };
  const model = new Map<string, Upload>();
  const upload = (id: string) => {
    const u = model.get(id) ?? { key: Buffer.from(`key-${id}`), units: new Map<string, Unit>() };
    model.set(id, u);
    return u;
  };
  let acked = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runChild(t.dir, round, BigInt(round + 1) * 1_000_000n, 20 + ((round * 11) % 30));
      const cut = new Map<number, Line>();
      for (const l of lines) {
        if (l.w === undefined) continue;
        if (l.start) {
          cut.set(l.w, l);
          continue;
        }
        cut.delete(l.w);
        acked++;
        if (l.res !== 'applied') continue;
        const start = lines.find((s) => s.start && s.w === l.w && s.opver === l.opver)!;
        const u = upload(l.uploadId!);
        if (l.ack === 'remove') {
          u.removedAt = l.opver!;
          u.units.clear();
        } else
          u.units.set(unitOf(l), {
            opver: l.opver!,
            ...(l.ack === 'part' ? { size: start.size as number, seed: start.seed as number } : {}),
          });
      }
      const node = await StorageNode.open(opts);
      try {
        for (const c of cut.values()) upload(c.uploadId!);
        for (const [id, u] of model) {
          const c = [...cut.values()].find((l) => l.uploadId === id);
          const states = (await node.uploadStates('b', u.key)).filter((s) => s.uploadId === id);
          const what = `round ${round} ${id}: holds ${JSON.stringify(states.map((s) => [nameOf(s), String(s.opver.counter), !!s.upload || !!s.part]))}, acknowledged ${JSON.stringify([...u.units], (_k, v) => v)} removed ${u.removedAt}, cut ${JSON.stringify(c)}`;
          const tomb = states.find((s) => s.partNumber === undefined && !s.upload);
          if (u.removedAt || (c?.start === 'remove' && tomb)) {
            // Removed: the tombstone alone (at the acknowledged removal, or the cut one that happened).
            const at = u.removedAt ?? c!.opver;
            assert.equal(states.length, 1, what);
            assert.equal(String(tomb?.opver.counter), at, what);
            u.removedAt = at;
            u.units.clear();
            continue;
          }
          assert.equal(tomb, undefined, what);
          const held = new Map(states.map((s) => [nameOf(s), s]));
          const names = new Set([...u.units.keys(), ...held.keys()]);
          if (c && c.start !== 'remove') names.add(unitOf(c));
          for (const name of names) {
            const s = held.get(name);
            const want = u.units.get(name);
            const cutUnit = c && c.start !== 'remove' && unitOf(c) === name ? c : undefined;
            if (!s) {
              assert.ok(!want, `${what}: ${name} lost`);
              continue;
            }
            const opver = String(s.opver.counter);
            if (want?.opver === opver) continue;
            assert.equal(opver, cutUnit?.opver, `${what}: ${name}`);
            u.units.set(name, {
              opver,
              ...(cutUnit!.start === 'part'
                ? { size: cutUnit!.size as number, seed: cutUnit!.seed as number }
                : {}),
            });
          }
          for (const [name, unit] of u.units) {
            if (name === 'u') continue;
            const h = await node.openPart('b', u.key, id, Number(name.slice(1)));
            assert.ok(h, `${what}: ${name} readable`);
            assert.deepEqual(
              await readAll(h.stream()),
              bytes(unit.size!, unit.seed!),
              `${what}: ${name} bytes`,
            );
            h.release();
          }
        }
      } finally {
        await node.close();
      }
    }
    // The index agrees with the volumes: a rebuild from scratch finds the same states.
    let node = await StorageNode.open(opts);
    const before = new Map<string, UploadState[]>();
    for (const u of model.values()) before.set(u.key.toString(), await node.uploadStates('b', u.key));
    await node.close();
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    const brief = (ss: UploadState[]) => ss.map((s) => `${s.uploadId}/${nameOf(s)}@${s.opver.counter}`);
    for (const [key, states] of before) {
      const now = await node.uploadStates('b', Buffer.from(key));
      assert.deepEqual(brief(now), brief(states), `${key} after a rebuild`);
      assert.deepEqual(now, states, `${key} after a rebuild`);
    }
    await node.close();
    assert.ok(acked > 80, `only ${acked} acknowledged applies`);
  } finally {
    await t.remove();
  }
});
