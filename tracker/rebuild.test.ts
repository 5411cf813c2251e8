// A tracker with a fresh data directory rebuilds its catalog and layout from the copies the storage nodes offer,
// and refuses bucket changes and gateway polls (503) until it has decided.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CatalogCopy, SECRET_HEADER, statusSchema, TRACKER } from '../common/cluster-wire.ts';
import { initialLayout, type Layout } from '../common/layout.ts';
import { fromWire, toWire } from '../common/wire-json.ts';
import { Catalog } from './catalog.ts';
import { GatewayLeases } from './gateway-leases.ts';
import { checkSyncgroups, LayoutError } from './layout-store.ts';
import type { RebuildDecision } from './rebuild.ts';
import { createTrackerService } from './service.ts';

const T = { timeout: 30_000 };
const SECRET = 'a-test-cluster-secret-of-32-chars-or-more';
const OLD_KEY = { accessKeyId: 'AKOLD', secretAccessKey: 'old-secret', main: true };

async function fresh(opts: { waitMs?: number; syncgroups?: string[]; refuseLayout?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'quire-rebuild-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  let clock = 0;
  const leases = await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => clock });
  const decisions: RebuildDecision[] = [];
  const svc = createTrackerService({
    catalog,
    secret: SECRET,
    keys: [],
    leases,
    suspectAfterMs: 10_000,
    now: () => clock,
    wallClock: () => 0,
    url: () => 'http://tracker',
    rebuild: {
      syncgroups: opts.syncgroups,
      waitMs: opts.waitMs ?? 30_000,
      decide: async (d) => {
        decisions.push(d);
        if (opts.refuseLayout && d.layout) throw new Error('the storage nodes hold another layout');
        if (d.catalog) await catalog.adopt({ ...d.catalog, deleted: d.catalog.deleted ?? [] });
        const keys = d.catalog?.keys ?? [{ accessKeyId: 'AKNEW', secretAccessKey: 'new', main: true }];
        return { layout: d.layout ?? initialLayout(opts.syncgroups ?? []), keys };
      },
    },
  });
  const call = async (path: string, body?: unknown) => {
    const res = await svc.app.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { [SECRET_HEADER]: SECRET },
      ...(body === undefined ? {} : { body: toWire(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: test replies are inspected loosely
    return { status: res.status, body: fromWire<Record<string, any>>(await res.text()) };
  };
  return {
    svc,
    call,
    catalog,
    decisions,
    tick: (ms: number) => {
      clock += ms;
    },
    close: async () => {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const beat = (nodeId: string, syncgroup: string, extra: object = {}) => ({
  nodeId,
  syncgroup,
  url: `http://127.0.0.1:${9000 + Number.parseInt(nodeId, 16)}`,
  startedMs: 1,
  objects: 0,
  volumes: [],
  ...extra,
});

function copy(seq: number, buckets: string[]): CatalogCopy {
  return {
    version: `e.${seq}`,
    seq,
    buckets: buckets.map((name, i) => ({
      name,
      id: `~${String(i).padStart(32, '0')}`,
      owner: 'AKOLD',
      createdMs: 1,
      region: 'us-east-1',
    })),
    configs: buckets.length ? [{ id: `~${'0'.repeat(32)}`, kind: 'replication-mode', value: 'async' }] : [],
    keys: [OLD_KEY, { accessKeyId: 'AKEXTRA', secretAccessKey: 'extra-secret' }],
    deleted: [{ id: '~dead', seq: 2 }],
  };
}

const layoutAB: Layout = initialLayout(['a', 'b']);

test(
  'a fresh tracker asks every node for its copy, answers 503 until one node of each syncgroup offered, then adopts the newest',
  T,
  async () => {
    const t = await fresh();
    try {
      const first = await t.call(
        TRACKER.heartbeat,
        beat('0000000a', 'a', { catalogSeq: 5, layoutVersion: 1 }),
      );
      assert.equal(first.status, 200);
      assert.equal(first.body.offer, true, 'asks for the copy');
      assert.equal(first.body.layout, undefined, 'pushes no layout before deciding');
      assert.equal(first.body.catalog, undefined, 'never sends an empty catalog over a node copy');
      const create = await t.call(TRACKER.createBucket, {
        spec: { name: 'new', owner: 'AKOLD', createdMs: 1, region: 'us-east-1' },
      });
      assert.equal(create.status, 503);
      assert.equal(create.body.code, 'ServiceUnavailable');
      assert.equal((await t.call(TRACKER.poll, { gatewayId: '0000000000000001' })).status, 503);
      const rebuilding = statusSchema.parse((await t.call(TRACKER.status)).body);
      assert.equal(rebuilding.catalog?.state, 'rebuilding');
      assert.deepEqual(
        rebuilding.syncgroups.map((g) => [g.name, g.nodes.length]),
        [['a', 1]],
      );

      await t.call(TRACKER.offer, {
        nodeId: '0000000a',
        syncgroup: 'a',
        catalog: copy(5, ['old']),
        layout: layoutAB,
      });
      assert.equal(t.decisions.length, 0, 'syncgroup b has not reported');
      // b's node holds a newer copy: it wins.
      await t.call(TRACKER.heartbeat, beat('0000000b', 'b', { catalogSeq: 7 }));
      await t.call(TRACKER.offer, {
        nodeId: '0000000b',
        syncgroup: 'b',
        catalog: copy(7, ['old', 'older']),
        layout: layoutAB,
      });
      assert.equal(t.decisions.length, 1);
      assert.equal(t.decisions[0]!.catalog?.seq, 7);
      assert.equal(t.decisions[0]!.catalogFrom, '0000000b');
      assert.deepEqual(
        t.catalog.listBuckets().map((b) => b.name),
        ['old', 'older'],
      );
      assert.equal(t.catalog.seq, 7);

      // Decided: layout and the catalog (with keys and tombstones) go to the nodes, polls and creates work.
      const after = await t.call(TRACKER.heartbeat, beat('0000000a', 'a', { catalogSeq: 5 }));
      assert.equal(after.body.offer, undefined);
      assert.equal(after.body.layout.version, 1);
      assert.equal(after.body.catalog.seq, 7);
      assert.deepEqual(
        after.body.catalog.keys.map((k: { accessKeyId: string }) => k.accessKeyId),
        ['AKOLD', 'AKEXTRA'],
      );
      assert.deepEqual(after.body.catalog.deleted, [{ id: '~dead', seq: 2 }]);
      const poll = await t.call(TRACKER.poll, { gatewayId: '0000000000000001' });
      assert.equal(poll.status, 200);
      assert.deepEqual(
        poll.body.keys.map((k: { accessKeyId: string }) => k.accessKeyId),
        ['AKOLD', 'AKEXTRA'],
      );
      assert.equal(poll.body.keys[0].main, undefined, 'gateways get the keys as before');
      const made = await t.call(TRACKER.createBucket, {
        spec: { name: 'new', owner: 'AKOLD', createdMs: 1, region: 'us-east-1' },
      });
      assert.equal(made.body.outcome, 'created');
      assert.equal(t.catalog.seq, 8, 'changes number on from the adopted copy');
      const ready = statusSchema.parse((await t.call(TRACKER.status)).body);
      assert.equal(ready.catalog?.state, 'ready');
      assert.deepEqual(ready.catalog?.asyncBuckets, ['old']);
    } finally {
      await t.close();
    }
  },
);

test(
  'after the wait a fresh tracker decides with the offers it has; with none it keeps waiting',
  T,
  async () => {
    const t = await fresh({ waitMs: 5_000, syncgroups: ['a', 'b'] });
    try {
      t.tick(6_000);
      await t.svc.rebuild!.maybeDecide();
      assert.equal(
        t.decisions.length,
        0,
        'no node reported: a wiped tracker must not start an empty catalog',
      );
      await t.call(TRACKER.heartbeat, beat('0000000a', 'a'));
      await t.call(TRACKER.offer, { nodeId: '0000000a', syncgroup: 'a', catalog: copy(3, ['x']) });
      assert.equal(t.decisions.length, 1, 'b never reported, but the wait is over');
      assert.equal(t.decisions[0]!.catalog?.seq, 3);
    } finally {
      await t.close();
    }
  },
);

test(
  'a new cluster: the nodes hold nothing, the tracker decides as soon as each syncgroup reported',
  T,
  async () => {
    const t = await fresh({ syncgroups: ['a', 'b'] });
    try {
      await t.call(TRACKER.heartbeat, beat('0000000a', 'a'));
      await t.call(TRACKER.offer, { nodeId: '0000000a', syncgroup: 'a' });
      await t.call(TRACKER.heartbeat, beat('0000000b', 'b'));
      await t.call(TRACKER.offer, { nodeId: '0000000b', syncgroup: 'b' });
      assert.equal(t.decisions.length, 1);
      assert.equal(t.decisions[0]!.catalog, undefined);
      const hb = await t.call(TRACKER.heartbeat, beat('0000000b', 'b'));
      assert.deepEqual(hb.body.layout.syncgroups, ['a', 'b']);
      assert.equal(hb.body.catalog.seq, 0);
    } finally {
      await t.close();
    }
  },
);

test(
  'a decision that fails (a layout contradicting --syncgroups) stops the tracker and changes nothing',
  T,
  async () => {
    // --syncgroups a,b; the nodes hold a layout of syncgroup a alone.
    const t = await fresh({ syncgroups: ['a', 'b'], refuseLayout: true });
    try {
      await t.call(TRACKER.heartbeat, beat('0000000a', 'a'));
      const offered = await t.call(TRACKER.offer, {
        nodeId: '0000000a',
        syncgroup: 'a',
        catalog: copy(3, ['x']),
        layout: initialLayout(['a']),
      });
      assert.equal(offered.status, 200);
      const err = await t.svc.rebuild!.failed;
      assert.match((err as Error).message, /another layout/);
      assert.equal(t.svc.rebuild!.decided, false);
      assert.equal((await t.call(TRACKER.poll, { gatewayId: '0000000000000001' })).status, 503);
    } finally {
      await t.close();
    }
  },
);

test('an offer is validated and size-limited like every internal body', T, async () => {
  const t = await fresh();
  try {
    assert.equal((await t.call(TRACKER.offer, { nodeId: 'nope', syncgroup: 'a' })).status, 400);
    const bad = { ...layoutAB, owners: layoutAB.owners.map(() => 7) };
    assert.equal(
      (await t.call(TRACKER.offer, { nodeId: '0000000a', syncgroup: 'a', layout: bad })).status,
      400,
    );
    // Larger than other calls may be (a whole catalog), but bounded.
    const big = copy(1, ['x']);
    big.configs = [{ id: big.buckets[0]!.id, kind: 'policy', value: 'p'.repeat(2 * 1024 * 1024) }];
    assert.equal(
      (await t.call(TRACKER.offer, { nodeId: '0000000a', syncgroup: 'a', catalog: big })).status,
      200,
    );
  } finally {
    await t.close();
  }
});

test('--syncgroups that differ from the layout the nodes hold are named in one line with the fix', T, () => {
  assert.doesNotThrow(() =>
    checkSyncgroups(layoutAB, ['a', 'b'], 'the storage nodes hold a layout made with'),
  );
  assert.doesNotThrow(() =>
    checkSyncgroups(layoutAB, undefined, 'the storage nodes hold a layout made with'),
  );
  assert.throws(
    () => checkSyncgroups(layoutAB, ['a', 'c'], 'the storage nodes hold a layout made with'),
    (err: Error) =>
      err instanceof LayoutError &&
      !err.message.includes('\n') &&
      err.message ===
        'the storage nodes hold a layout made with --syncgroups a,b (layout version 1), not a,c; changing syncgroups is not supported yet: start the tracker with --syncgroups a,b or without --syncgroups',
  );
});

test(
  'a decided tracker older than a node copy (restored from a backup) says so and leaves that copy alone',
  T,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quire-rebuild-'));
    const catalog = Catalog.open(join(dir, 'catalog'));
    const warned: Array<[string, number, number]> = [];
    try {
      await catalog.createBucket({ name: 'b', owner: 'AK1', createdMs: 1, region: 'us-east-1' });
      const svc = createTrackerService({
        catalog,
        layout: layoutAB,
        secret: SECRET,
        keys: [{ accessKeyId: 'AK1', secretAccessKey: 's' }],
        leases: await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => 0 }),
        suspectAfterMs: 10_000,
        now: () => 0,
        wallClock: () => 0,
        url: () => 'http://tracker',
        onNewerCatalog: (node, nodeSeq, trackerSeq) => warned.push([node, nodeSeq, trackerSeq]),
      });
      const hb = async (b: object) =>
        fromWire<Record<string, unknown>>(
          await (
            await svc.app.request(TRACKER.heartbeat, {
              method: 'POST',
              headers: { [SECRET_HEADER]: SECRET },
              body: toWire(b),
            })
          ).text(),
        );
      const ahead = await hb(beat('0000000a', 'a', { catalogVersion: 'x.9', catalogSeq: 9 }));
      assert.equal(ahead.catalog, undefined, 'an older catalog never replaces a newer copy');
      assert.deepEqual(warned, [['0000000a', 9, 1]]);
      const behind = (await hb(beat('0000000b', 'b', { catalogVersion: 'x.1', catalogSeq: 0 }))) as {
        catalog?: { seq: number };
      };
      assert.equal(behind.catalog?.seq, 1);
    } finally {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
