// Property test of replication against a model: random local writes, deletes and version operations on two
// real nodes, their states exchanged through applyReplica in random order and duplicated, then a full copy
// both ways. Both nodes end with the same states, equal to the model: per version (unit), the state with the
// highest opver ever produced on either node wins — a removal included, so nothing deleted comes back unless a
// newer write of that very version exists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { VersioningMode } from './api.ts';
import { StorageNode } from './node.ts';
import { compareOpver } from './records.ts';
import type { ReplicaState } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 4096;
const KEYS = ['a', 'b', 'c'];

type Op =
  | { op: 'put'; node: number; key: string; size: number }
  | { op: 'delete'; node: number; key: string }
  | { op: 'deleteVersion'; node: number; key: string; pick: number }
  | { op: 'tag'; node: number; key: string; pick: number; value: string }
  | { op: 'state'; to: 'enabled' | 'suspended' }
  | { op: 'deliver'; pick: number; keep: boolean };

const nodeArb = fc.constantFrom(0, 1);
const keyArb = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('put' as const),
      node: nodeArb,
      key: keyArb,
      size: fc.constantFrom(0, 10, 3000, 9000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), node: nodeArb, key: keyArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('deleteVersion' as const),
      node: nodeArb,
      key: keyArb,
      pick: fc.nat(9),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('tag' as const),
      node: nodeArb,
      key: keyArb,
      pick: fc.nat(9),
      value: fc.constantFrom('x', 'y'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('state' as const), to: fc.constantFrom('enabled', 'suspended') }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(1000), keep: fc.boolean() }),
  },
);

/** A state captured on a node right after it changed, with the version's bytes then. */
interface Shipped {
  to: number;
  state: ReplicaState;
  body?: Buffer;
}

const unit = (s: ReplicaState) => `${s.key.toString()}#${s.versionId}`;

function norm(states: ReplicaState[]) {
  return states
    .map((s) => {
      const r = s.record && { ...s.record };
      if (r) delete r.isLatest;
      return { ...s, ...(r ? { record: r } : {}) };
    })
    .sort((x, y) => (unit(x) < unit(y) ? -1 : unit(x) > unit(y) ? 1 : 0));
}

test('two nodes exchanging states in any order, duplicated, converge to the model (highest opver per version)', {
  timeout: 600_000,
}, async () => {
  const { opener } = testOpener();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const dirs = [await tempDir('quire-rmodel-a-'), await tempDir('quire-rmodel-b-')];
      const nodes: StorageNode[] = [];
      try {
        for (const [i, t] of dirs.entries())
          nodes.push(
            await StorageNode.open({
              dataDir: t.dir,
              nodeId: i + 1,
              volumes: volumeSpecs(t.dir, 1),
              volumeOpener: opener,
              smallObjectMaxBytes: SMALL,
              durability: 'none',
              tombstonePurgeIntervalMs: 0,
            }),
          );
        let mode: VersioningMode = 'unversioned';
        const pool: Shipped[] = [];
        /** Per unit: the state with the highest opver any node produced. */
        const model = new Map<string, ReplicaState>();
        let seed = 1;
        /** Per node and unit: the highest opver it held so far. A node never goes back (no resurrection). */
        const held = [new Map<string, ReplicaState>(), new Map<string, ReplicaState>()];
        const monotonic = async (at: number, key: string) => {
          const now = new Map(
            (await nodes[at]!.replicaStates('b', Buffer.from(key))).map((s) => [unit(s), s]),
          );
          for (const [u, before] of held[at]!) {
            if (!u.startsWith(`${key}#`)) continue;
            const s = now.get(u);
            assert.ok(s, `node ${at} forgot ${u}`);
            assert.ok(compareOpver(s.opver, before.opver) >= 0, `node ${at} went back on ${u}`);
          }
          for (const [u, s] of now) held[at]!.set(u, s);
        };
        const capture = async (from: number, key: string) => {
          const n = nodes[from]!;
          for (const s of await n.replicaStates('b', Buffer.from(key))) {
            const best = model.get(unit(s));
            if (!best || compareOpver(s.opver, best.opver) > 0) model.set(unit(s), s);
            let body: Buffer | undefined;
            if (s.record && !s.record.deleteMarker) {
              const h = await n.openObject('b', s.key, { versionId: s.versionId });
              assert.ok(h);
              body = await readAll(h.stream());
              h.release();
            }
            pool.push({ to: 1 - from, state: s, ...(body ? { body } : {}) });
          }
        };
        for (const op of ops) {
          seed++;
          if (op.op === 'state') {
            mode = op.to;
            continue;
          }
          if (op.op === 'deliver') {
            if (pool.length === 0) continue;
            const i = op.pick % pool.length;
            const s = pool[i]!;
            if (!op.keep) pool.splice(i, 1);
            const body = s.body;
            await nodes[s.to]!.applyReplica({
              state: s.state,
              ...(body
                ? {
                    body: (async function* () {
                      yield body;
                    })(),
                  }
                : {}),
            });
            await monotonic(s.to, s.state.key.toString());
            continue;
          }
          const n = nodes[op.node]!;
          const k = Buffer.from(op.key);
          if (op.op === 'put')
            await n.putObject(putInput('b', k, bytes(op.size, seed), { versioning: mode }));
          else if (op.op === 'delete')
            await n.removeObject({ bucket: 'b', key: k, versioning: mode, nowMs: seed });
          else {
            const versions = (await n.listObjectVersions('b', { prefix: k, limit: 100 })).filter((v) =>
              v.key.equals(k),
            );
            const target = versions[op.pick % Math.max(1, versions.length)];
            if (!target) continue;
            if (op.op === 'deleteVersion')
              await n.removeObject({ bucket: 'b', key: k, versionId: target.versionId, nowMs: seed });
            else if (!target.deleteMarker)
              await n.updateObjectAttributes({
                bucket: 'b',
                key: k,
                versionId: target.versionId,
                update: { tags: [{ key: 't', value: op.value }] },
                nowMs: seed,
              });
          }
          await monotonic(op.node, op.key);
          await capture(op.node, op.key);
        }
        // Anti-entropy: every key of either node, both ways.
        const [a, b] = nodes as [StorageNode, StorageNode];
        const keys = new Map<string, Buffer>();
        for (const n of nodes)
          for (const r of await n.scanKeys({ limit: 100 })) keys.set(r.key.toString('latin1'), r.key);
        for (const key of keys.values()) {
          await copyKey({ from: a, to: b, bucket: 'b', key });
          await copyKey({ from: b, to: a, bucket: 'b', key });
        }
        for (const key of keys.values()) {
          const sa = norm(await a.replicaStates('b', key));
          assert.deepEqual(norm(await b.replicaStates('b', key)), sa);
          for (const s of sa) {
            const want = model.get(unit(s));
            assert.ok(want, `${unit(s)} was produced by an operation`);
            assert.deepEqual(s.opver, want.opver, `${unit(s)}: the highest opver wins`);
            assert.equal(s.record === undefined, want.record === undefined, `${unit(s)}: present or removed`);
          }
          assert.deepEqual(
            new Set(sa.map(unit)),
            new Set([...model.keys()].filter((u) => u.startsWith(`${key.toString()}#`))),
          );
        }
        assert.deepEqual(
          await b.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 1000 }),
          await a.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 1000 }),
        );
        for (const v of await a.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 1000 })) {
          if (v.deleteMarker) continue;
          const read = async (n: StorageNode) => {
            const h = (await n.openObject('b', v.key, { versionId: v.versionId }))!;
            try {
              return await readAll(h.stream());
            } finally {
              h.release();
            }
          };
          assert.ok((await read(a)).equals(await read(b)));
        }
      } finally {
        for (const n of nodes) await n.close();
        for (const t of dirs) await t.remove();
      }
    }),
    { numRuns: 60, seed: Number(process.env.QUIRE_FC_SEED ?? 20261129) },
  );
});
