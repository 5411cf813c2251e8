// Two real storage nodes of one syncgroup (StorageNode with real LMDB and volumes, each behind its partition guard,
// MirroringNode and push sync as `quire storage` wires them, serving its internal API over real HTTP on 127.0.0.1):
// mirrored writes are on the mirror when acknowledged; a mirror that is down is caught up by push sync, also
// after the pusher is SIGKILLed mid-sync; a late older state never resurrects a delete; the binlog is kept until
// every mirror applied it; an async bucket does not wait for a frozen mirror.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { NodeView } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { initialLayout, rankMembers } from '../common/layout.ts';
import type { ReplicationMode } from '../common/replication-mode.ts';
import type { PutObjectInput, VersioningMode } from './api.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { type Replication, setUpReplication } from './mirror-setup.ts';
import { StorageNode } from './node.ts';
import { PartitionGuard } from './partition-guard.ts';
import { pushSyncControl } from './recovery-pull-join.ts';
import { bytes, md5, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';
import { gatedOpener } from './testing/staged-gate.ts';
import type { VolumeOpener } from './volume-port.ts';

const T = { timeout: 60_000 };
const SECRET = 'mirror-cluster-test-secret-0123456789abcdef';
const layout = initialLayout(['g']);
const child = join(fileURLToPath(import.meta.url), '..', 'testing', 'push-sync-child.ts');
const quiet = { info: () => undefined, warn: () => undefined };

interface Member {
  id: string;
  dir: string;
  node: StorageNode;
  repl: Replication;
  server: Server;
  url: string;
  /** Its internal API as a gateway (or a mirror) calls it. */
  client: StorageClient;
  /** Stops serving (the node stays open): a mirror that is down. */
  down(): Promise<void>;
  /** Serves again (on a new port; its URL changes as after a restart). */
  up(): Promise<void>;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface MemberOptions {
  /** Buckets whose objects expire after a day, judged at this clock (the lifecycle runs on request only). */
  lifecycleClock?: () => number;
  modes?: Record<string, ReplicationMode>;
  mirrorTimeoutMs?: number;
  binlogMaxFileBytes?: number;
  dir?: string;
  volumeOpener?: VolumeOpener;
}

async function member(id: string, o: MemberOptions = {}): Promise<Member> {
  let dir = o.dir;
  if (!dir) {
    const t = await tempDir('quire-mirror-');
    cleanups.push(t.remove);
    dir = t.dir;
  }
  const node = await StorageNode.open({
    dataDir: dir,
    nodeId: Number.parseInt(id, 16),
    volumes: volumeSpecs(dir, 1),
    volumeOpener: o.volumeOpener ?? testOpener().opener,
    minPartBytes: 1024,
    ...(o.binlogMaxFileBytes ? { binlogMaxFileBytes: o.binlogMaxFileBytes } : {}),
    // As `quire storage` wires it: one member runs the rules, its removals through the mirroring.
    lifecycle: {
      rulesFor: () => [{ id: 'day', enabled: true, filter: {}, expiration: { days: 1 } }],
      intervalMs: 0,
      opsPerSecond: 0,
      clock: o.lifecycleClock ?? Date.now,
      active: () => replication?.runsLifecycle() ?? false,
      through: () => replication?.api,
    },
  });
  let replication: Replication | undefined;
  const guard = new PartitionGuard(node, 'g', layout);
  const repl = await setUpReplication({
    node,
    guard,
    selfId: id,
    dataDir: dir,
    disk: nodeDisk,
    secret: SECRET,
    modeFor: (b) => o.modes?.[b] ?? 'mirrored',
    mirrorTimeoutMs: o.mirrorTimeoutMs ?? 2000,
    retainMs: 3_600_000,
    retainBytes: 1 << 30,
    log: quiet,
  });
  replication = repl;
  const m: Member = {
    id,
    dir,
    node,
    repl,
    server: undefined as unknown as Server,
    url: '',
    client: undefined as unknown as StorageClient,
    down: async () => {
      m.server.closeAllConnections();
      await new Promise<void>((r) => m.server.close(() => r()));
      await m.client.close();
    },
    up: async () => {
      m.server = createStorageServer(repl.api, { secret: SECRET, pushSync: pushSyncControl(id, repl.sync) });
      m.server.listen(0, '127.0.0.1');
      await once(m.server, 'listening');
      m.url = `http://127.0.0.1:${(m.server.address() as AddressInfo).port}`;
      m.client = new StorageClient(m.url, { secret: SECRET });
    },
    close: async () => {
      await repl.stop();
      if (m.server.listening) await m.down();
      await node.close();
    },
  };
  await m.up();
  return m;
}

function view(m: Pick<Member, 'id' | 'url'>, state: NodeView['state'] = 'up'): NodeView {
  return {
    nodeId: m.id,
    syncgroup: 'g',
    url: m.url,
    startedMs: 1,
    objects: 0,
    volumes: [],
    state,
    silentMs: 0,
  };
}

/** Tells each member of the others (what the tracker's heartbeat replies do). */
function introduce(members: Member[], states: Record<string, NodeView['state']> = {}): void {
  for (const m of members) m.repl.onMembers(members.filter((x) => x !== m).map((x) => view(x, states[x.id])));
}

/** Two members that know each other, mirroring; `onlyB`: options for b alone (a mirror held at its fdatasync). */
async function pair(o: MemberOptions = {}, onlyB: MemberOptions = {}): Promise<[Member, Member]> {
  const a = await member('0000000a', o);
  const b = await member('0000000b', { ...o, ...onlyB });
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  introduce([a, b]);
  a.repl.start();
  b.repl.start();
  return [a, b];
}

const put = (m: Member, bucket: string, key: string, data: Buffer, extra: Partial<PutObjectInput> = {}) =>
  m.client.putObject(putInput(bucket, key, data, extra));

function partInput(bucket: string, key: Buffer, uploadId: string, partNumber: number, data: Buffer) {
  return {
    bucket,
    key,
    uploadId,
    partNumber,
    size: data.length,
    body: (async function* () {
      yield data;
    })(),
    finish: async () => ({ etag: md5(data), checksums: {} }),
    nowMs: 2,
  };
}

async function bodyOf(
  m: Member,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<Buffer | undefined> {
  const h = await m.node.openObject(bucket, Buffer.from(key), versionId ? { versionId } : {});
  if (!h) return undefined;
  try {
    return h.record.deleteMarker ? undefined : await readAll(h.stream());
  } finally {
    h.release();
  }
}

async function versionsOf(m: Member, bucket: string) {
  return (await m.node.listObjectVersions(bucket, { prefix: Buffer.alloc(0), limit: 1000 })).map((v) => ({
    key: v.key.toString(),
    versionId: v.versionId,
    deleteMarker: v.deleteMarker,
    isLatest: v.isLatest,
    etag: v.etag,
  }));
}

describe('mirrored syncgroup of two real nodes', () => {
  test(
    'a mirrored write is acknowledged only once the mirror holds it durably (held at its fdatasync)',
    T,
    async () => {
      let reached!: () => void;
      const atSync = new Promise<void>((r) => {
        reached = r;
      });
      let letGo!: () => void;
      const gate = new Promise<void>((r) => {
        letGo = r;
      });
      const [a, b] = await pair(
        {},
        {
          volumeOpener: gatedOpener(
            gate.then(() => undefined),
            { firstOnly: true, onHeld: reached },
          ),
          mirrorTimeoutMs: 60_000,
        },
      );
      const data = bytes(4096, 77);
      let acked = false;
      const writing = put(a, 'bk', 'k', data).then((r) => {
        acked = true;
        return r;
      });
      await atSync;
      // The mirror has the entry written, not yet durable: every pending callback runs, and still no answer.
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      assert.equal(acked, false, 'not acknowledged while the mirror has not synced it');
      assert.equal(await bodyOf(b, 'bk', 'k'), undefined, 'not visible on the mirror before it is durable');
      letGo();
      const rec = await writing;
      assert.equal(rec.etag, md5(data));
      assert.deepEqual(await bodyOf(b, 'bk', 'k'), data);
    },
  );

  test(
    'a mirrored write is on the mirror when acknowledged: bytes, version id, ETag; deletes too',
    T,
    async () => {
      const [a, b] = await pair();
      for (const [key, size] of [
        ['small', 3000],
        ['empty', 0],
        ['large', 2 * 1024 * 1024 + 17],
      ] as const) {
        const data = bytes(size, size + 1);
        const rec = await put(a, 'bk', key, data);
        // No wait of any kind: the acknowledgement means the mirror has it durable.
        const got = await b.node.headObject('bk', Buffer.from(key));
        assert.equal(got?.etag, md5(data), key);
        assert.equal(got?.etag, rec.etag);
        assert.equal(got?.versionId, rec.versionId);
        assert.deepEqual(got?.opver, rec.opver, 'the same version, at the same opver');
        assert.ok((await bodyOf(b, 'bk', key))?.equals(data), `${key}: byte-exact`);
      }
      assert.equal(await a.client.deleteObject('bk', Buffer.from('small')), true);
      assert.equal(await b.node.headObject('bk', Buffer.from('small')), undefined, 'the delete is mirrored');
      // One member runs the lifecycle (the lowest id), its removals going through the mirroring.
      assert.deepEqual([a.repl.runsLifecycle(), b.repl.runsLifecycle()], [true, false]);
      // The other direction: b is the primary of some keys.
      await put(b, 'bk', 'from-b', Buffer.from('bbb'));
      assert.equal((await bodyOf(a, 'bk', 'from-b'))?.toString(), 'bbb');
      // Push sync passes the records the mirror acknowledged without shipping them again (one it read while its
      // mirrored write was still in flight is shipped too: harmless, the mirror finds it stale).
      await a.repl.sync.caughtUp(b.id);
      assert.ok((a.repl.sync.counters(b.id)?.skipped ?? 0) >= 1);
      assert.deepEqual(
        a.repl.report().map((r) => [r.lagOps, r.lagBytes]),
        [[0, 0]],
      );
    },
  );

  test(
    'versioned writes are mirrored with the same version ids (versions, delete markers, version removal)',
    T,
    async () => {
      const [a, b] = await pair();
      const enabled: { versioning: VersioningMode } = { versioning: 'enabled' };
      const v1 = await put(a, 'vb', 'doc', Buffer.from('one'), enabled);
      const v2 = await put(a, 'vb', 'doc', Buffer.from('two'), enabled);
      assert.notEqual(v1.versionId, v2.versionId);
      assert.deepEqual(await versionsOf(b, 'vb'), await versionsOf(a, 'vb'));
      assert.equal((await bodyOf(b, 'vb', 'doc', v1.versionId))?.toString(), 'one');
      const marker = await a.client.removeObject({
        bucket: 'vb',
        key: Buffer.from('doc'),
        versioning: 'enabled',
        nowMs: 2,
      });
      assert.ok(marker.deleteMarker);
      assert.deepEqual(await versionsOf(b, 'vb'), await versionsOf(a, 'vb'));
      await a.client.removeObject({
        bucket: 'vb',
        key: Buffer.from('doc'),
        versionId: v1.versionId,
        nowMs: 3,
      });
      const onB = await versionsOf(b, 'vb');
      assert.deepEqual(onB, await versionsOf(a, 'vb'));
      assert.equal(onB.length, 2, 'v2 and the marker are left');
      await a.client.updateObjectAttributes({
        bucket: 'vb',
        key: Buffer.from('doc'),
        versionId: v2.versionId,
        update: { tags: [{ key: 't', value: '1' }] },
        nowMs: 4,
      });
      const tagged = await b.node.headObject('vb', Buffer.from('doc'), { versionId: v2.versionId });
      assert.deepEqual(tagged?.tags, [{ key: 't', value: '1' }]);
    },
  );

  test(
    'a mirror down: writes acknowledged, lag grows; back, push sync catches it up to lag 0',
    T,
    async () => {
      const [a, b] = await pair();
      await b.down();
      const sent = new Map<string, Buffer>();
      for (let i = 0; i < 30; i++) {
        const data = bytes(1000 + i, i);
        sent.set(`k${i}`, data);
        await put(a, 'db', `k${i}`, data);
      }
      await a.client.deleteObject('db', Buffer.from('k0'));
      sent.delete('k0');
      const lag = a.repl.report().find((r) => r.nodeId === b.id)!;
      assert.equal(lag.lagOps, 31, 'every write is lag');
      assert.ok(lag.lagBytes >= 30 * 1000);
      assert.equal(await b.node.headObject('db', Buffer.from('k1')), undefined);
      // Back (at a new address, as the tracker reports after a restart).
      await b.up();
      introduce([a, b]);
      await a.repl.sync.caughtUp(b.id);
      assert.deepEqual(
        a.repl.report().map((r) => [r.lagOps, r.lagBytes]),
        [[0, 0]],
      );
      for (const [k, data] of sent) assert.ok((await bodyOf(b, 'db', k))?.equals(data), k);
      assert.equal(await b.node.headObject('db', Buffer.from('k0')), undefined);
      // Writes are mirrored again at once.
      await put(a, 'db', 'after', Buffer.from('x'));
      assert.equal((await bodyOf(b, 'db', 'after'))?.toString(), 'x');
    },
  );

  test(
    'uploads are mirrored: create, parts, part copies, aborts and completions are on the mirror when acknowledged',
    T,
    async () => {
      const [a, b] = await pair();
      const k = Buffer.from('mp');
      const headers = { userMeta: { m: '1' }, contentType: 'x/y' };
      const id = await a.client.createUpload('ub', k, headers, 1, 'CRC32');
      // No wait of any kind: acknowledged means the mirror holds it.
      assert.deepEqual(await b.node.uploadStates('ub', k), await a.node.uploadStates('ub', k));
      const p1 = bytes(2 * 1024 * 1024, 1);
      const f1 = await a.client.uploadPart(partInput('ub', k, id, 1, p1));
      await put(a, 'ub', 'src', bytes(70_000, 2));
      const f2 = await a.client.uploadPartCopy({
        bucket: 'ub',
        key: k,
        uploadId: id,
        partNumber: 2,
        src: { bucket: 'ub', key: Buffer.from('src'), range: { start: 10, end: 60_009 } },
        nowMs: 2,
      });
      const parts = (m: Member) => m.node.listParts('ub', k, id, { afterPart: 0, limit: 100 });
      assert.deepEqual(await parts(b), await parts(a));
      assert.equal((await parts(b)).parts.length, 2);
      // The primary goes away: the mirror continues the same upload and completes the object the primary would have.
      await a.down();
      const p3 = bytes(1234, 3);
      const f3 = await b.client.uploadPart(partInput('ub', k, id, 3, p3));
      const done = [
        { partNumber: 1, etag: f1.etag },
        { partNumber: 2, etag: f2.etag },
        { partNumber: 3, etag: f3.etag },
      ];
      const rec = await b.client.completeUpload('ub', k, id, done, 3);
      const md5s = Buffer.concat(done.map((d) => Buffer.from(d.etag, 'hex')));
      assert.equal(rec.etag, `${md5(md5s)}-3`);
      const whole = Buffer.concat([p1, bytes(70_000, 2).subarray(10, 60_010), p3]);
      assert.ok((await bodyOf(b, 'ub', 'mp'))?.equals(whole));
      // Back: push sync brings it the version and the upload's tombstone; its copies of the parts are freed.
      await a.up();
      introduce([a, b]);
      await b.repl.sync.caughtUp(a.id);
      assert.ok((await bodyOf(a, 'ub', 'mp'))?.equals(whole));
      assert.equal((await a.node.headObject('ub', k))?.etag, rec.etag);
      assert.deepEqual(
        (await a.node.uploadStates('ub', k)).map((s) => [s.uploadId, s.partNumber, s.upload]),
        [[id, undefined, undefined]],
      );
      assert.equal(a.node.index.parts.getCount(), 0, "the mirror's parts are freed");
      await assert.rejects(parts(a), { code: 'NoSuchUpload' });
      // Completed on the primary: the mirror has the object and no upload left when it is acknowledged.
      const id2 = await a.client.createUpload('ub', k, headers, 4);
      const g1 = await a.client.uploadPart(partInput('ub', k, id2, 1, bytes(100, 5)));
      assert.equal(b.node.index.parts.getCount() > 3, true, 'the part is on the mirror');
      const rec2 = await a.client.completeUpload('ub', k, id2, [{ partNumber: 1, etag: g1.etag }], 5);
      assert.equal((await b.node.headObject('ub', k))?.etag, rec2.etag);
      assert.ok((await bodyOf(b, 'ub', 'mp'))?.equals(bytes(100, 5)));
      assert.deepEqual(await b.node.listUploads('ub', { prefix: Buffer.alloc(0), limit: 10 }), []);
      // The mirror built the version from its own copy of the part (no bytes sent): that part is the object's now;
      // the parts of the version it replaced are freed.
      assert.equal(b.node.index.parts.getCount(), 1);
      assert.deepEqual((await b.node.headObject('ub', k))?.parts, rec2.parts);
      // An abort: gone on the mirror too, and a late copy of a part stays out.
      const id3 = await a.client.createUpload('ub', k, headers, 6);
      await a.client.uploadPart(partInput('ub', k, id3, 1, bytes(100, 6)));
      const [, late] = await a.node.uploadStates('ub', k);
      await a.client.abortUpload('ub', k, id3);
      assert.deepEqual(await b.node.listUploads('ub', { prefix: Buffer.alloc(0), limit: 10 }), []);
      assert.equal(await b.client.applyUpload({ state: late! }), 'stale');
      // A completion's record is left to push sync (it passes the key again): then nothing is lag.
      await a.repl.sync.caughtUp(b.id);
      assert.deepEqual(
        a.repl.report().map((r) => r.lagOps),
        [0],
      );
    },
  );

  test('a mirror that missed an upload gets it, its parts and its removal from push sync', T, async () => {
    const [a, b] = await pair();
    const k = Buffer.from('late');
    await b.down();
    const id = await a.client.createUpload('pb', k, { userMeta: {} }, 1);
    const f1 = await a.client.uploadPart(partInput('pb', k, id, 1, bytes(2 * 1024 * 1024, 7)));
    const gone = await a.client.createUpload('pb', Buffer.from('gone'), { userMeta: {} }, 1);
    await a.client.abortUpload('pb', Buffer.from('gone'), gone);
    assert.ok(a.repl.report()[0]!.lagOps >= 4);
    await b.up();
    introduce([a, b]);
    await a.repl.sync.caughtUp(b.id);
    assert.deepEqual(
      await b.node.listParts('pb', k, id, { afterPart: 0, limit: 10 }),
      await a.node.listParts('pb', k, id, { afterPart: 0, limit: 10 }),
    );
    assert.deepEqual(
      await b.node.uploadStates('pb', Buffer.from('gone')),
      await a.node.uploadStates('pb', Buffer.from('gone')),
    );
    // The mirror, now the primary for it, completes it.
    const rec = await b.client.completeUpload('pb', k, id, [{ partNumber: 1, etag: f1.etag }], 2);
    assert.ok((await bodyOf(b, 'pb', 'late'))?.equals(bytes(2 * 1024 * 1024, 7)));
    assert.equal((await a.node.headObject('pb', k))?.etag, rec.etag);
  });

  test('a late older write cannot resurrect a delete (states arriving in the wrong order)', T, async () => {
    const [a, b] = await pair();
    await b.down();
    await put(a, 'rb', 'gone', Buffer.from('old'));
    const [old] = await a.node.replicaStates('rb', Buffer.from('gone'));
    await a.client.deleteObject('rb', Buffer.from('gone'));
    await b.up();
    introduce([a, b]);
    await a.repl.sync.caughtUp(b.id);
    assert.equal(await b.node.headObject('rb', Buffer.from('gone')), undefined);
    // The put's state arrives now (a slow mirrored write, a replayed batch): older than the tombstone.
    const result = await b.client.applyReplica({
      state: old!,
      body: (async function* () {
        yield Buffer.from('old');
      })(),
    });
    assert.equal(result, 'stale');
    assert.equal(await b.node.headObject('rb', Buffer.from('gone')), undefined);
  });

  test(
    "a write taken over from a dead primary beats that primary's older, unacknowledged write of the key",
    T,
    async () => {
      const [a, b] = await pair();
      // A key whose primary is a (rendezvous over both members).
      const key = Array.from({ length: 64 }, (_, i) => `k${i}`).find(
        (k) => rankMembers([a.id, b.id], 'tk', Buffer.from(k))[0] === a.id,
      )!;
      await put(a, 'tk', key, Buffer.from('v0'));
      const reported = a.node.counter; // a's last heartbeat before it died
      // Writes a made durably and had not sent when it was killed (v1 of the key among them, never acknowledged):
      // its counter runs ahead of everything b applied.
      for (let i = 0; i < 20; i++) await a.node.putObject(putInput('tk', `other${i}`, Buffer.from('x')));
      await a.node.putObject(putInput('tk', key, Buffer.from('v1, older, unacknowledged')));
      await a.down();
      // The tracker reports a suspect; a gateway sends the key's next write to b, which acknowledges it.
      b.repl.onMembers([{ ...view(a, 'suspect'), opver: reported.toString() }]);
      const v2 = await put(b, 'tk', key, Buffer.from('v2, acknowledged'));
      assert.ok(v2.opver.counter > a.node.counter, 'past every opver a may have handed out');
      // a comes back: push sync delivers its writes to b, b's to a.
      await a.up();
      introduce([a, b]);
      await a.repl.sync.caughtUp(b.id);
      await b.repl.sync.caughtUp(a.id);
      for (const m of [a, b])
        assert.equal(
          (await bodyOf(m, 'tk', key))?.toString(),
          'v2, acknowledged',
          `${m.id} keeps the acknowledged write`,
        );
      assert.equal((await bodyOf(b, 'tk', 'other7'))?.toString(), 'x', "a's other writes reached b");
    },
  );

  test('the binlog is kept until every mirror applied it, then trimmed', T, async () => {
    const [a, b] = await pair({ binlogMaxFileBytes: 1024 });
    await b.down();
    introduce([a, b], { '0000000b': 'suspect' });
    for (let i = 0; i < 120; i++) await put(a, 'tb', `t${i}`, Buffer.from(`v${i}`));
    const segments = async () =>
      (await nodeDisk.readdir(join(a.dir, 'binlog'))).filter((n) => n.endsWith('.log')).length;
    const all = await segments();
    assert.ok(all > 4, `several segments (${all})`);
    await a.node.checkpoints.runNow();
    assert.equal(await segments(), all, 'b applied none of them: all kept');
    await b.up();
    introduce([a, b]);
    await a.repl.sync.caughtUp(b.id);
    await a.node.checkpoints.runNow();
    assert.ok(
      (await segments()) <= 2,
      'applied by every mirror and covered by the index checkpoint: removed',
    );
  });

  test(
    'an async bucket is acknowledged without waiting for a frozen mirror; a mirrored one leaves it behind',
    T,
    async () => {
      const a = await member('0000000a', { modes: { fast: 'async' }, mirrorTimeoutMs: 300 });
      cleanups.push(() => a.close());
      // A mirror that accepts connections and never answers (a SIGSTOPped process, as far as a client can tell).
      const sockets: Socket[] = [];
      const frozen: TcpServer = createTcpServer((s) => sockets.push(s));
      frozen.listen(0, '127.0.0.1');
      await once(frozen, 'listening');
      cleanups.push(async () => {
        for (const s of sockets) s.destroy();
        frozen.close();
      });
      const f = { id: '0000000f', url: `http://127.0.0.1:${(frozen.address() as AddressInfo).port}` };
      a.repl.onMembers([view(f)]);
      a.repl.start();
      // Async: answered after the local write, while the frozen mirror holds push sync's request.
      await put(a, 'fast', 'k', Buffer.from('quick'));
      assert.equal(a.repl.api.mirrorStats().unmirrored, 1);
      // Mirrored: answered once the mirror made no progress for the timeout; it is left behind.
      await put(a, 'slow', 'k', Buffer.alloc(10_000, 1));
      assert.equal(a.repl.api.mirrorStats().leftBehind, 1);
      const before = a.repl.api.mirrorStats();
      await put(a, 'slow', 'k2', Buffer.from('next'));
      assert.equal(
        a.repl.api.mirrorStats().unmirrored,
        before.unmirrored + 1,
        'the next write does not wait for it',
      );
    },
  );

  test('the lifecycle runs on one member and its expiries reach the mirror', T, async () => {
    let now = 1_700_000_000_000;
    const [a, b] = await pair({ lifecycleClock: () => now });
    await put(a, 'lc', 'old', Buffer.from('expires'), { nowMs: now });
    assert.ok(await b.node.headObject('lc', Buffer.from('old')));
    now += 3 * 24 * 3600 * 1000;
    await b.node.lifecycle.runOnce();
    assert.equal(b.node.lifecycle.stats().objectsScanned, 0, 'not the member that runs it');
    assert.ok(await a.node.headObject('lc', Buffer.from('old')));
    await a.node.lifecycle.runOnce();
    assert.equal(a.node.lifecycle.stats().objectsExpired, 1);
    assert.equal(await a.node.headObject('lc', Buffer.from('old')), undefined);
    assert.equal(await b.node.headObject('lc', Buffer.from('old')), undefined, 'the expiry was mirrored');
  });

  test(
    "a recovery pull's join over the member's API: position, then caught up once the node is back",
    T,
    async () => {
      const [a, b] = await pair();
      await b.down();
      introduce([a, b], { '0000000b': 'suspect' });
      // b is refilled by a pull from a: everything before a's binlog end now is in what the pull copies.
      const at = await a.client.syncPosition(a.id);
      assert.deepEqual(at, a.repl.sync.end);
      await put(a, 'jb', 'after-the-scan', Buffer.from('late'));
      assert.deepEqual(
        await a.client.joinPushSync(b.id, at, 50),
        { caughtUp: false },
        'b is not reachable yet',
      );
      await b.up();
      introduce([a, b], { '0000000b': 'recovering' });
      assert.deepEqual(await a.client.joinPushSync(b.id, at, 30_000), { caughtUp: true });
      assert.equal((await bodyOf(b, 'jb', 'after-the-scan'))?.toString(), 'late');
    },
  );

  test('push sync SIGKILLed mid-sync resumes from its persisted position: no record lost', T, async () => {
    const t = await tempDir('quire-mirror-kill-');
    cleanups.push(t.remove);
    const b = await member('0000000b');
    cleanups.push(() => b.close());
    // Before the tracker has named the members, no node runs the lifecycle (two might).
    assert.equal(b.repl.runsLifecycle(), false);
    // a's writes while b is unknown to it: all in a's binlog, none mirrored.
    const a0 = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 0xa,
      volumes: volumeSpecs(t.dir, 1),
      volumeOpener: testOpener().opener,
    });
    const sent = new Map<string, Buffer>();
    for (let i = 0; i < 100; i++) {
      const data = bytes(500 + i, 1000 + i);
      sent.set(`p${i}`, data);
      await a0.putObject(putInput('kb', `p${i}`, data));
    }
    await a0.close();
    const p = spawn(process.execPath, ['--import', 'tsx', child, t.dir, '0000000a', b.id, b.url, SECRET], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((r) => p.on('exit', () => r()));
    let copied = 0;
    createInterface({ input: p.stdout }).on('line', (l) => {
      if ((JSON.parse(l) as { copied?: string }).copied !== undefined && ++copied === 35) p.kill('SIGKILL');
    });
    await exited;
    assert.ok(copied >= 35);
    // Restarted: push sync resumes from the position persisted before the kill.
    const a = await member('0000000a', { dir: t.dir });
    cleanups.push(() => a.close());
    introduce([a, b]);
    a.repl.start();
    await a.repl.sync.caughtUp(b.id);
    const shipped = a.repl.sync.counters(b.id)!.shipped;
    assert.ok(shipped > 0 && shipped <= 100 - 30, `resumed, not started over (${shipped} keys shipped)`);
    for (const [k, data] of sent) assert.ok((await bodyOf(b, 'kb', k))?.equals(data), k);
  });
});
