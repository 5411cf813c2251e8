// Property test: random put / replace (smaller, same, larger) / delete / compact / reopen sequences,
// checked against an in-memory model after every step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { EntryMoved, Location, OpenVolumeOptions } from './types.ts';
import { Volume } from './volume.ts';

type Op =
  | { t: 'put'; k: number; size: number }
  | { t: 'replace'; k: number; how: 'smaller' | 'same' | 'larger' }
  | { t: 'delete'; k: number }
  | { t: 'compact' }
  | { t: 'reopen'; clean: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('put' as const),
      k: fc.nat(30),
      size: fc.oneof(fc.nat(3000), fc.integer({ min: 8000, max: 20000 })),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('replace' as const),
      k: fc.nat(30),
      how: fc.constantFrom('smaller' as const, 'same' as const, 'larger' as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), k: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), clean: fc.boolean() }) },
);

interface ModelEntry {
  data: Buffer;
  loc: Location;
  ver: number;
}

async function runSequence(ops: Op[], seed: number): Promise<void> {
  const { dir, cleanup } = await tempDir('model');
  const model = new Map<number, ModelEntry>();
  const onMoved = (m: EntryMoved) => {
    const e = model.get(Number(m.key.toString()));
    if (e && e.loc.fileId === m.from.fileId && e.loc.offset === m.from.offset && e.loc.kind === m.from.kind)
      e.loc = m.to;
  };
  const opts: OpenVolumeOptions = {
    durability: 'none',
    chunkBytes: 16 * 1024,
    smallObjectMaxBytes: 8192,
    writeLanes: 2,
    onMoved,
  };
  let v = await newVolume(dir, opts);
  let counter = 0;
  try {
    for (const op of ops) {
      counter += 1;
      const key = Buffer.from(String('k' in op ? op.k : 0));
      if (op.t === 'put' || op.t === 'replace') {
        const prev = model.get(Number(key));
        if (op.t === 'replace' && !prev) continue;
        let size = op.t === 'put' ? op.size : prev!.data.length;
        if (op.t === 'replace')
          size = op.how === 'smaller' ? Math.floor(size / 2) : op.how === 'larger' ? size + 700 : size;
        const data = bytesFor(seed * 1000 + counter, size);
        const e = await v.put({
          key,
          meta: Buffer.from(`m${counter}`),
          opver: opver(counter),
          data,
          dataBytes: size,
          replaces: prev?.loc,
        });
        model.set(Number(key), { data, loc: e.location, ver: counter });
      } else if (op.t === 'delete') {
        const prev = model.get(Number(key));
        if (!prev) continue;
        await v.delete(prev.loc);
        model.delete(Number(key));
      } else if (op.t === 'compact') {
        const r = await v.compact({ liveRatioBelow: 0.9 });
        if (process.env.MODEL_DEBUG) console.log('compact', r.filesDone, r.entriesMoved, v.stats().holeCount);
      } else {
        if (op.clean) await v.close();
        else await v.closeUnclean();
        v = await Volume.open(dir, opts);
        assert.equal(v.recovery.corrupt.length, 0, 'no corruption after a reopen');
        const seen = new Map<number, Location>();
        for await (const e of v.scan()) seen.set(Number(e.key.toString()), e.location);
        assert.deepEqual(
          [...seen.keys()].sort(),
          [...model.keys()].sort(),
          'scan yields exactly the live keys',
        );
        for (const [k, loc] of seen) model.get(k)!.loc = loc;
      }
      for (const [k, e] of model) {
        assert.deepEqual(await v.read(e.loc), e.data, `key ${k} after op ${counter} ${op.t}`);
        const head = await v.readEntry(e.loc);
        assert.equal(head.opver.counter, BigInt(e.ver));
      }
      const st = v.stats();
      assert.equal(st.liveEntries, model.size, `live count after op ${counter} ${op.t}`);
      let dataBytes = 0;
      for (const e of model.values()) dataBytes += e.data.length;
      assert.equal(st.liveDataBytes, dataBytes, 'live data bytes');
    }
  } finally {
    await v.close().catch(() => undefined);
    await cleanup();
  }
}

test('volume matches an in-memory model under random operation sequences', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 60 }), fc.nat(1000), (ops, seed) =>
      runSequence(ops, seed),
    ),
    { numRuns: Number(process.env.MODEL_RUNS ?? 40) },
  );
});
