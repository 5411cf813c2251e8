// Property test: random sequences of puts, deletes, version removals and versioning-state changes against a
// small model of S3 versioning. After every sequence the node's ListObjectVersions, HEAD/GET (current and by
// id) and ListObjectsV2 must match the model, and again after the index is thrown away and rebuilt.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { VersioningMode } from './api.ts';
import { StorageNode } from './node.ts';
import { bytes, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

type Op =
  | { op: 'put'; key: string; size: number }
  | { op: 'delete'; key: string }
  | { op: 'deleteVersion'; key: string; pick: number }
  | { op: 'state'; to: 'enabled' | 'suspended' }
  | { op: 'tag'; key: string; pick: number; value: string };

interface ModelVersion {
  id: string;
  size: number;
  dm: boolean;
  seed: number;
  tag?: string;
}

const KEYS = ['a', 'a/b', 'b'];
const SMALL = 2048;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('put' as const),
      key: fc.constantFrom(...KEYS),
      size: fc.constantFrom(0, 10, 3000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('deleteVersion' as const),
      key: fc.constantFrom(...KEYS),
      pick: fc.nat(9),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('state' as const),
      to: fc.constantFrom('enabled' as const, 'suspended' as const),
    }),
  },
);

/** Applies one op to the node and the model (newest version first per key). */
async function apply(
  node: StorageNode,
  model: Map<string, ModelVersion[]>,
  mode: { v: VersioningMode },
  op: Op,
  seed: number,
): Promise<void> {
  if (op.op === 'state') {
    mode.v = op.to;
    return;
  }
  const list = model.get(op.key) ?? [];
  const k = Buffer.from(op.key);
  if (op.op === 'put') {
    const r = await node.putObject(putInput('b', k, bytes(op.size, seed), { versioning: mode.v }));
    const next = mode.v === 'enabled' ? list : list.filter((v) => v.id !== 'null');
    assert.equal(r.versionId === 'null', mode.v !== 'enabled');
    model.set(op.key, [{ id: r.versionId, size: op.size, dm: false, seed }, ...next]);
  } else if (op.op === 'delete') {
    const r = await node.removeObject({ bucket: 'b', key: k, versioning: mode.v, nowMs: seed });
    if (mode.v === 'unversioned') {
      assert.equal(r.existed, list.length > 0);
      model.set(op.key, []);
    } else {
      assert.equal(r.deleteMarker, true);
      const next = mode.v === 'enabled' ? list : list.filter((v) => v.id !== 'null');
      model.set(op.key, [{ id: r.versionId!, size: 0, dm: true, seed }, ...next]);
    }
  } else if (op.op === 'tag') {
    // Attributes change in place: same id, same position, new opver.
    const target = list[op.pick % Math.max(1, list.length)];
    if (!target || target.dm) return;
    const r = await node.updateObjectAttributes({
      bucket: 'b',
      key: k,
      versionId: target.id,
      update: { tags: [{ key: 't', value: op.value }] },
      nowMs: seed,
    });
    assert.equal(r.versionId, target.id);
    target.tag = op.value;
  } else {
    const target = list[op.pick % Math.max(1, list.length)];
    const id = target?.id ?? 'null';
    const r = await node.removeObject({ bucket: 'b', key: k, versionId: id, nowMs: seed });
    assert.equal(r.existed, target !== undefined);
    model.set(
      op.key,
      list.filter((v) => v.id !== id),
    );
  }
}

async function check(node: StorageNode, model: Map<string, ModelVersion[]>): Promise<void> {
  const want: unknown[] = [];
  for (const key of [...model.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))))
    for (const [i, v] of model.get(key)!.entries()) want.push([key, v.id, i === 0, v.dm, v.size]);
  const got = (await node.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 1000 })).map((v) => [
    v.key.toString(),
    v.versionId,
    v.isLatest,
    v.deleteMarker,
    v.size,
  ]);
  assert.deepEqual(got, want);
  // Paged one entry at a time, the same sequence.
  const paged: unknown[] = [];
  let cursor: { afterKey?: Buffer; afterVersionId?: string } = {};
  for (;;) {
    const [v] = await node.listObjectVersions('b', { prefix: Buffer.alloc(0), ...cursor, limit: 1 });
    if (!v) break;
    paged.push([v.key.toString(), v.versionId, v.isLatest, v.deleteMarker, v.size]);
    cursor = { afterKey: v.key, afterVersionId: v.versionId };
  }
  assert.deepEqual(paged, want);
  const live: string[] = [];
  for (const [key, versions] of model) {
    const cur = versions[0];
    const head = await node.headObject('b', Buffer.from(key));
    assert.equal(head?.versionId, cur?.id, `current version of ${key}`);
    assert.equal(head?.deleteMarker === true, cur?.dm === true);
    if (cur && !cur.dm) live.push(key);
    for (const v of versions) {
      const h = await node.openObject('b', Buffer.from(key), { versionId: v.id });
      assert.ok(h, `${key} ${v.id} opens`);
      assert.equal(h.record.deleteMarker === true, v.dm);
      assert.deepEqual(h.record.tags, v.tag ? [{ key: 't', value: v.tag }] : undefined);
      if (!v.dm) assert.deepEqual(await readAll(h.stream()), bytes(v.size, v.seed));
      h.release();
    }
  }
  const listed = (await node.listObjects('b', { prefix: Buffer.alloc(0), limit: 1000 })).map((o) =>
    o.key.toString(),
  );
  assert.deepEqual(
    listed,
    live.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
  );
  assert.equal(
    await node.hasObjects('b'),
    [...model.values()].some((v) => v.length > 0),
  );
}

test('versions against a model: random puts, deletes, version removals, suspend/enable; then a rebuild', {
  timeout: 300_000,
}, async () => {
  const { opener } = testOpener();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const t = await tempDir('quire-vmodel-');
      const opts = {
        dataDir: t.dir,
        nodeId: 2,
        volumes: volumeSpecs(t.dir, 1),
        volumeOpener: opener,
        smallObjectMaxBytes: SMALL,
        durability: 'none' as const,
      };
      try {
        let node = await StorageNode.open(opts);
        const model = new Map<string, ModelVersion[]>();
        const mode = { v: 'unversioned' as VersioningMode };
        let seed = 1;
        for (const op of ops) await apply(node, model, mode, op, seed++);
        await check(node, model);
        await node.close();
        await rm(join(t.dir, 'index'), { recursive: true, force: true });
        node = await StorageNode.open(opts);
        await check(node, model);
        await node.close();
      } finally {
        await t.remove();
      }
    }),
    { numRuns: 150, seed: Number(process.env.QUIRE_FC_SEED ?? 20261129) },
  );
});
