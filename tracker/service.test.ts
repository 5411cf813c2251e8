import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SECRET_HEADER, statusSchema, TRACKER } from '../common/cluster-wire.ts';
import { initialLayout } from '../common/layout.ts';
import { fromWire, toWire } from '../common/wire-json.ts';
import { Catalog } from './catalog.ts';
import { GatewayLeases } from './gateway-leases.ts';
import { NodeRegistry } from './registry.ts';
import { createTrackerService } from './service.ts';

const T = { timeout: 30_000 };
const SECRET = 'a-test-cluster-secret-of-32-chars-or-more';
const G1 = '0000000000000001';
const G2 = '0000000000000002';

async function setup(opts: { leaseMs?: number; ackTimeoutMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'quire-tracker-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  let clock = 0;
  const leases = await GatewayLeases.open({
    dir,
    leaseMs: opts.leaseMs ?? 60_000,
    now: () => performance.now(),
  });
  const svc = createTrackerService({
    catalog,
    layout: initialLayout(['a', 'b']),
    secret: SECRET,
    keys: [{ accessKeyId: 'AK1', secretAccessKey: 'secret-one' }],
    leases,
    suspectAfterMs: 10_000,
    closeAckTimeoutMs: opts.ackTimeoutMs ?? 5_000,
    now: () => clock,
    wallClock: () => 0,
    url: () => 'http://tracker',
  });
  const call = async (
    path: string,
    body?: unknown,
    headers: Record<string, string> = { [SECRET_HEADER]: SECRET },
  ) => {
    const res = await svc.app.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : toWire(body) }),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: test replies are inspected loosely
    return { status: res.status, body: fromWire<Record<string, any>>(text) };
  };
  return {
    dir,
    svc,
    call,
    leases,
    tick: (ms: number) => {
      clock += ms;
    },
    close: async () => {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const beat = (nodeId: string, syncgroup = 'a') => ({
  nodeId,
  syncgroup,
  url: 'http://127.0.0.1:9201',
  startedMs: 1,
  objects: 0,
  volumes: [{ volumeId: 'v1', freeBytes: 10, diskBytes: 1, liveBytes: 1, full: false }],
});

test('every internal call needs the cluster secret; bodies are size-limited and validated', T, async () => {
  const t = await setup();
  try {
    assert.equal((await t.call(TRACKER.status, undefined, {})).status, 403);
    assert.equal((await t.call(TRACKER.status, undefined, { [SECRET_HEADER]: `${SECRET}x` })).status, 403);
    assert.equal((await t.call(TRACKER.heartbeat, beat('0000000a'), {})).status, 403);
    assert.equal((await t.call(TRACKER.status)).status, 200);
    assert.equal((await t.call(TRACKER.heartbeat, { nodeId: 'zz' })).status, 400);
    assert.equal((await t.call(TRACKER.heartbeat, 'not json')).status, 400);
    const huge = { ...beat('0000000a'), pad: 'x'.repeat(2 * 1024 * 1024) };
    assert.equal((await t.call(TRACKER.heartbeat, huge)).status, 413);
    const unknownGroup = await t.call(TRACKER.heartbeat, beat('0000000a', 'zz'));
    assert.equal(unknownGroup.status, 400);
    assert.match(unknownGroup.body.message, /not in this cluster's layout \(a, b\)/);
    assert.equal((await t.svc.app.request('/health')).status, 200);
  } finally {
    await t.close();
  }
});

test('nodes register by heartbeat and turn suspect after the silence limit', T, async () => {
  const t = await setup();
  try {
    const r = await t.call(TRACKER.heartbeat, beat('0000000a'));
    assert.equal(r.status, 200);
    assert.equal(r.body.layout.owners.length, 4096);
    await t.call(TRACKER.heartbeat, beat('0000000b', 'b'));
    t.tick(9_999);
    await t.call(TRACKER.heartbeat, beat('0000000b', 'b'));
    t.tick(1);
    const status = statusSchema.parse((await t.call(TRACKER.status)).body);
    assert.deepEqual(
      status.syncgroups.map((g) => [g.name, g.partitions, g.nodes.map((n) => [n.nodeId, n.state])]),
      [
        ['a', 2048, [['0000000a', 'suspect']]],
        ['b', 2048, [['0000000b', 'up']]],
      ],
    );
    // A node id cannot move to another syncgroup.
    assert.equal((await t.call(TRACKER.heartbeat, beat('0000000a', 'b'))).status, 409);
  } finally {
    await t.close();
  }
});

test(
  'a restarted tracker lists the members it knew, up for one silence limit, then suspect unless they beat',
  T,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quire-registry-'));
    try {
      let now = 1000;
      const first = new NodeRegistry({ suspectAfterMs: 10_000, now: () => now, dir });
      await first.beat(beat('0000000a'));
      await first.beat(beat('0000000b', 'b'));
      now += 60_000;
      const again = new NodeRegistry({ suspectAfterMs: 10_000, now: () => now, dir });
      await again.load();
      assert.deepEqual(
        again.list().map((n) => [n.nodeId, n.syncgroup, n.state]),
        [
          ['0000000a', 'a', 'up'],
          ['0000000b', 'b', 'up'],
        ],
      );
      now += 9_000;
      await again.beat(beat('0000000a'));
      now += 1_000;
      assert.deepEqual(
        again.list().map((n) => n.state),
        ['up', 'suspect'],
        'b did not beat within the silence limit after the restart',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('polls hand out layout, keys and the catalog only when it changed', T, async () => {
  const t = await setup();
  try {
    const first = (await t.call(TRACKER.poll, { gatewayId: G1 })).body;
    assert.equal(first.keys[0].accessKeyId, 'AK1');
    assert.ok(first.catalog);
    const created = await t.call(TRACKER.createBucket, {
      spec: { name: 'photos', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
      initial: { versioning: { status: 'Enabled' } },
    });
    assert.equal(created.body.outcome, 'created');
    const again = (await t.call(TRACKER.poll, { gatewayId: G1, catalogVersion: first.catalog.version })).body;
    assert.equal(again.catalog.buckets[0].name, 'photos');
    assert.deepEqual(again.catalog.configs[0].value, { status: 'Enabled' });
    const same = (await t.call(TRACKER.poll, { gatewayId: G1, catalogVersion: again.catalog.version })).body;
    assert.equal(same.catalog, undefined);
  } finally {
    await t.close();
  }
});

test(
  'heartbeats hand storage nodes the catalog (their lifecycle worker reads bucket settings) only when it changed',
  T,
  async () => {
    const t = await setup();
    try {
      const first = (await t.call(TRACKER.heartbeat, beat('0000000a'))).body;
      assert.ok(first.catalog);
      const created = await t.call(TRACKER.createBucket, {
        spec: { name: 'logs', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
        initial: { lifecycle: [{ id: 'r' }] },
      });
      assert.equal(created.body.outcome, 'created');
      const again = (
        await t.call(TRACKER.heartbeat, { ...beat('0000000a'), catalogVersion: first.catalog.version })
      ).body;
      assert.deepEqual(again.catalog.configs, [
        { id: again.catalog.buckets[0].id, kind: 'lifecycle', value: [{ id: 'r' }] },
      ]);
      const same = (
        await t.call(TRACKER.heartbeat, { ...beat('0000000a'), catalogVersion: again.catalog.version })
      ).body;
      assert.equal(same.catalog, undefined);
      assert.ok(same.layout);
    } finally {
      await t.close();
    }
  },
);

test(
  'a delete waits for every lease holder to see the closing; isCurrent waits for the verdict',
  T,
  async () => {
    const t = await setup();
    try {
      const v0 = (await t.call(TRACKER.poll, { gatewayId: G1 })).body.catalog.version;
      await t.call(TRACKER.poll, { gatewayId: G2 });
      const made = await t.call(TRACKER.createBucket, {
        spec: { name: 'b1', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
      });
      assert.ok(v0);
      const ref = { name: 'b1', id: made.body.catalog.buckets[0].id };
      let closed = false;
      const closing = t.call(TRACKER.close, { bucket: ref }).then((r) => {
        closed = true;
        return r;
      });
      // G1 applies the new catalog (with the closing); G2 has not yet: the close is still waiting.
      const p1 = (await t.call(TRACKER.poll, { gatewayId: G1, catalogVersion: v0 })).body.catalog;
      assert.deepEqual(p1.closing, [ref.id]);
      await t.call(TRACKER.poll, { gatewayId: G1, catalogVersion: p1.version });
      await new Promise((r) => setImmediate(r));
      assert.equal(closed, false);
      await t.call(TRACKER.poll, { gatewayId: G2, catalogVersion: p1.version });
      const c = (await closing).body;
      assert.equal(c.outcome, 'closing');
      let answered: boolean | undefined;
      const current = t.call(TRACKER.isCurrent, { bucket: ref }).then((r) => {
        answered = r.body.current;
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(answered, undefined, 'isCurrent must wait while the delete decides');
      const fin = await t.call(TRACKER.closeFinish, { bucket: ref, token: c.token, empty: true });
      assert.equal(fin.body.outcome, 'deleted');
      await current;
      assert.equal(answered, false);
      assert.deepEqual(fin.body.catalog.buckets, []);
      // A second finish with the same token is refused as expired (retryable).
      const late = await t.call(TRACKER.closeFinish, { bucket: ref, token: c.token, empty: true });
      assert.equal(late.status, 503);
    } finally {
      await t.close();
    }
  },
);

test('a lease holder that never confirms makes the delete answer 503 and the bucket stays', T, async () => {
  const t = await setup({ ackTimeoutMs: 200 });
  try {
    await t.call(TRACKER.poll, { gatewayId: G2 });
    const made = await t.call(TRACKER.createBucket, {
      spec: { name: 'b1', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
    });
    const ref = { name: 'b1', id: made.body.catalog.buckets[0].id };
    const r = await t.call(TRACKER.close, { bucket: ref });
    assert.equal(r.status, 503);
    assert.match(r.body.message, new RegExp(G2));
    assert.equal((await t.call(TRACKER.isCurrent, { bucket: ref })).body.current, true);
    const p = (await t.call(TRACKER.poll, { gatewayId: G2 })).body;
    assert.deepEqual(p.catalog.closing, []);
  } finally {
    await t.close();
  }
});

test(
  'a gateway whose lease ran out is not waited for; a restarted tracker still waits for known holders',
  T,
  async () => {
    const t = await setup({ leaseMs: 1000, ackTimeoutMs: 5000 });
    try {
      // The lease is counted from when the tracker received the poll, so from no earlier than this.
      const leaseFrom = performance.now();
      await t.call(TRACKER.poll, { gatewayId: G2 });
      const made = await t.call(TRACKER.createBucket, {
        spec: { name: 'b1', owner: 'AK1', createdMs: 1, region: 'us-east-1' },
      });
      const ref = { name: 'b1', id: made.body.catalog.buckets[0].id };
      const r = (await t.call(TRACKER.close, { bucket: ref })).body;
      assert.equal(r.outcome, 'closing');
      // (A timer may fire a millisecond early.)
      assert.ok(performance.now() - leaseFrom >= 995, 'waited for the silent lease to run out');
      assert.deepEqual(
        t.leases.list().map((l) => l.gatewayId),
        [],
        'the close returned only once the silent lease had run out',
      );
      assert.equal(
        (await t.call(TRACKER.closeFinish, { bucket: ref, token: r.token, empty: false })).body.outcome,
        'not-empty',
      );
      // The holder list survives a restart: a reopened lease table still names G2 (until its lease runs out again).
      await t.call(TRACKER.poll, { gatewayId: G1 });
      const reopened = await GatewayLeases.open({
        dir: t.dir,
        leaseMs: 60_000,
        now: () => performance.now(),
      });
      assert.deepEqual(
        reopened
          .list()
          .map((l) => l.gatewayId)
          .sort(),
        [G1],
      );
      await t.call(TRACKER.leave, { gatewayId: G1 });
      const empty = await GatewayLeases.open({ dir: t.dir, leaseMs: 60_000, now: () => performance.now() });
      assert.deepEqual(empty.list(), []);
    } finally {
      await t.close();
    }
  },
);
