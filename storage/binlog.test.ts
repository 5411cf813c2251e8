import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Binlog, type BinlogRecord } from './binlog.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'quire-binlog-'));
  dirs.push(d);
  return d;
}

function rec(i: number): BinlogRecord {
  const base = {
    bucket: 'b',
    key: Buffer.from([0, i & 0xff, 0xff]),
    opver: { counter: BigInt(i), nodeId: 7 },
    size: i * 10,
  };
  if (i % 3 === 2) return { ...base, op: 'delete' };
  return {
    ...base,
    op: i % 3 === 0 ? 'insert' : 'replace',
    volumeId: 'v1',
    location: { kind: 'chunk', fileId: 1, offset: i * 64, allocBytes: 64 },
  };
}

async function readAll(log: Binlog, from?: { file: number; offset: number }): Promise<BinlogRecord[]> {
  const out: BinlogRecord[] = [];
  for await (const { record } of log.readFrom(from)) out.push(record);
  return out;
}

describe('binlog', () => {
  test('records round-trip, group-committed, and survive reopen', async () => {
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
});
