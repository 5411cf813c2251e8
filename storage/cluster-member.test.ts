// A storage node's membership keeps the catalog the tracker sends with heartbeat replies: what its lifecycle
// worker reads bucket settings from (storage nodes have no catalog of their own).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
import { ClusterMember } from './cluster-member.ts';
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
      intervalMs: 1000,
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
