import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { Binlog, type BinlogRecord } from './binlog.ts';
import { Writer } from './codec.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'quire-binlog-'));
  dirs.push(d);
  return d;
}

const OPS = [
  'insert',
  'replace',
  'delete',
  'upload-create',
  'upload-part',
  'upload-complete',
  'upload-abort',
] as const;

function rec(i: number, keyBytes = 3): BinlogRecord {
  const op = OPS[i % OPS.length]!;
  const r: BinlogRecord = {
    op,
    bucket: 'b',
    key: Buffer.alloc(keyBytes, i & 0xff),
    opver: { counter: BigInt(i), nodeId: 7 },
    size: i * 10,
  };
  if (op.startsWith('upload-')) r.uploadId = `u${i}`;
  if (op === 'upload-part') r.partNumber = (i % 10000) + 1;
  return r;
}

async function readAll(log: Binlog, from?: { file: number; offset: number }): Promise<BinlogRecord[]> {
  const out: BinlogRecord[] = [];
  for await (const { record } of log.readFrom(from)) out.push(record);
  return out;
}

describe('binlog', () => {
  test('records of every op round-trip, group-committed, and survive reopen', async () => {
    const dir = await tempDir();
    let log = await Binlog.open({ dir });
    const want = Array.from({ length: 200 }, (_, i) => rec(i));
    await Promise.all(want.map((r) => log.append(r)));
    assert.deepEqual(await readAll(log), want);
    await log.close();
    log = await Binlog.open({ dir });
    assert.deepEqual(await readAll(log), want);
    await log.close();
  });

  test('rotates by size and readFrom resumes from any returned position', async () => {
    const dir = await tempDir();
    const log = await Binlog.open({ dir, maxFileBytes: 1000 });
    const want = Array.from({ length: 100 }, (_, i) => rec(i));
    for (const r of want) await log.append(r);
    const files = (await readdir(dir)).filter((n) => n.endsWith('.log'));
    assert.ok(files.length > 3, `expected rotation, got ${files.length} file(s)`);
    const positions: Array<{ file: number; offset: number }> = [];
    for await (const { next } of log.readFrom()) positions.push(next);
    assert.equal(positions.length, 100);
    const mid = positions[41]!;
    assert.deepEqual(await readAll(log, mid), want.slice(42));
    await log.close();
  });

  test('readFrom streams: records straddling its read chunks come out whole', async () => {
    const dir = await tempDir();
    const log = await Binlog.open({ dir, durability: 'none' });
    // ~1.1 KiB records: 600 of them cross the 256 KiB read chunks at odd offsets.
    const want = Array.from({ length: 600 }, (_, i) => rec(i, 1024 + (i % 7)));
    await Promise.all(want.map((r) => log.append(r)));
    assert.deepEqual(await readAll(log), want);
    await log.close();
  });

  test('a torn tail after a crash is discarded and appends continue after it', async () => {
    const dir = await tempDir();
    let log = await Binlog.open({ dir });
    for (let i = 0; i < 10; i++) await log.append(rec(i));
    await log.close();
    const file = join(dir, 'binlog-00000001.log');
    const goodBytes = (await stat(file)).size;
    // Half a frame, as a kill -9 in the middle of a write would leave.
    await appendFile(file, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 1, 0]));
    log = await Binlog.open({ dir });
    assert.equal((await stat(file)).size, goodBytes);
    assert.equal((await readAll(log)).length, 10);
    await log.append(rec(10));
    assert.deepEqual(
      await readAll(log),
      Array.from({ length: 11 }, (_, i) => rec(i)),
    );
    await log.close();
  });

  test('an unsettled record holds back readFrom until settled; later ones wait behind it', async () => {
    const dir = await tempDir();
    const log = await Binlog.open({ dir });
    await log.append(rec(0));
    const t1 = log.begin(rec(1));
    const t2 = log.begin(rec(2));
    await Promise.all([t1.durable, t2.durable]);
    log.settle(t2);
    assert.deepEqual(await readAll(log), [rec(0)], 'nothing past the first unsettled record');
    const unconfirmed: BinlogRecord[] = [];
    for await (const { record } of log.readFrom(undefined, { unconfirmed: true })) unconfirmed.push(record);
    assert.equal(unconfirmed.length, 3, 'recovery sees the durable tail');
    log.settle(t1);
    assert.deepEqual(await readAll(log), [rec(0), rec(1), rec(2)]);
    await log.close();
  });

  test('a voided record is never read again, also after reopen', async () => {
    const dir = await tempDir();
    let log = await Binlog.open({ dir });
    await log.append(rec(0));
    const t = log.begin(rec(1));
    await t.durable;
    await log.voidRecord(t);
    await log.append(rec(2));
    assert.deepEqual(await readAll(log), [rec(0), rec(2)]);
    await log.close();
    log = await Binlog.open({ dir });
    assert.deepEqual(await readAll(log), [rec(0), rec(2)]);
    await log.close();
  });

  test('prune removes the segments before the floor and their voids; later records stay readable', {
    timeout: 30_000,
  }, async () => {
    const dir = await tempDir();
    let log = await Binlog.open({ dir, maxFileBytes: 512 });
    for (let i = 0; i < 100; i++) await log.append(rec(i));
    const early = [];
    for await (const r of log.readFrom()) if (early.length < 3) early.push(r.at);
    await log.voidAt(early);
    const segments = async () => (await readdir(dir)).filter((n) => n.endsWith('.log')).length;
    const before = await segments();
    const floor = log.position;
    const kept: BinlogRecord[] = [];
    for (let i = 100; i < 110; i++) {
      await log.append(rec(i));
      kept.push(rec(i));
    }
    const removed = await log.prune(floor);
    assert.equal(removed, floor.file - 1);
    assert.ok(before > 5 && (await segments()) <= 2, `${before} segments, then ${await segments()}`);
    assert.equal((await stat(join(dir, 'voids.dat'))).size, 0, 'the voids of removed segments are gone');
    assert.deepEqual(await readAll(log, floor), kept);
    await log.close();
    log = await Binlog.open({ dir, maxFileBytes: 512 });
    assert.deepEqual(await readAll(log, floor), kept);
    await log.close();
  });

  test('version-1 records (with a location) written before v2 still decode', async () => {
    const dir = await tempDir();
    const w = new Writer(64).u8(1).u8(1).str('b').bytes(Buffer.from('k')).u64(5n).u32(2).num(11);
    w.u8(1).str('v1').u8(0).num(3).num(4096).num(128);
    const payload = w.done();
    const frame = Buffer.alloc(8);
    frame.writeUInt32LE(payload.length, 0);
    frame.writeUInt32LE(crc32(payload), 4);
    await writeFile(join(dir, 'binlog-00000001.log'), Buffer.concat([frame, payload]));
    const log = await Binlog.open({ dir });
    assert.deepEqual(await readAll(log), [
      {
        op: 'replace',
        bucket: 'b',
        key: Buffer.from('k'),
        opver: { counter: 5n, nodeId: 2 },
        size: 11,
        volumeId: 'v1',
        location: { kind: 'chunk', fileId: 3, offset: 4096, allocBytes: 128 },
      },
    ]);
    await log.close();
  });
});
