// The gateway's copy of the tracker, against a real tracker service over HTTP on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { initialLayout } from '../../common/layout.ts';
import { TrackerClient } from '../../common/tracker-client.ts';
import { Catalog } from '../../tracker/catalog.ts';
import { GatewayLeases } from '../../tracker/gateway-leases.ts';
import { createTrackerService } from '../../tracker/service.ts';
import { S3Error } from '../errors.ts';
import { TrackerDirectory } from './tracker-directory.ts';

const T = { timeout: 30_000 };
const SECRET = 'tracker-directory-test-secret-0123456789';
const LEASE_MS = 60_000;

/** A real tracker service on 127.0.0.1 and a gateway's directory of it; `trackerNow` is the tracker's clock. */
async function setup(trackerNow: () => number = () => performance.now()) {
  const dir = mkdtempSync(join(tmpdir(), 'quire-directory-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  const leases = await GatewayLeases.open({ dir, leaseMs: LEASE_MS, now: trackerNow });
  const svc = createTrackerService({
    catalog,
    layout: initialLayout(['a', 'b']),
    secret: SECRET,
    keys: [{ accessKeyId: 'AK1', secretAccessKey: 'secret-one' }],
    leases,
    suspectAfterMs: 10_000,
    now: trackerNow,
    wallClock: () => 0,
    url: () => 'http://tracker',
  });
  const server: Server = createServer(getRequestListener(svc.app.fetch));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let gatewayNow = 0;
  const directory = new TrackerDirectory({
    tracker: new TrackerClient({ url, secret: SECRET, timeoutMs: 5000 }),
    pollMs: 1_000_000,
    now: () => gatewayNow,
  });
  return {
    svc,
    directory,
    advance: (ms: number) => {
      gatewayNow += ms;
    },
    stopTracker: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
    close: async () => {
      if (server.listening) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const spec = (name: string) => ({ name, owner: 'AK1', createdMs: 1, region: 'us-east-1' });
const unavailable = (e: unknown) => e instanceof S3Error && e.code === 'ServiceUnavailable';

test('the first poll brings layout, keys and catalog; a created bucket is visible at once', T, async () => {
  const t = await setup();
  try {
    assert.equal(t.directory.ready, false);
    await t.directory.poll();
    assert.equal(t.directory.ready, true);
    assert.equal(t.directory.layout?.syncgroups.join(), 'a,b');
    assert.equal(t.directory.credentials('AK1')?.secretAccessKey, 'secret-one');
    assert.equal(
      await t.directory.createBucket(spec('photos'), { versioning: { status: 'Enabled' } }),
      'created',
    );
    const b = t.directory.getBucket('photos')!;
    assert.deepEqual(t.directory.getBucketConfig(b, 'versioning'), { status: 'Enabled' });
    assert.equal(await t.directory.putBucketConfig(b, 'versioning', undefined), true);
    assert.equal(t.directory.getBucketConfig(b, 'versioning'), undefined);
    assert.deepEqual(
      t.directory.listBuckets('AK1').map((x) => x.name),
      ['photos'],
    );
  } finally {
    await t.close();
  }
});

test(
  'with the tracker gone: isCurrent from the copy while the lease holds, then 503; bucket changes 503',
  T,
  async () => {
    const t = await setup();
    try {
      await t.directory.poll();
      await t.directory.createBucket(spec('keep'));
      const b = t.directory.getBucket('keep')!;
      await t.stopTracker();
      assert.equal(await t.directory.isCurrent(b), true);
      assert.equal(await t.directory.isCurrent({ name: 'keep', id: '~other' }), false);
      await assert.rejects(t.directory.createBucket(spec('new-one')), unavailable);
      await assert.rejects(
        t.directory.deleteBucket(b, async () => true),
        unavailable,
      );
      t.advance(LEASE_MS);
      // Past the lease the copy may be stale (a delete may have happened): ask, and the tracker is not there.
      await assert.rejects(t.directory.isCurrent(b), unavailable);
    } finally {
      await t.close();
    }
  },
);

test(
  'DeleteBucket through the tracker: deleted when empty, kept when not or when the check fails',
  T,
  async () => {
    const t = await setup();
    try {
      await t.directory.poll();
      await t.directory.createBucket(spec('gone'));
      await t.directory.createBucket(spec('full'));
      await t.directory.createBucket(spec('failing'));
      const full = t.directory.getBucket('full')!;
      assert.equal(await t.directory.deleteBucket(full, async () => false), 'not-empty');
      assert.equal(await t.directory.isCurrent(full), true);
      const failing = t.directory.getBucket('failing')!;
      await assert.rejects(
        t.directory.deleteBucket(failing, async () => {
          throw new Error('a node did not answer');
        }),
        /did not answer/,
      );
      await t.directory.poll();
      assert.equal(await t.directory.isCurrent(failing), true);
      const gone = t.directory.getBucket('gone')!;
      let askedWhileClosing: boolean | undefined;
      assert.equal(
        await t.directory.deleteBucket(gone, async () => {
          // While deciding, this gateway's copy shows the closing: isCurrent asks the tracker, which waits for
          // the verdict — so it cannot answer before this check returns.
          void t.directory.isCurrent(gone).then((v) => {
            askedWhileClosing = v;
          });
          await new Promise((r) => setImmediate(r));
          assert.equal(askedWhileClosing, undefined);
          return true;
        }),
        'deleted',
      );
      assert.equal(t.directory.getBucket('gone'), undefined);
      assert.equal(await t.directory.isCurrent(gone), false);
      for (let i = 0; i < 50 && askedWhileClosing === undefined; i++)
        await new Promise((r) => setImmediate(r));
      assert.equal(askedWhileClosing, false);
    } finally {
      await t.close();
    }
  },
);

test(
  'a mirrored member the tracker no longer lists (forgotten) is dropped; one of an unlisted group is kept',
  T,
  async () => {
    let trackerNow = 0;
    const t = await setup(() => trackerNow);
    const { svc, directory } = t;
    const beat = (nodeId: string, syncgroup: string, port: number) =>
      svc.registry.beat({
        nodeId,
        syncgroup,
        url: `http://127.0.0.1:${port}`,
        startedMs: 0,
        objects: 0,
        volumes: [],
        layoutVersion: 1,
        sync: [],
        mirrors: [],
      });
    try {
      await beat('0000000a', 'a', 1);
      await beat('0000000b', 'a', 2);
      await beat('0000000c', 'b', 3);
      await directory.poll();
      assert.deepEqual(directory.nodes.map((n) => n.nodeId).sort(), ['0000000a', '0000000b', '0000000c']);
      // b goes silent, the operator forgets it: the gateway drops it with its reports.
      trackerNow += 10_000;
      await beat('0000000a', 'a', 1);
      assert.equal(await svc.registry.forget('0000000b'), 'forgotten');
      await directory.poll();
      assert.deepEqual(directory.nodes.map((n) => n.nodeId).sort(), ['0000000a', '0000000c']);
      // A tracker that lists nobody of group b (wiped, relearning): c is kept, suspect, to be tried.
      assert.equal(await svc.registry.forget('0000000c'), 'forgotten');
      await directory.poll();
      const c = directory.nodes.find((n) => n.nodeId === '0000000c');
      assert.equal(c?.state, 'suspect');
    } finally {
      await t.close();
    }
  },
);
