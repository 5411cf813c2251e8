// The singlefile writer coalesces incoming chunks into 1 MiB writes with one in flight and syncs in
// the background every 16 MiB: bytes must come back exactly, whatever the chunk sizes.
import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CorruptEntryError } from './errors.ts';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';

async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    // A copy, reused by nobody: the writer must not keep a reference it relies on later.
    yield Buffer.from(data.subarray(at, at + n));
    at += n;
  }
}

test('a 20 MiB singlefile streamed in odd chunk sizes reads back exactly (durable)', async () => {
  const { dir, cleanup } = await tempDir('single-write');
  try {
    const v = await newVolume(dir);
    const data = bytesFor(7, 20 * 1024 * 1024 + 12345);
    const e = await v.put({
      key: Buffer.from('big'),
      meta: Buffer.from('m'),
      opver: opver(1),
      data: pieces(data, [100_003, 1, 3 * 1024 * 1024 + 5, 65_536]),
      dataBytes: data.length,
    });
    const parts: Buffer[] = [];
    for await (const p of v.openRead(e.location)) parts.push(p as Buffer);
    assert.ok(Buffer.concat(parts).equals(data));
    assert.ok(
      (await v.read(e.location, { start: 5_000_000, end: 5_000_099 })).equals(
        data.subarray(5_000_000, 5_000_100),
      ),
    );
    await v.close();
  } finally {
    await cleanup();
  }
});

test('a body that fails midway leaves no singlefile and no write running', async () => {
  const { dir, cleanup } = await tempDir('single-fail');
  try {
    const v = await newVolume(dir);
    const data = bytesFor(8, 3 * 1024 * 1024);
    async function* failing(): AsyncGenerator<Buffer> {
      yield* pieces(data.subarray(0, 2 * 1024 * 1024 + 7), [65_536]);
      throw new Error('client went away');
    }
    await assert.rejects(
      v.put({
        key: Buffer.from('x'),
        meta: Buffer.alloc(0),
        opver: opver(1),
        data: failing(),
        dataBytes: data.length,
      }),
      /client went away/,
    );
    assert.equal(v.stats().singlefiles, 0);
    await v.close();
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith('s-') && !n.endsWith('.tmp')),
      [],
    );
  } finally {
    await cleanup();
  }
});

test('a flipped data byte in a small singlefile (one-read path) is never returned', async () => {
  const { dir, cleanup } = await tempDir('single-corrupt');
  try {
    const v = await newVolume(dir);
    const data = bytesFor(9, 1024 * 1024 + 100);
    const e = await v.put({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(1),
      data,
      dataBytes: data.length,
    });
    assert.ok((await v.read(e.location)).equals(data));
    const path = join(dir, (await readdir(dir)).find((n) => n.startsWith('s-'))!);
    const fh = await open(path, 'r+');
    const at = (await fh.stat()).size - 4 * 2 - 50; // inside the second (short) block
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
    await assert.rejects(v.read(e.location), CorruptEntryError);
    await assert.rejects(
      v.read(e.location, { start: 1024 * 1024, end: 1024 * 1024 + 99 }),
      CorruptEntryError,
    );
    // The first block is intact and still served on its own.
    assert.ok((await v.read(e.location, { start: 0, end: 99 })).equals(data.subarray(0, 100)));
    await v.close();
  } finally {
    await cleanup();
  }
});

test('a singlefile whose data stream breaks leaves no temp file; one being written counts against the maximum', {
  timeout: 30_000,
}, async () => {
  const { dir, cleanup } = await tempDir('single-abort');
  try {
    const v = await newVolume(dir, { maxBytes: 12 * 1024 * 1024, durability: 'none' });
    const data = bytesFor(3, 8 * 1024 * 1024);
    // The first upload stops after 3 MiB until `fail` is called, then its stream errors (client gone).
    let fail!: (err: Error) => void;
    const broken = new Promise<never>((_, reject) => {
      fail = reject;
    });
    let started!: () => void;
    const midway = new Promise<void>((r) => {
      started = r;
    });
    async function* stalls(): AsyncGenerator<Buffer> {
      yield data.subarray(0, 3 * 1024 * 1024);
      started();
      yield await broken;
    }
    const first = v.put({
      key: Buffer.from('a'),
      meta: Buffer.alloc(0),
      opver: opver(1),
      data: stalls(),
      dataBytes: data.length,
    });
    first.catch(() => undefined);
    await midway;
    assert.ok(
      (await readdir(dir)).some((n) => n.endsWith('.qf.tmp')),
      'the first upload is being written',
    );
    // 8 MiB in flight + 8 MiB more would pass the 12 MiB maximum.
    await assert.rejects(
      v.put({ key: Buffer.from('b'), meta: Buffer.alloc(0), opver: opver(2), data, dataBytes: data.length }),
      (err: Error) => err.name === 'VolumeFullError',
    );
    fail(new Error('client went away'));
    await assert.rejects(first, /client went away/);
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
      [],
    );
    // Its space is free again.
    await v.put({
      key: Buffer.from('b'),
      meta: Buffer.alloc(0),
      opver: opver(2),
      data,
      dataBytes: data.length,
    });
    await v.close();
  } finally {
    await cleanup();
  }
});

test('a small singlefile of several blocks is read as one verified piece, whole or in ranges', async () => {
  const { dir, cleanup } = await tempDir('single-whole');
  try {
    const v = await newVolume(dir);
    const data = bytesFor(9, 2 * 1024 * 1024 + 777);
    const e = await v.put({
      key: Buffer.from('mid'),
      meta: Buffer.from('m'),
      opver: opver(1),
      data,
      dataBytes: data.length,
    });
    const parts: Buffer[] = [];
    for await (const p of v.openRead(e.location)) parts.push(p as Buffer);
    // One piece: the caller does not join (copy) per-block pieces of a body read with one read anyway.
    assert.equal(parts.length, 1);
    assert.ok(parts[0]!.equals(data));
    for (const [start, end] of [
      [0, data.length - 1],
      [1024 * 1024 - 3, 1024 * 1024 + 3],
      [5, 2 * 1024 * 1024 + 100],
      [data.length - 10, data.length - 1],
    ] as const) {
      assert.ok(
        (await v.read(e.location, { start, end })).equals(data.subarray(start, end + 1)),
        `${start}-${end}`,
      );
    }
    await v.close();
  } finally {
    await cleanup();
  }
});
