import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CorruptEntryError, EntryNotFoundError, VolumeFullError } from './errors.ts';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import { Volume } from './volume.ts';

describe('Volume basics', () => {
  test('put, read, range, readEntry, replace (smaller/same/larger), delete, reopen', async () => {
    const { dir, cleanup } = await tempDir('basic');
    try {
      const v = await newVolume(dir, { durability: 'none' });
      const a = bytesFor(1, 3000);
      const e1 = await v.put({
        key: Buffer.from('a'),
        meta: Buffer.from('m1'),
        opver: opver(1),
        data: a,
        dataBytes: a.length,
      });
      assert.deepEqual(await v.read(e1.location), a);
      assert.deepEqual(await v.read(e1.location, { start: 10, end: 19 }), a.subarray(10, 20));
      const head = await v.readEntry(e1.location);
      assert.equal(head.key.toString(), 'a');
      assert.equal(head.meta.toString(), 'm1');
      let loc = e1.location;
      for (const [i, size] of [3000, 2000, 3000, 5000, 5000, 100].entries()) {
        const d = bytesFor(10 + i, size);
        const e = await v.put({
          key: Buffer.from('a'),
          meta: Buffer.alloc(0),
          opver: opver(2 + i),
          data: d,
          dataBytes: size,
          replaces: loc,
        });
        assert.deepEqual(await v.read(e.location), d);
        loc = e.location;
      }
      const b = bytesFor(2, 100);
      const eb = await v.put({
        key: Buffer.from('b'),
        meta: Buffer.alloc(0),
        opver: opver(1),
        data: b,
        dataBytes: 100,
      });
      await v.delete(eb.location);
      await assert.rejects(v.read(eb.location), EntryNotFoundError);
      await v.close();
      const v2 = await Volume.open(dir, { durability: 'none' });
      assert.equal(v2.recovery.mode, 'summary');
      const all = [];
      for await (const e of v2.scan()) all.push(e);
      assert.equal(all.length, 1);
      assert.deepEqual(await v2.read(all[0]!.location), bytesFor(15, 100));
      assert.equal(v2.stats().liveEntries, 1);
      await v2.close();
    } finally {
      await cleanup();
    }
  });

  test('adaptive slack: same-size replacements alternate in place after the first move', async () => {
    const { dir, cleanup } = await tempDir('pingpong');
    try {
      const v = await newVolume(dir, { durability: 'none' });
      const key = Buffer.from('k');
      let e = await v.put({
        key,
        meta: Buffer.alloc(0),
        opver: opver(1),
        data: bytesFor(1, 1000),
        dataBytes: 1000,
      });
      const first = e.location;
      e = await v.put({
        key,
        meta: Buffer.alloc(0),
        opver: opver(2),
        data: bytesFor(2, 1000),
        dataBytes: 1000,
        replaces: e.location,
      });
      assert.notDeepEqual(e.location, first, 'first replacement moves to a slot with slack');
      const slot = e.location;
      for (let i = 3; i < 10; i++) {
        e = await v.put({
          key,
          meta: Buffer.alloc(0),
          opver: opver(i),
          data: bytesFor(i, 1000),
          dataBytes: 1000,
          replaces: e.location,
        });
        assert.deepEqual(e.location, slot, 'later replacements stay in place');
        assert.deepEqual(await v.read(e.location), bytesFor(i, 1000));
      }
      await v.close();
    } finally {
      await cleanup();
    }
  });

  test('large objects are streamed singlefiles with verified ranges', async () => {
    const { dir, cleanup } = await tempDir('single');
    try {
      const v = await newVolume(dir, { durability: 'none', smallObjectMaxBytes: 64 * 1024 });
      const data = bytesFor(7, 3 * 1024 * 1024 + 123);
      async function* chunks() {
        for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
      }
      const e = await v.put({
        key: Buffer.from('big'),
        meta: Buffer.from('x'),
        opver: opver(1),
        data: chunks(),
        dataBytes: data.length,
      });
      assert.equal(e.location.kind, 'single');
      assert.deepEqual(await v.read(e.location), data);
      const parts: Buffer[] = [];
      for await (const p of v.openRead(e.location, { start: 1_048_000, end: 2_100_000 }))
        parts.push(p as Buffer);
      assert.deepEqual(Buffer.concat(parts), data.subarray(1_048_000, 2_100_001));
      const small = bytesFor(8, 10);
      const e2 = await v.put({
        key: Buffer.from('big'),
        meta: Buffer.alloc(0),
        opver: opver(2),
        data: small,
        dataBytes: 10,
        replaces: e.location,
      });
      assert.deepEqual(await v.read(e2.location), small);
      assert.equal(v.stats().singlefiles, 0);
      await v.close();
    } finally {
      await cleanup();
    }
  });

  test('full volume refuses with VolumeFullError', async () => {
    const { dir, cleanup } = await tempDir('full');
    try {
      const v = await newVolume(dir, { durability: 'none', maxBytes: 64 * 1024 });
      let err: unknown;
      try {
        for (let i = 0; i < 100; i++) {
          await v.put({
            key: Buffer.from(`k${i}`),
            meta: Buffer.alloc(0),
            opver: opver(1),
            data: bytesFor(i, 4000),
            dataBytes: 4000,
          });
        }
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof VolumeFullError);
      assert.ok(v.stats().diskBytes <= 64 * 1024);
      await v.close();
    } finally {
      await cleanup();
    }
  });

  test('CorruptEntryError is exported as a typed error', () => {
    assert.equal(typeof CorruptEntryError, 'function');
  });
});
