// A recovery pull between real storage nodes over the internal HTTP API on 127.0.0.1: a recovering node refuses
// user calls with a retryable error the client tells apart, the push-sync calls reach the member's push sync; a
// node whose volume was replaced (new and empty) holds nothing, so it is an empty node that pulls.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NodeView } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import type { BinlogPosition } from './binlog-record.ts';
import { NodeRecoveringError, WrongPartitionError } from './errors.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { StorageNode } from './node.ts';
import { RecoveryPull } from './recovery-pull.ts';
import { type KeyRef, loadRecoveryState, RECOVERY_FILE, type RecoveryState } from './recovery-pull-file.ts';
import { copyScanned } from './replica-scan.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, md5, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 30_000 };
const SECRET = 'recovery-pull-test-secret-0123456789abcdef';

async function serve(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test(
  'over HTTP: a recovering node refuses user calls (NodeRecoveringError), answers stats and push-sync calls',
  T,
  async () => {
    const t = await tempDir();
    const node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 3,
      volumes: volumeSpecs(t.dir, 1),
      volumeOpener: testOpener().opener,
    });
    let recovering = true;
    const joins: Array<{ nodeId: string; at: BinlogPosition }> = [];
    const server = createStorageServer(node, {
      secret: SECRET,
      gate: (method) => {
        if (recovering && method !== 'stats' && method !== 'syncPosition' && method !== 'joinPushSync')
          throw new NodeRecoveringError();
      },
      pushSync: {
        position: async (toward) => ({ file: 2, offset: toward === '00000003' ? 77 : 5 }),
        join: async (nodeId, at, waitMs) => {
          joins.push({ nodeId, at });
          return { caughtUp: waitMs > 0 };
        },
      },
    });
    const client = new StorageClient(await serve(server), { secret: SECRET });
    try {
      for (const call of [
        () => client.putObject(putInput('b', 'k', Buffer.from('data'))),
        () => client.headObject('b', Buffer.from('k')),
        () => client.listObjects('b', { prefix: Buffer.alloc(0), limit: 10 }),
      ]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof NodeRecoveringError, `got ${String(err)}`);
          assert.ok(err instanceof WrongPartitionError);
          assert.equal(err.code, 'ServiceUnavailable');
          return true;
        });
      }
      assert.equal((await client.stats()).objects, 0);
      assert.deepEqual(await client.syncPosition('00000003'), { file: 2, offset: 77 });
      assert.deepEqual(await client.joinPushSync('0000000c', { file: 2, offset: 5 }, 1000), {
        caughtUp: true,
      });
      assert.deepEqual(joins, [{ nodeId: '0000000c', at: { file: 2, offset: 5 } }]);
      await assert.rejects(client.joinPushSync('not-an-id', { file: 2, offset: 5 }, 10), /invalid arguments/);
      await assert.rejects(
        client.joinPushSync('0000000c', { file: 2, offset: 5 }, 3_600_000),
        /invalid arguments/,
      );
      recovering = false;
      await client.putObject(putInput('b', 'k', Buffer.from('data')));
      assert.equal((await client.headObject('b', Buffer.from('k')))?.size, 4);
    } finally {
      await client.close();
      server.close();
      await node.close();
      await t.remove();
    }
  },
);

test('over HTTP: a node without push sync refuses the push-sync calls', T, async () => {
  const t = await tempDir();
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 4,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: testOpener().opener,
  });
  const server = createStorageServer(node);
  const client = new StorageClient(await serve(server));
  try {
    await assert.rejects(client.syncPosition('00000004'), /runs no push sync/);
  } finally {
    await client.close();
    server.close();
    await node.close();
    await t.remove();
  }
});

test(
  'a replaced volume (new and empty where one was) rebuilds the index: the node is empty, not broken',
  T,
  async () => {
    const t = await tempDir();
    const open = (volumes: number) =>
      StorageNode.open({ dataDir: t.dir, nodeId: 5, volumes: volumeSpecs(t.dir, volumes) });
    try {
      let node = await open(1);
      for (let i = 0; i < 10; i++) await node.putObject(putInput('b', `k${i}`, Buffer.alloc(2000, i)));
      await node.close();
      // A second disk added: nothing to rebuild, everything still there.
      node = await open(2);
      assert.equal(node.recovery?.mode, 'clean');
      assert.equal((await node.stats()).objects, 10);
      await node.close();
      // The first disk replaced by an empty one.
      await rm(`${t.dir}/volumes/v1`, { recursive: true, force: true });
      node = await open(2);
      assert.equal(node.recovery?.mode, 'rebuild');
      assert.match(node.recovery?.reason ?? '', /volume v1 is new and empty/);
      assert.equal((await node.stats()).objects, 0);
      assert.equal(await node.headObject('b', Buffer.from('k1')), undefined);
      await node.close();
      node = await open(2);
      assert.equal(node.recovery?.mode, 'clean', 'once rebuilt, an ordinary restart');
      await node.close();
    } finally {
      await t.remove();
    }
  },
);

/** Both nodes' states of every key the source has, comparable (records without the per-read isLatest). */
async function contents(node: StorageNode, keys: KeyRef[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const k of keys) {
    for (const s of await node.replicaStates(k.bucket, k.key)) {
      const r = s.record && { ...s.record };
      if (r) delete r.isLatest;
      let body: string | undefined;
      if (r && !r.deleteMarker) {
        const h = await node.openObject(k.bucket, k.key, { versionId: s.versionId });
        body = md5(await readAll(h!.stream()));
        h!.release();
      }
      out.push({ key: `${k.bucket}/${k.key.toString()}`, v: s.versionId, opver: s.opver, record: r, body });
    }
    // Uploads in progress, their parts (with their bytes) and upload tombstones.
    for (const s of await node.uploadStates(k.bucket, k.key)) {
      let body: string | undefined;
      if (s.part) {
        const h = await node.openPart(k.bucket, k.key, s.uploadId, s.partNumber!);
        body = md5(await readAll(h!.stream()));
        h!.release();
      }
      out.push({
        key: `${k.bucket}/${k.key.toString()}`,
        v: `${s.uploadId}#${s.partNumber}`,
        state: s,
        body,
      });
    }
  }
  const order = (x: unknown) => {
    const e = x as { key: string; v: string };
    return `${e.key}\0${e.v}`;
  };
  return out.sort((a, b) => (order(a) < order(b) ? -1 : 1));
}

test('two real nodes over HTTP: a pull killed mid-way (recovery.json as on disk then) resumes after its cursor and ends identical', {
  timeout: 120_000,
}, async () => {
  const ta = await tempDir('quire-pull-a-');
  const tb = await tempDir('quire-pull-b-');
  const nodeOpts = (dir: string, nodeId: number) => ({
    dataDir: dir,
    nodeId,
    volumes: volumeSpecs(dir, 1),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: 64 * 1024,
    minPartBytes: 1024,
    tombstonePurgeIntervalMs: 0,
  });
  const a = await StorageNode.open(nodeOpts(ta.dir, 1));
  let b = await StorageNode.open(nodeOpts(tb.dir, 2));
  // The source: small and large (blob) objects over two buckets, versions, a delete marker, a removed version
  // (a tombstone), a deleted key, a multipart object.
  for (let i = 0; i < 40; i++)
    await a.putObject(
      putInput(
        i % 4 === 0 ? 'b2' : 'b1',
        `k${String(i).padStart(2, '0')}`,
        bytes(i % 9 === 0 ? 200_000 : 500 + i * 13, i),
      ),
    );
  for (let i = 0; i < 3; i++)
    await a.putObject(putInput('b1', 'versioned', bytes(300 + i, 100 + i), { versioning: 'enabled' }));
  const v = await a.listObjectVersions('b1', { prefix: Buffer.from('versioned'), limit: 10 });
  await a.removeObject({ bucket: 'b1', key: Buffer.from('versioned'), versionId: v[1]!.versionId, nowMs: 5 });
  await a.removeObject({ bucket: 'b1', key: Buffer.from('versioned'), versioning: 'enabled', nowMs: 6 });
  await a.deleteObject('b1', Buffer.from('k05'));
  const up = await a.createUpload('b1', Buffer.from('multi'), { userMeta: {} }, 1);
  const parts = [];
  for (let n = 1; n <= 2; n++)
    parts.push({
      partNumber: n,
      etag: (
        await a.uploadPart({ ...putInput('b1', 'multi', bytes(2048, 200 + n)), uploadId: up, partNumber: n })
      ).etag,
    });
  await a.completeUpload('b1', Buffer.from('multi'), up, parts, 2);
  // An upload in progress with an inline and a blob part, and a key that holds only an aborted upload's tombstone.
  const inflight = await a.createUpload('b1', Buffer.from('inflight'), { userMeta: { u: '1' } }, 1);
  for (const [n, size] of [
    [1, 100_000],
    [2, 777],
  ] as const)
    await a.uploadPart({
      ...putInput('b1', 'inflight', bytes(size, 300 + n)),
      uploadId: inflight,
      partNumber: n,
    });
  const aborted = await a.createUpload('b1', Buffer.from('aborted'), { userMeta: {} }, 1);
  await a.abortUpload('b1', Buffer.from('aborted'), aborted);
  const server = createStorageServer(a, {
    pushSync: {
      position: async () => a.binlog.confirmed,
      join: async () => ({ caughtUp: true }),
    },
  });
  const client = new StorageClient(await serve(server));
  const keys = await client.scanKeys({ limit: 1000 });
  assert.ok(keys.length >= 44, `${keys.length} keys`);
  for (const k of ['inflight', 'aborted'])
    assert.ok(
      keys.some((x) => x.key.toString() === k),
      `${k} is scanned`,
    );
  const member: NodeView = {
    nodeId: '00000001',
    syncgroup: 'a',
    url: 'http://127.0.0.1:1/',
    startedMs: 0,
    objects: (await a.stats()).objects,
    volumes: [],
    state: 'up',
    silentMs: 0,
  };
  const pullers: RecoveryPull<StorageClient>[] = [];
  const puller = async (
    to: StorageNode,
    hold?: { key: string; gate: Promise<void>; reached: () => void },
  ) => {
    const calls: Array<{ key: string; applied: number }> = [];
    const saved: RecoveryState[] = [];
    const p = await RecoveryPull.open({
      dataDir: tb.dir,
      disk: nodeDisk,
      nodeId: '00000002',
      localStats: () => to.stats(),
      connect: () => client,
      copyKey: async (from, ref, scanned) => {
        const name = `${ref.bucket}/${ref.key.toString()}`;
        if (hold && name === hold.key) {
          hold.reached();
          await hold.gate;
          // The process dies here: this key is never applied by this run.
          throw new Error('killed');
        }
        // As a storage node copies (cli/storage-command.ts): from the scanStates page where it has the key.
        const r = await copyScanned({ from, to, ref, scanned });
        calls.push({ key: name, applied: r.applied });
        return r;
      },
      log: { info: () => undefined, warn: () => undefined },
      concurrency: 4,
      pageSize: 7,
      saveEveryKeys: 1,
      onSaved: (s) => saved.push(s),
    });
    pullers.push(p);
    return { p, calls, saved };
  };
  try {
    const held = `${keys[20]!.bucket}/${keys[20]!.key.toString()}`;
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const atHold = new Promise<void>((r) => {
      reached = r;
    });
    const first = await puller(b, { key: held, gate, reached });
    assert.equal(first.p.phase, 'deciding');
    await first.p.onMembers([member]);
    await atHold;
    // Every other key finishes while key 20 is held.
    while (first.calls.length < keys.length - 1) await new Promise((r) => setImmediate(r));
    while (first.saved.at(-1)?.objects !== 20) await new Promise((r) => setImmediate(r));
    // The "kill": recovery.json as it is on disk now; everything applied is durable in b (applies are).
    const onDisk = await readFile(join(tb.dir, RECOVERY_FILE));
    release();
    await first.p.stop();
    await b.close();
    await writeFile(join(tb.dir, RECOVERY_FILE), onDisk);
    const kept = await loadRecoveryState(tb.dir);
    assert.equal(kept?.objects, 20);
    assert.deepEqual(kept?.cursor, keys[19]);

    b = await StorageNode.open(nodeOpts(tb.dir, 2));
    const second = await puller(b);
    assert.equal(second.p.phase, 'pulling');
    await second.p.onMembers([member]);
    await second.p.scanEnded();
    // Exactly the keys after the cursor are copied again: the held key applies, those done before the kill are
    // stale (apply-if-newer), none before the cursor is asked for.
    assert.deepEqual(
      second.calls.map((c) => c.key).sort(),
      keys
        .slice(20)
        .map((k) => `${k.bucket}/${k.key.toString()}`)
        .sort(),
    );
    for (const c of second.calls)
      assert.equal(c.applied > 0, c.key === held, `${c.key} applied ${c.applied}`);
    await second.p.onMembers([member]);
    assert.equal(second.p.phase, 'serving');
    assert.deepEqual(await contents(b, keys), await contents(a, keys));
    assert.deepEqual(await b.scanKeys({ limit: 1000 }), keys, 'tombstone-only keys too');
    await second.p.stop();
  } finally {
    for (const p of pullers) await p.stop();
    await client.close();
    server.close();
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
    await ta.remove();
    await tb.remove();
  }
});

test(
  'three real nodes: the writes a dead member left one mirror without come from the mirror it did not leave behind',
  T,
  async () => {
    const tm = await tempDir('quire-resync-m-');
    const ty = await tempDir('quire-resync-y-');
    const open = (dir: string, nodeId: number) =>
      StorageNode.open({
        dataDir: dir,
        nodeId,
        volumes: volumeSpecs(dir, 1),
        volumeOpener: testOpener().opener,
      });
    // m: current (it has every write of the dead member x); y: left behind by x (a mirrored write timed out).
    const m = await open(tm.dir, 3);
    const y = await open(ty.dir, 2);
    const server = createStorageServer(m, {
      pushSync: { position: async () => m.binlog.confirmed, join: async () => ({ caughtUp: true }) },
    });
    const client = new StorageClient(await serve(server));
    let puller: RecoveryPull<StorageClient> | undefined;
    try {
      for (let i = 0; i < 6; i++) {
        await m.putObject(putInput('b', `both${i}`, bytes(700 + i, i)));
        await copyKey({ from: m, to: y, bucket: 'b', key: Buffer.from(`both${i}`) });
      }
      // What x wrote after it left y behind, acknowledged by x and m: a new key, a newer version, a delete.
      const missed = bytes(90_000, 41);
      await m.putObject(putInput('b', 'missed', missed));
      await m.putObject(putInput('b', 'both2', Buffer.from('newer')));
      await m.deleteObject('b', Buffer.from('both4'));
      const view = (nodeId: string, state: NodeView['state'], extra: Partial<NodeView> = {}): NodeView => ({
        nodeId,
        syncgroup: 'a',
        url: `http://127.0.0.1:1/${nodeId}`,
        startedMs: 3,
        objects: 7,
        volumes: [],
        state,
        silentMs: 0,
        ...extra,
      });
      const x = view('0000000a', 'suspect', {
        silentMs: 45_000,
        sync: [{ nodeId: '00000002', lagOps: 3, lagBytes: 90_005, behind: true }],
      });
      puller = await RecoveryPull.open({
        dataDir: ty.dir,
        disk: nodeDisk,
        nodeId: '00000002',
        localStats: () => y.stats(),
        connect: () => client,
        copyKey: (from, ref, scanned) => copyScanned({ from, to: y, ref, scanned }),
        log: { info: () => undefined, warn: () => undefined },
      });
      assert.equal(puller.phase, 'serving');
      await puller.onMembers([x, view('00000003', 'up')]);
      assert.equal(puller.phase, 'pulling');
      await puller.scanEnded();
      await puller.onMembers([x, view('00000003', 'up')]);
      assert.equal(puller.phase, 'serving');
      assert.deepEqual(puller.report(), { resynced: [{ nodeId: '0000000a', startedMs: 3 }] });
      const h = await y.openObject('b', Buffer.from('missed'));
      assert.ok(h, 'the missed key is there');
      assert.ok((await readAll(h.stream())).equals(missed), 'byte-exact');
      h.release();
      assert.equal((await y.headObject('b', Buffer.from('both2')))?.etag, md5(Buffer.from('newer')));
      assert.equal(await y.headObject('b', Buffer.from('both4')), undefined, 'the delete too');
      assert.equal((await y.headObject('b', Buffer.from('both1')))?.etag, md5(bytes(701, 1)));
    } finally {
      await puller?.stop();
      await client.close();
      server.close();
      await m.close().catch(() => undefined);
      await y.close().catch(() => undefined);
      await tm.remove();
      await ty.remove();
    }
  },
);
