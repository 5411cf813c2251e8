// Property test of upload replication against a model: random creates, parts, aborts and completions on two real
// nodes, their upload states (upload, parts with their bytes, tombstones) delivered to the other node in random
// order and duplicated, then a full copy both ways. Both nodes end with the same upload states, equal to the model:
// an upload removed on either node is a tombstone at the highest removal opver and nothing else of it; every
// other unit is at the highest opver either node produced. No node ever brings a removed upload back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StorageNode } from './node.ts';
import { compareOpver } from './records.ts';
import type { UploadState } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, md5, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 4096;
const KEYS = ['a', 'b'];

type Op =
  | { op: 'create'; node: number; key: string }
  | { op: 'part'; node: number; pick: number; part: number; size: number }
  | { op: 'abort'; node: number; pick: number }
  | { op: 'complete'; node: number; pick: number }
  | { op: 'deliver'; pick: number; keep: boolean };

const nodeArb = fc.constantFrom(0, 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('create' as const),
      node: nodeArb,
      key: fc.constantFrom(...KEYS),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('part' as const),
      node: nodeArb,
      pick: fc.nat(3),
      part: fc.constantFrom(1, 2, 3),
      size: fc.constantFrom(0, 10, 3000, 9000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), node: nodeArb, pick: fc.nat(9) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('complete' as const), node: nodeArb, pick: fc.nat(9) }),
  },
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(1000), keep: fc.boolean() }),
  },
);

const unit = (s: UploadState) => `${s.key.toString()}#${s.uploadId}#${s.partNumber ?? 'u'}`;
const removedUnit = (s: UploadState) => s.partNumber === undefined && !s.upload;

function norm(states: UploadState[]) {
  return [...states].sort((x, y) => (unit(x) < unit(y) ? -1 : unit(x) > unit(y) ? 1 : 0));
}

interface Shipped {
  to: number;
  state: UploadState;
  body?: Buffer;
}

test('two nodes exchanging upload states in any order, duplicated, converge to the model', {
  timeout: 600_000,
}, async () => {
  const { opener } = testOpener();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const dirs = [await tempDir('quire-umodel-a-'), await tempDir('quire-umodel-b-')];
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
              minPartBytes: 0,
              durability: 'none',
              tombstonePurgeIntervalMs: 0,
            }),
          );
        const uploads: Array<{ key: string; id: string }> = [];
        const pool: Shipped[] = [];
        /** Per unit: the state with the highest opver any node produced. */
        const model = new Map<string, UploadState>();
        /** Uploads some node removed: nothing of them but their tombstone may show anywhere again. */
        const removed = new Set<string>();
        let seed = 1;
        /** Per node: the uploads it has held a tombstone of. */
        const gone = [new Set<string>(), new Set<string>()];
        const noResurrection = async (at: number, key: string) => {
          const now = await nodes[at]!.uploadStates('b', Buffer.from(key));
          for (const s of now) if (removedUnit(s)) gone[at]!.add(s.uploadId);
          for (const s of now)
            if (gone[at]!.has(s.uploadId))
              assert.ok(removedUnit(s), `node ${at} brought ${unit(s)} of a removed upload back`);
        };
        const capture = async (from: number, key: string) => {
          const n = nodes[from]!;
          for (const s of await n.uploadStates('b', Buffer.from(key))) {
            const best = model.get(unit(s));
            if (!best || compareOpver(s.opver, best.opver) > 0) model.set(unit(s), s);
            if (removedUnit(s)) removed.add(s.uploadId);
            let body: Buffer | undefined;
            if (s.part && s.part.size > 0) {
              const h = await n.openPart('b', s.key, s.uploadId, s.partNumber!);
              assert.ok(h);
              body = await readAll(h.stream());
              h.release();
            }
            pool.push({ to: 1 - from, state: s, ...(body ? { body } : {}) });
          }
        };
        for (const op of ops) {
          seed++;
          if (op.op === 'deliver') {
            if (pool.length === 0) continue;
            const i = op.pick % pool.length;
            const s = pool[i]!;
            if (!op.keep) pool.splice(i, 1);
            const body = s.body;
            try {
              await nodes[s.to]!.applyUpload({
                state: s.state,
                ...(body
                  ? {
                      body: (async function* () {
                        yield body;
                      })(),
                    }
                  : {}),
              });
            } catch (err) {
              // A part ahead of its upload is refused; it comes again with the full copy.
              assert.equal((err as { code?: string }).code, 'NoSuchUpload');
              assert.ok(s.state.partNumber !== undefined);
            }
            await noResurrection(s.to, s.state.key.toString());
            continue;
          }
          const n = nodes[op.node]!;
          if (op.op === 'create') {
            const id = await n.createUpload('b', Buffer.from(op.key), { userMeta: {} }, seed);
            uploads.push({ key: op.key, id });
            await capture(op.node, op.key);
            continue;
          }
          const u = uploads[op.pick % Math.max(1, uploads.length)];
          if (!u) continue;
          const k = Buffer.from(u.key);
          const held = await n.listParts('b', k, u.id, { afterPart: 0, limit: 100 }).catch(() => undefined);
          if (!held) continue; // this node does not hold it (not delivered yet, or removed)
          if (op.op === 'part') {
            const data = bytes(op.size, seed);
            await n.uploadPart({
              bucket: 'b',
              key: k,
              uploadId: u.id,
              partNumber: op.part,
              size: data.length,
              body: (async function* () {
                yield data;
              })(),
              finish: async () => ({ etag: md5(data), checksums: {} }),
              nowMs: seed,
            });
          } else if (op.op === 'abort') await n.abortUpload('b', k, u.id);
          else {
            if (held.parts.length === 0) continue;
            await n.completeUpload(
              'b',
              k,
              u.id,
              held.parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
              seed,
            );
          }
          await capture(op.node, u.key);
          await noResurrection(op.node, u.key);
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
          const sa = norm(await a.uploadStates('b', key));
          assert.deepEqual(norm(await b.uploadStates('b', key)), sa);
          const want = [...model.values()].filter(
            (s) => s.key.equals(key) && (!removed.has(s.uploadId) || removedUnit(s)),
          );
          assert.deepEqual(
            sa.map((s) => [unit(s), s.opver]),
            norm(want).map((s) => [unit(s), s.opver]),
          );
          // Parts read back the same on both nodes.
          for (const s of sa.filter((x) => x.part && x.part.size > 0)) {
            const read = async (n: StorageNode) => {
              const h = (await n.openPart('b', key, s.uploadId, s.partNumber!))!;
              try {
                return await readAll(h.stream());
              } finally {
                h.release();
              }
            };
            const got = await read(a);
            assert.equal(md5(got), s.part!.etag);
            assert.ok(got.equals(await read(b)));
          }
        }
      } finally {
        for (const n of nodes) await n.close();
        for (const t of dirs) await t.remove();
      }
    }),
    { numRuns: 100, seed: Number(process.env.QUIRE_FC_SEED ?? 20261130) },
  );
});
