// A storage node's membership keeps the catalog the tracker sends with heartbeat replies: what its lifecycle
// worker reads bucket settings from (storage nodes have no catalog of their own).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { createBucketReplySchema, TRACKER } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { initialLayout } from '../common/layout.ts';
import { TrackerClient } from '../common/tracker-client.ts';
import { Catalog } from '../tracker/catalog.ts';
import { GatewayLeases } from '../tracker/gateway-leases.ts';
import { createTrackerService } from '../tracker/service.ts';
import type { StorageApi } from './api.ts';
import { ClusterMember, loadKeptLayout } from './cluster-member.ts';
import { PartitionGuard } from './partition-guard.ts';

const SECRET = 'a-test-cluster-secret-of-32-chars-or-more';

test('heartbeats bring the bucket settings to the storage node, and keep them while nothing changes', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-member-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  const leases = await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => performance.now() });
  const svc = createTrackerService({
    catalog,
    layout: initialLayout(['a']),
    secret: SECRET,
    keys: [{ accessKeyId: 'AK1', secretAccessKey: 'secret-one' }],
    leases,
    suspectAfterMs: 10_000,
    now: () => performance.now(),
    wallClock: () => Date.now(),
    url: () => 'http://tracker',
  });
  const server = createServer(getRequestListener(svc.app.fetch));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tracker = new TrackerClient({ url, secret: SECRET });
  try {
    const member = new ClusterMember({
      tracker,
      guard: new PartitionGuard({} as StorageApi, 'a'),
      stats: async () => ({ nodeId: 1, volumes: [], objects: 0, uploads: 0 }),
      nodeId: '00000001',
      url: 'http://127.0.0.1:9201',
      dataDir: dir,
      disk: nodeDisk,
      intervalMs: 10_000, // also the heartbeat timeout: generous on a loaded machine
      startedMs: 1,
      onError: () => undefined,
    });
    await member.beatOnce();
    const made = await tracker.call(
      TRACKER.createBucket,
      {
        spec: { name: 'logs', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
        initial: { lifecycle: [{ id: 'r' }] },
      },
      createBucketReplySchema,
    );
    const id = made.catalog.buckets[0]!.id;
    assert.equal(member.bucketConfig(id, 'lifecycle'), undefined, 'not before the next heartbeat');
    await member.beatOnce();
    assert.deepEqual(member.bucketConfig(id, 'lifecycle'), [{ id: 'r' }]);
    assert.equal(member.bucketConfig(id, 'versioning'), undefined);
    // Nothing changed: the reply carries no catalog, and the node keeps what it has.
    await member.beatOnce();
    assert.deepEqual(member.bucketConfig(id, 'lifecycle'), [{ id: 'r' }]);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the node keeps the catalog (with keys and seq) in its data directory and offers it to a rebuilding tracker', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-member-'));
  const servers: Array<ReturnType<typeof createServer>> = [];
  const catalogs: Catalog[] = [];
  const serve = async (svc: { app: { fetch: Parameters<typeof getRequestListener>[0] } }) => {
    const server = createServer(getRequestListener(svc.app.fetch));
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return new TrackerClient({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      secret: SECRET,
    });
  };
  const member = (
    tracker: TrackerClient,
    guard: PartitionGuard,
    extra: Partial<ConstructorParameters<typeof ClusterMember>[0]> = {},
  ) =>
    new ClusterMember({
      tracker,
      guard,
      stats: async () => ({ nodeId: 1, volumes: [], objects: 0, uploads: 0 }),
      nodeId: '00000001',
      url: 'http://127.0.0.1:9201',
      dataDir: join(dir, 'node'),
      disk: nodeDisk,
      intervalMs: 10_000, // also the heartbeat timeout: generous on a loaded machine
      startedMs: 1,
      onError: () => undefined,
      ...extra,
    });
  try {
    mkdirSync(join(dir, 'node'));
    const oldCatalog = Catalog.open(join(dir, 'old'));
    catalogs.push(oldCatalog);
    const oldTracker = await serve(
      createTrackerService({
        catalog: oldCatalog,
        layout: initialLayout(['a']),
        secret: SECRET,
        keys: [{ accessKeyId: 'AKMAIN', secretAccessKey: 'main-secret', main: true }],
        leases: await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => performance.now() }),
        suspectAfterMs: 10_000,
        now: () => performance.now(),
        wallClock: () => Date.now(),
        url: () => 'http://tracker',
      }),
    );
    const made = await oldTracker.call(
      TRACKER.createBucket,
      {
        spec: { name: 'kept', owner: 'AKMAIN', createdMs: 1, region: 'us-east-1' },
        initial: { versioning: 'Enabled' },
      },
      createBucketReplySchema,
    );
    const id = made.catalog.buckets[0]!.id;
    const first = member(oldTracker, new PartitionGuard({} as StorageApi, 'a'));
    await first.beatOnce();
    assert.equal(first.catalogCopy()?.seq, 1);

    // The node restarts: its copy is back before any tracker answers.
    const guard = new PartitionGuard({} as StorageApi, 'a', await loadKeptLayout(join(dir, 'node')));
    const restarted = member(oldTracker, guard);
    await restarted.load();
    assert.equal(restarted.bucketConfig(id, 'versioning'), 'Enabled');
    assert.deepEqual(
      restarted.catalogCopy()?.keys?.map((k) => k.accessKeyId),
      ['AKMAIN'],
    );

    // The tracker's disk is lost: a fresh one asks, the node offers, the fresh one adopts.
    const freshCatalog = Catalog.open(join(dir, 'fresh'));
    catalogs.push(freshCatalog);
    let adopted: unknown;
    const freshSvc = createTrackerService({
      catalog: freshCatalog,
      secret: SECRET,
      keys: [],
      leases: await GatewayLeases.open({
        dir: join(dir, 'node'),
        leaseMs: 60_000,
        now: () => performance.now(),
      }),
      suspectAfterMs: 10_000,
      now: () => performance.now(),
      wallClock: () => Date.now(),
      url: () => 'http://tracker',
      rebuild: {
        syncgroups: undefined,
        waitMs: 60_000,
        decide: async (d) => {
          adopted = d;
          await freshCatalog.adopt({ ...d.catalog!, deleted: d.catalog!.deleted ?? [] });
          return { layout: d.layout!, keys: d.catalog!.keys! };
        },
      },
    });
    const freshTracker = await serve(freshSvc);
    const offered: Array<number | undefined> = [];
    const rejoined = member(freshTracker, guard, { onOffered: (seq) => offered.push(seq) });
    await rejoined.beatOnce();
    assert.deepEqual(offered, [1]);
    assert.ok(adopted, 'decided from the one syncgroup of the offered layout');
    assert.equal(freshSvc.rebuild?.decided, true);
    assert.equal(freshCatalog.getBucket('kept')?.id, id);
    // The next beat brings the adopted catalog back, keys and all; the layout stays the same.
    await rejoined.beatOnce();
    assert.equal(rejoined.catalogCopy()?.seq, 1);
    assert.deepEqual(
      rejoined.catalogCopy()?.keys?.map((k) => k.accessKeyId),
      ['AKMAIN'],
    );
    assert.equal(guard.layoutVersion, 1);
  } finally {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((done) => s.close(() => done()));
    }
    for (const c of catalogs) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a deleted bucket reaches the node as a deleted incarnation, and the node is told once its catalog changed', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-member-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  const svc = createTrackerService({
    catalog,
    layout: initialLayout(['a']),
    secret: SECRET,
    keys: [{ accessKeyId: 'AK1', secretAccessKey: 'secret-one' }],
    leases: await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => performance.now() }),
    suspectAfterMs: 10_000,
    now: () => performance.now(),
    wallClock: () => Date.now(),
    url: () => 'http://tracker',
  });
  const server = createServer(getRequestListener(svc.app.fetch));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const tracker = new TrackerClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secret: SECRET,
  });
  try {
    const seen: Array<[number, number | undefined]> = [];
    const member = new ClusterMember({
      tracker,
      guard: new PartitionGuard({} as StorageApi, 'a'),
      stats: async () => ({ nodeId: 1, volumes: [], objects: 0, uploads: 0 }),
      nodeId: '00000001',
      url: 'http://127.0.0.1:9201',
      dataDir: dir,
      disk: nodeDisk,
      intervalMs: 10_000, // also the heartbeat timeout: generous on a loaded machine
      startedMs: 1,
      onError: () => undefined,
      onCatalog: (now, before) => seen.push([now.seq, before?.seq]),
    });
    await catalog.createBucket({ name: 'doomed', owner: 'AK1', createdMs: 1, region: 'us-east-1' });
    const doomed = catalog.getBucket('doomed')!;
    svc.view.changed();
    await member.beatOnce();
    assert.deepEqual([...member.deletedIncarnations()], []);
    assert.equal(await catalog.deleteBucket(doomed, async () => true), 'deleted');
    svc.view.changed();
    await member.beatOnce();
    assert.deepEqual([...member.deletedIncarnations()], [doomed.id]);
    await member.beatOnce();
    assert.deepEqual(seen, [
      [1, undefined],
      [2, 1],
    ]);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A member beating to a fake tracker at `trackerUrl`, with an interval far beyond any test's timeout: a beat comes
 * soon only when the member asks for one (no layout yet, an unsettled state, beatSoon).
 */
function slowMember(trackerUrl: string, dir: string, guard = new PartitionGuard({} as StorageApi, 'a')) {
  return new ClusterMember({
    tracker: new TrackerClient({ url: trackerUrl, secret: SECRET }),
    guard,
    stats: async () => ({ nodeId: 1, volumes: [], objects: 0, uploads: 0 }),
    nodeId: '00000001',
    url: 'http://127.0.0.1:9201',
    dataDir: dir,
    disk: nodeDisk,
    intervalMs: 60_000,
    startedMs: 1,
    onError: () => undefined,
  });
}

test('a node the tracker gave no layout yet beats again soon, not a whole interval later', {
  timeout: 20_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-member-'));
  // A new cluster's tracker: no layout in the replies until it has decided (here: from the third beat on).
  let beats = 0;
  let third: () => void = () => undefined;
  const thirdBeat = new Promise<void>((resolve) => {
    third = resolve;
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      beats++;
      if (beats === 3) third();
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ suspectAfterMs: 10_000, ...(beats >= 3 ? { layout: initialLayout(['a']) } : {}) }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const guard = new PartitionGuard({} as StorageApi, 'a');
  const member = slowMember(url, dir, guard);
  try {
    member.start();
    await thirdBeat;
    await member.stop();
    assert.equal(guard.layoutVersion, 1);
  } finally {
    await member.stop();
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('beatSoon: a beat at once, or right after the one on its way', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-member-'));
  // Each beat is announced; the second one's answer waits until the test lets it go.
  const arrived = new Map<number, () => void>();
  const beat = (n: number) => new Promise<void>((resolve) => arrived.set(n, resolve));
  const [second, third, fourth] = [beat(2), beat(3), beat(4)];
  let beats = 0;
  let releaseSecond: () => void = () => undefined;
  const secondHeld = new Promise<void>((resolve) => {
    releaseSecond = resolve;
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      const n = ++beats;
      arrived.get(n)?.();
      if (n === 2) await secondHeld;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ suspectAfterMs: 10_000, layout: initialLayout(['a']) }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const member = slowMember(url, dir);
  try {
    member.start();
    // The first reply brought a layout: the second beat comes soon (unsettled) and is held.
    await second;
    // Asked for while the second is on its way: a third follows it at once.
    member.beatSoon();
    releaseSecond();
    await third;
    // Settled now (the next beat is an interval away): asked for, it comes at once.
    await new Promise((r) => setImmediate(r));
    member.beatSoon();
    await fourth;
  } finally {
    releaseSecond();
    await member.stop();
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
