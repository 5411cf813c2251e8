// Recovery after an unclean stop: the binlog is reconciled with the volumes (missing records
// appended, unbacked ones voided), and a delete acknowledged while a read pinned the object
// cannot come back even when the index is lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Binlog, type BinlogRecord } from './binlog.ts';
import { NodeIndex } from './index-db.ts';
import { StorageNode } from './node.ts';
import { bytes, H, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const { opener } = testOpener();

function nodeOpts(dir: string) {
  return { dataDir: dir, nodeId: 4, volumes: volumeSpecs(dir, 1), volumeOpener: opener };
}

/** What a crash leaves: the index not marked clean and no checkpoint past the lost records. */
async function markUnclean(dir: string): Promise<void> {
  await rm(join(dir, 'binlog-checkpoint.dat'), { force: true });
  const index = NodeIndex.open(join(dir, 'index'));
  await index.write(() => index.meta.remove(Buffer.from('binlog')));
  await index.setClean(false);
  await index.close();
}

async function records(node: StorageNode): Promise<BinlogRecord[]> {
  const out: BinlogRecord[] = [];
  for await (const { record } of node.binlog.readFrom()) out.push(record);
  return out;
}

test('entries durable in a volume but missing from the binlog get their records at recovery', async () => {
  const t = await tempDir();
  try {
    let node = await StorageNode.open(nodeOpts(t.dir));
    await node.putObject(putInput('b', 'k1', bytes(100, 1)));
    const cut = node.binlog.position;
    await node.putObject(putInput('b', 'k2', bytes(200, 2)));
    const id = await node.createUpload('b', Buffer.from('mp'), H, 1);
    await node.uploadPart({ ...putInput('b', 'mp', bytes(300, 3)), uploadId: id, partNumber: 1 });
    await node.close();
    // The crash came after the volume writes but before their binlog records were durable.
    const fh = await open(join(t.dir, 'binlog', 'binlog-00000001.log'), 'r+');
    await fh.truncate(cut.offset);
    await fh.close();
    await markUnclean(t.dir);
    node = await StorageNode.open(nodeOpts(t.dir));
    const got = await records(node);
    const k2 = (await node.headObject('b', Buffer.from('k2')))!;
    assert.deepEqual(
      got.map((r) => [r.op, r.key.toString(), r.uploadId ?? '', r.partNumber ?? 0]),
      [
        ['insert', 'k1', '', 0],
        ['insert', 'k2', '', 0],
        ['upload-create', 'mp', id, 0],
        ['upload-part', 'mp', id, 1],
      ],
    );
    assert.deepEqual(got[1]!.opver, k2.opver);
    await node.close();
    // A clean restart finds nothing more to add.
    node = await StorageNode.open(nodeOpts(t.dir));
    assert.equal((await records(node)).length, 4);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('durable binlog records whose volume change never happened are voided at recovery', async () => {
  const t = await tempDir();
  try {
    let node = await StorageNode.open(nodeOpts(t.dir));
    const k1 = await node.putObject(putInput('b', 'k1', bytes(100, 1)));
    await node.close();
    // The crash came after these records were durable but before the volume had the new entry
    // (k2), or before the volume entry was removed (the delete of k1).
    const log = await Binlog.open({ dir: join(t.dir, 'binlog') });
    const next = { counter: k1.opver.counter + 1n, nodeId: 4 };
    await log.append({ op: 'insert', bucket: 'b', key: Buffer.from('k2'), opver: next, size: 5 });
    const del = { counter: k1.opver.counter + 2n, nodeId: 4 };
    await log.append({ op: 'delete', bucket: 'b', key: Buffer.from('k1'), opver: del, size: 100 });
    await log.close();
    await markUnclean(t.dir);
    node = await StorageNode.open(nodeOpts(t.dir));
    assert.deepEqual(
      (await records(node)).map((r) => [r.op, r.key.toString()]),
      [['insert', 'k1']],
    );
    assert.deepEqual(await readAll((await node.openObject('b', Buffer.from('k1')))!.stream()), bytes(100, 1));
    // The counter moved past the voided opvers: a new write of k1 outranks everything logged.
    const again = await node.putObject(putInput('b', 'k1', bytes(10, 9)));
    assert.ok(again.opver.counter > del.counter);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('a delete acknowledged while a read pinned the object survives losing the index', async () => {
  const t = await tempDir();
  try {
    let node = await StorageNode.open(nodeOpts(t.dir));
    await node.putObject(putInput('b', 'gone', bytes(100, 1)));
    await node.putObject(putInput('b', 'kept', bytes(100, 2)));
    const pinned = (await node.openObject('b', Buffer.from('gone')))!;
    assert.equal(await node.deleteObject('b', Buffer.from('gone')), true);
    // The pinned read still gets its bytes.
    assert.deepEqual(await readAll(pinned.stream()), bytes(100, 1));
    await node.close();
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(nodeOpts(t.dir));
    assert.equal(await node.headObject('b', Buffer.from('gone')), undefined);
    assert.ok(await node.headObject('b', Buffer.from('kept')));
    const stats = await node.stats();
    // The tombstone stays (replication: its row is rebuilt from it), the entry it outranked is freed.
    assert.equal(stats.volumes[0]!.liveEntries, 2, 'the old entry was freed; kept and the tombstone remain');
    assert.deepEqual(
      (await node.replicaStates('b', Buffer.from('gone'))).map((s) => s.record),
      [undefined],
      'the rebuilt index holds the tombstone',
    );
    await node.close();
  } finally {
    await t.remove();
  }
});

test('a deferred delete finishes when the read is released: the entry goes, its tombstone stays', async () => {
  const t = await tempDir();
  try {
    const node = await StorageNode.open(nodeOpts(t.dir));
    await node.putObject(putInput('b', 'k', bytes(100, 1)));
    const pinned = (await node.openObject('b', Buffer.from('k')))!;
    await node.deleteObject('b', Buffer.from('k'));
    assert.equal((await node.stats()).volumes[0]!.liveEntries, 2, 'old entry + tombstone while pinned');
    pinned.release();
    await node.deferredFreesDone();
    assert.equal((await node.stats()).volumes[0]!.liveEntries, 1, 'the tombstone, kept for replication');
    assert.equal([...node.index.pending.getKeys({ snapshot: false })].length, 0);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('binlog segments the index checkpoint covers are removed; a rebuild after that adds no records', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  const opts = { ...nodeOpts(t.dir), binlogMaxFileBytes: 1024, checkpointEveryOps: 100 };
  const segments = async () => (await readdir(join(t.dir, 'binlog'))).filter((n) => n.endsWith('.log'));
  try {
    let node = await StorageNode.open(opts);
    for (let i = 0; i < 1000; i++) await node.putObject(putInput('b', `k${i % 300}`, bytes(50, i)));
    for (let i = 0; i < 100; i++) await node.deleteObject('b', Buffer.from(`k${i}`));
    await node.checkpoints.runNow();
    const left = await segments();
    // ~50 bytes a record, 1,100 records, 1 KiB segments: over 50 written, the last one or two kept.
    assert.ok(node.checkpoints.segmentsRemoved > 40, `removed ${node.checkpoints.segmentsRemoved}`);
    assert.ok(left.length <= 3, `segments left: ${left.join(' ')}`);
    await node.close();
    // The index is lost: the rebuild reconciles from the checkpoint kept beside it, not from the start.
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    assert.equal(node.recovery?.mode, 'rebuild');
    assert.equal(node.recovery?.binlogAppended, 0);
    assert.equal((await node.stats()).objects, 200);
    assert.deepEqual(
      await readAll((await node.openObject('b', Buffer.from('k299')))!.stream()),
      bytes(50, 899),
    );
    await node.close();
  } finally {
    await t.remove();
  }
});

/** Runs the recovery child's scenario until its pause point, then SIGKILLs it there. */
async function killAtPause(
  dir: string,
  scenario: 'replace' | 'delete' | 'bulk' | 'version-blob',
): Promise<void> {
  const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'recovery-child.ts');
  const p = spawn(process.execPath, ['--import', 'tsx', child, dir, scenario], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  let out = '';
  p.stdout.on('data', (d) => {
    out += d;
    if (out.includes('PAUSED')) p.kill('SIGKILL');
  });
  await exited;
  assert.ok(out.includes('PAUSED'), 'the child reached its pause point');
}

function crashOpts(dir: string) {
  return {
    dataDir: dir,
    nodeId: 1,
    volumes: volumeSpecs(dir, 1),
    volumeOpener: opener,
    smallObjectMaxBytes: 1024,
  };
}

test('SIGKILL after a replacement is committed but before the old body is freed: recovery frees it', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  try {
    await killAtPause(t.dir, 'replace');
    const node = await StorageNode.open(crashOpts(t.dir));
    try {
      assert.equal(node.recovery?.mode, 'tail');
      assert.ok((node.recovery?.repaired ?? 0) >= 1, JSON.stringify(node.recovery));
      assert.deepEqual(
        await readAll((await node.openObject('b', Buffer.from('k')))!.stream()),
        bytes(6000, 2),
      );
      // 20 small objects + k's manifest + k's body: the old body is not left behind.
      const s = await node.stats();
      assert.equal(s.objects, 21);
      assert.equal(s.volumes[0]!.liveEntries, 22);
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});

test('SIGKILL after a delete removed the entry but before the index row went: the row is dropped', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  try {
    await killAtPause(t.dir, 'delete');
    const node = await StorageNode.open(crashOpts(t.dir));
    try {
      assert.equal(node.recovery?.mode, 'tail');
      assert.equal(await node.headObject('b', Buffer.from('k')), undefined);
      assert.equal(await node.openObject('b', Buffer.from('k')), undefined);
      assert.equal((await node.stats()).objects, 20);
      // The delete's record stays: the delete happened.
      const ops: string[] = [];
      for await (const { record } of node.binlog.readFrom())
        if (record.key.toString() === 'k') ops.push(record.op);
      assert.deepEqual(ops.slice(-1), ['delete']);
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});

test("SIGKILL when a chunkfile holding a noncurrent version's blob changed: the blob stays (its owner is not the current row)", {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  try {
    await killAtPause(t.dir, 'version-blob');
    const node = await StorageNode.open({ ...crashOpts(t.dir), volumes: volumeSpecs(t.dir, 2) });
    try {
      assert.equal(node.recovery?.mode, 'tail');
      const versions = await node.listObjectVersions('b', { prefix: Buffer.from('v'), limit: 100 });
      // Every key written holds both versions, and every old version's blob still reads.
      assert.ok(versions.length >= 2 && versions.length % 2 === 0, String(versions.length));
      for (const v of versions.filter((x) => !x.isLatest)) {
        const old = (await node.openObject('b', v.key, { versionId: v.versionId }))!;
        assert.deepEqual(await readAll(old.stream()), bytes(5000, 3), v.key.toString());
        old.release();
      }
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});

test('after a machine crash (the index was left open under another boot) the index is rebuilt', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  try {
    await killAtPause(t.dir, 'replace');
    const state = JSON.parse(await readFile(join(t.dir, 'index-state.json'), 'utf8'));
    assert.equal(state.open, true);
    await writeFile(join(t.dir, 'index-state.json'), JSON.stringify({ ...state, bootId: 'another-boot' }));
    const node = await StorageNode.open(crashOpts(t.dir));
    try {
      assert.equal(node.recovery?.mode, 'rebuild');
      assert.match(node.recovery?.reason ?? '', /machine restarted/);
      assert.equal((await node.stats()).volumes[0]!.liveEntries, 22);
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});

test('after SIGKILL, recovery checks what changed since the checkpoint, not every object', {
  timeout: 120_000,
}, async () => {
  const t = await tempDir();
  try {
    await killAtPause(t.dir, 'bulk');
    const node = await StorageNode.open(crashOpts(t.dir));
    try {
      const r = node.recovery!;
      assert.equal(r.mode, 'tail');
      // 30 writes since the checkpoint: their entries and keys, not the 3,000 before.
      assert.ok(r.checked >= 30 && r.checked <= 100, JSON.stringify(r));
      assert.equal((await node.stats()).objects, 20 + 1 + 3000 + 30);
      for (const i of [0, 1234, 2999])
        assert.deepEqual(
          await readAll((await node.openObject('b', Buffer.from(`bulk${i}`)))!.stream()),
          bytes(50, i),
        );
      for (let i = 0; i < 30; i++)
        assert.deepEqual(
          await readAll((await node.openObject('b', Buffer.from(`late${i}`)))!.stream()),
          bytes(70, i),
        );
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});
