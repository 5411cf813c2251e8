import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StorageNode } from './node.ts';
import { bytes, md5, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

type Op = { op: 'put'; size: number; seed: number } | { op: 'delete' };
const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'crash-child.ts');
const ROUNDS = 10;

/**
 * Runs the child, SIGKILLs it once it has acknowledged `acks` ops (counted as they arrive, so a loaded
 * machine only makes the kill later, never earlier); returns its lines.
 */
async function runChild(
  dataDir: string,
  seed: number,
  acks: number,
): Promise<Array<Record<string, unknown>>> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dataDir, String(seed)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const rl = createInterface({ input: p.stdout });
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  let seen = 0;
  rl.on('line', (l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    lines.push(o);
    if (o.ack && ++seen === acks) p.kill('SIGKILL');
  });
  await exited;
  return lines;
}

test(`SIGKILL during puts/replaces/deletes, ${ROUNDS} rounds: every ack survives byte-exact`, {
  timeout: 240_000,
}, async () => {
  const t = await tempDir('quire-crash-');
  const opts = {
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 2),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: 16 * 1024,
  };
  const model = new Map<string, Op>();
  let acked = 0;
  const modes: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runChild(t.dir, round + 1, 5 + ((round * 7) % 20));
      // Per key: what it may be now — the last acked state, or an op started but not acked.
      const maybe = new Map<string, Op[]>();
      const ackedOps: Array<{ key: string; op: Op }> = [];
      for (const l of lines) {
        const key = l.key as string;
        if (!key) continue;
        const op: Op =
          (l.start ?? l.ack) === 'put'
            ? { op: 'put', size: l.size as number, seed: l.seed as number }
            : { op: 'delete' };
        if (l.start) maybe.set(key, [...(maybe.get(key) ?? []), op]);
        else {
          model.set(key, op);
          maybe.set(key, []);
          if (l.existed !== false) ackedOps.push({ key, op });
          acked++;
        }
      }
      const node = await StorageNode.open(opts);
      modes.push(node.recovery!.mode);
      try {
        for (const key of new Set([...model.keys(), ...maybe.keys()])) {
          const candidates = [model.get(key) ?? { op: 'delete' as const }, ...(maybe.get(key) ?? [])];
          const h = await node.openObject('b', Buffer.from(key));
          const got = h ? await readAll(h.stream()) : undefined;
          h?.release();
          const match = candidates.find((c) =>
            c.op === 'delete' ? got === undefined : got?.equals(bytes(c.size, c.seed)) === true,
          );
          assert.ok(
            match,
            `round ${round}: key ${key} holds ${got ? md5(got) : 'nothing'}, expected one of ${JSON.stringify(candidates)}`,
          );
          model.set(key, match);
        }
        const binlogged = new Map<string, number>();
        const last = new Map<string, { op: string; counter: bigint }>();
        for await (const { record } of node.binlog.readFrom()) {
          const k = record.key.toString();
          binlogged.set(k, (binlogged.get(k) ?? 0) + 1);
          const prev = last.get(k);
          if (!prev || prev.counter < record.opver.counter)
            last.set(k, { op: record.op, counter: record.opver.counter });
        }
        for (const { key } of ackedOps)
          assert.ok((binlogged.get(key) ?? 0) > 0, `acked op on ${key} missing from the binlog`);
        // A mirror replaying the binlog ends where this node is: each key's newest record is its state.
        for (const key of new Set([...model.keys(), ...last.keys()])) {
          const head = await node.headObject('b', Buffer.from(key));
          const l = last.get(key);
          if (head) assert.deepEqual(l && [l.op === 'delete', l.counter], [false, head.opver.counter], key);
          else
            assert.ok(
              !l || l.op === 'delete',
              `round ${round}: ${key} is gone but its last record is ${l?.op}`,
            );
        }
      } finally {
        await node.close();
      }
    }
    // The index agrees with a scan of the volumes: rebuilding it from scratch changes nothing.
    let node = await StorageNode.open(opts);
    const before = await node.listObjects('b', { prefix: Buffer.alloc(0), limit: 1000 });
    await node.close();
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    assert.deepEqual(await node.listObjects('b', { prefix: Buffer.alloc(0), limit: 1000 }), before);
    await node.close();
    assert.ok(acked > 50, `only ${acked} acknowledged ops`);
    // Every reopen after a kill looked only at what changed since the checkpoints.
    assert.deepEqual(new Set(modes), new Set(['tail']), `recovery modes: ${modes.join(' ')}`);
  } finally {
    await t.remove();
  }
});
