// Corruption: a flipped data byte, a flipped header byte and a chunkfile truncated mid-entry are each
// detected (typed error on read, reported by the recovery scan) while every other entry stays readable.
import assert from 'node:assert/strict';
import { open, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CorruptEntryError } from './errors.ts';
import { chunkFileName } from './layout.ts';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { StoredEntry } from './types.ts';
import { Volume } from './volume.ts';

const OPTS = { durability: 'none' as const, writeLanes: 1 };

async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0x40;
  await fh.write(b, 0, 1, at);
  await fh.close();
}

async function setup(tag: string) {
  const t = await tempDir(tag);
  const v = await newVolume(t.dir, OPTS);
  const entries: StoredEntry[] = [];
  const datas: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const data = bytesFor(i + 1, 700 + 300 * i);
    datas.push(data);
    entries.push(
      await v.put({
        key: Buffer.from(`key-${i}`),
        meta: Buffer.from('meta'),
        opver: opver(1),
        data,
        dataBytes: data.length,
      }),
    );
  }
  await v.close();
  const file = join(t.dir, chunkFileName(entries[0]!.location.fileId));
  return { ...t, entries, datas, file };
}

/** Opens the volume, checks `bad` fails typed and the others read back; then the same after a full scan. */
async function checkDetected(dir: string, entries: StoredEntry[], datas: Buffer[], bad: number) {
  for (const mode of ['summary', 'scan'] as const) {
    if (mode === 'scan') await rm(join(dir, 'summary.qs'), { force: true });
    const v = await Volume.open(dir, OPTS);
    assert.equal(v.recovery.mode, mode);
    await assert.rejects(v.read(entries[bad]!.location), (err: unknown) => {
      assert.ok(err instanceof CorruptEntryError || (err as { code?: string }).code === 'ENTRY_NOT_FOUND');
      return true;
    });
    for (let i = 0; i < entries.length; i++) {
      if (i !== bad) assert.deepEqual(await v.read(entries[i]!.location), datas[i], `entry ${i} (${mode})`);
    }
    if (mode === 'scan') {
      assert.ok(v.recovery.corrupt.length >= 1, 'the scan reports the corrupt region');
      const r = v.recovery.corrupt[0]!;
      assert.equal(r.offset, entries[bad]!.location.offset, 'reported at the entry');
      const keys: string[] = [];
      for await (const e of v.scan()) keys.push(e.key.toString());
      assert.deepEqual(
        keys.sort(),
        entries.map((_, i) => `key-${i}`).filter((k) => k !== `key-${bad}`),
      );
    }
    await v.close();
  }
}

describe('corruption is detected, reported and contained', () => {
  test('one flipped byte in a data region', async () => {
    const s = await setup('flip-data');
    try {
      const loc = s.entries[2]!.location;
      await flipByte(s.file, loc.offset + 64 + 'key-2'.length + 4 + 100);
      const v = await Volume.open(s.dir, OPTS);
      const err = await v.read(loc).catch((e: unknown) => e);
      assert.ok(err instanceof CorruptEntryError);
      assert.deepEqual(err.location, loc);
      assert.match(err.reason, /data checksum/);
      await v.close();
      await checkDetected(s.dir, s.entries, s.datas, 2);
    } finally {
      await s.cleanup();
    }
  });

  test('one flipped byte in an entry header', async () => {
    const s = await setup('flip-header');
    try {
      const loc = s.entries[3]!.location;
      await flipByte(s.file, loc.offset + 20);
      const v = await Volume.open(s.dir, OPTS);
      const err = await v.read(loc).catch((e: unknown) => e);
      assert.ok(err instanceof CorruptEntryError);
      assert.match(err.reason, /header/);
      await v.close();
      await checkDetected(s.dir, s.entries, s.datas, 3);
    } finally {
      await s.cleanup();
    }
  });

  test('a chunkfile truncated in the middle of its last entry', async () => {
    const s = await setup('truncate');
    try {
      const last = s.entries[5]!.location;
      await truncate(s.file, last.offset + 64 + 200);
      await checkDetected(s.dir, s.entries, s.datas, 5);
    } finally {
      await s.cleanup();
    }
  });
});
