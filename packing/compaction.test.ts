// Compaction: low-live-ratio chunkfiles are rewritten, callers learn every move, data stays intact,
// and a compaction cut short (here: the onMoved callback fails mid-way) is rolled forward on open.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { EntryMoved, Location } from './types.ts';
import { Volume } from './volume.ts';

const OPTS = { durability: 'none' as const, chunkBytes: 32 * 1024, writeLanes: 1 };

async function fill(v: Volume, n: number) {
  const model = new Map<string, { loc: Location; data: Buffer }>();
  for (let i = 0; i < n; i++) {
    const data = bytesFor(i, 500 + ((i * 37) % 1500));
    const key = `k${i}`;
    const e = await v.put({
      key: Buffer.from(key),
      meta: Buffer.from('m'),
      opver: opver(i + 1),
      data,
      dataBytes: data.length,
    });
    model.set(key, { loc: e.location, data });
  }
  // Delete three of every four: most chunkfiles fall far below a 0.5 live ratio.
  let i = 0;
  for (const [key, e] of [...model]) {
    if (i++ % 4 !== 0) {
      await v.delete(e.loc);
      model.delete(key);
    }
  }
  return model;
}

function follow(model: Map<string, { loc: Location }>, m: EntryMoved): void {
  const e = model.get(m.key.toString());
  assert.ok(e, 'moved entries are live');
  assert.deepEqual(e.loc, m.from);
  e.loc = m.to;
}

describe('compaction', () => {
  test('rewrites sparse chunkfiles, reports moves and progress, shrinks the volume', async () => {
    const { dir, cleanup } = await tempDir('compact');
    try {
      const v = await newVolume(dir, OPTS);
      const model = await fill(v, 400);
      const before = v.stats();
      const events: EntryMoved[] = [];
      v.on('moved', (m: EntryMoved) => events.push(m));
      const progress: number[] = [];
      const report = await v.compact({
        bytesPerSecond: 50 * 1024 * 1024,
        onProgress: (p) => progress.push(p.filesDone),
      });
      for (const m of events) follow(model, m);
      const after = v.stats();
      assert.ok(report.filesDone >= 3, `compacted ${report.filesDone} files`);
      assert.equal(report.entriesMoved, events.length);
      assert.deepEqual(
        progress,
        Array.from({ length: report.filesDone }, (_, i) => i + 1),
      );
      assert.ok(after.diskBytes < before.diskBytes / 2, `disk ${before.diskBytes} → ${after.diskBytes}`);
      assert.equal(after.liveEntries, model.size);
      for (const e of model.values()) assert.deepEqual(await v.read(e.loc), e.data);
      await v.close();
      const v2 = await Volume.open(dir, OPTS);
      for (const e of model.values()) assert.deepEqual(await v2.read(e.loc), e.data);
      await v2.close();
    } finally {
      await cleanup();
    }
  });

  test('old locations keep working (forwarded) and deleting through one does not resurrect', async () => {
    const { dir, cleanup } = await tempDir('compact-fwd');
    try {
      const v = await newVolume(dir, OPTS);
      const model = await fill(v, 200);
      const oldLocs = new Map([...model].map(([k, e]) => [k, e.loc]));
      await v.compact();
      const [k0, k1] = [...model.keys()];
      assert.deepEqual(
        await v.read(oldLocs.get(k0!)!),
        model.get(k0!)!.data,
        'read through the old location',
      );
      await v.delete(oldLocs.get(k1!)!);
      model.delete(k1!);
      await v.closeUnclean();
      const v2 = await Volume.open(dir, OPTS);
      const keys: string[] = [];
      for await (const e of v2.scan()) keys.push(e.key.toString());
      assert.deepEqual(keys.sort(), [...model.keys()].sort());
      await v2.close();
    } finally {
      await cleanup();
    }
  });

  test('forwards of a retired file are forgotten once the caller says its old locations are unused', async () => {
    const { dir, cleanup } = await tempDir('compact-fwd-drop');
    try {
      let say!: () => void;
      let asked = 0;
      const unused = new Promise<void>((r) => {
        say = r;
      });
      const v = await newVolume(dir, {
        ...OPTS,
        forwardsUnused: () => {
          asked += 1;
          return unused;
        },
      });
      const model = await fill(v, 200);
      const oldLocs = new Map([...model].map(([k, e]) => [k, e.loc]));
      const report = await v.compact();
      assert.ok(report.entriesMoved > 0);
      assert.equal(asked, report.filesDone, 'asked once per retired file');
      assert.equal(v.forwardsHeld, report.entriesMoved, 'kept until the caller answers');
      const [k0] = [...model.keys()];
      assert.deepEqual(await v.read(oldLocs.get(k0!)!), model.get(k0!)!.data, 'still read through');
      say();
      await v.forwardsSettled();
      assert.equal(v.forwardsHeld, 0, 'forgotten once unused');
      await v.close();
    } finally {
      await cleanup();
    }
  });

  test('a compaction cut short is rolled forward on open and its moves are reported', async () => {
    const { dir, cleanup } = await tempDir('compact-crash');
    try {
      let moves = 0;
      const v = await newVolume(dir, {
        ...OPTS,
        onMoved: () => {
          moves += 1;
          if (moves === 3) throw new Error('caller crashed while recording a move');
        },
      });
      const model = await fill(v, 400);
      await assert.rejects(v.compact(), /caller crashed/);
      assert.ok(
        (await readdir(dir)).some((n) => n.startsWith('compact-')),
        'the marker stays',
      );
      await v.closeUnclean();
      const seen: EntryMoved[] = [];
      const v2 = await Volume.open(dir, { ...OPTS, onMoved: (m) => void seen.push(m) });
      assert.equal(v2.recovery.mode, 'scan');
      assert.ok(v2.recovery.moved.length >= 3, 'moves made before the crash and after are reported');
      assert.deepEqual(seen, v2.recovery.moved);
      assert.ok(!(await readdir(dir)).some((n) => n.startsWith('compact-')), 'the marker is gone');
      for (const m of v2.recovery.moved) {
        const e = model.get(m.key.toString())!;
        if (e.loc.fileId === m.from.fileId && e.loc.offset === m.from.offset) e.loc = m.to;
      }
      for (const [key, e] of model) assert.deepEqual(await v2.read(e.loc), e.data, key);
      assert.equal(v2.stats().liveEntries, model.size);
      await v2.close();
    } finally {
      await cleanup();
    }
  });

  test('a read in flight keeps its bytes while the entry is deleted and its space reused', async () => {
    const { dir, cleanup } = await tempDir('read-ref');
    try {
      const v = await newVolume(dir, OPTS);
      const data = bytesFor(1, 3000);
      const e = await v.put({
        key: Buffer.from('a'),
        meta: Buffer.alloc(0),
        opver: opver(1),
        data,
        dataBytes: 3000,
      });
      const reading = v.read(e.location);
      await v.delete(e.location);
      const other = bytesFor(2, 3000);
      await v.put({
        key: Buffer.from('b'),
        meta: Buffer.alloc(0),
        opver: opver(1),
        data: other,
        dataBytes: 3000,
      });
      assert.deepEqual(await reading, data);
      await v.close();
    } finally {
      await cleanup();
    }
  });

  test('a write lane file that filled halfway and is now mostly dead is compacted too', async () => {
    const { dir, cleanup } = await tempDir('compact-active');
    try {
      const v = await newVolume(dir, { ...OPTS, chunkBytes: 64 * 1024 });
      const locs: Location[] = [];
      for (let i = 0; i < 30; i++) {
        const data = bytesFor(i, 1500);
        const e = await v.put({
          key: Buffer.from(`a${i}`),
          meta: Buffer.alloc(0),
          opver: opver(i + 1),
          data,
          dataBytes: data.length,
        });
        locs.push(e.location);
      }
      assert.equal(v.stats().chunkfiles, 1, 'everything is in the one file the lane appends to');
      for (const l of locs.slice(1)) await v.delete(l);
      const moved: EntryMoved[] = [];
      v.on('moved', (m: EntryMoved) => moved.push(m));
      const r = await v.compact({ liveRatioBelow: 0.5 });
      assert.equal(r.filesDone, 1);
      assert.equal(moved.length, 1);
      assert.deepEqual(await v.read(moved[0]!.to), bytesFor(0, 1500));
      assert.ok(v.stats().diskBytes < 8 * 1024, `disk ${v.stats().diskBytes}`);
      await v.close();
    } finally {
      await cleanup();
    }
  });
});
