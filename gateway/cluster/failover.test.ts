// Routing inside a mirrored syncgroup against a model: writes go to the up members' rendezvous primary only, reads
// try the members in rendezvous order (up, then suspect) until one answers, listings ask exactly one member per
// syncgroup; a read whose stream has not delivered its first bytes moves to a mirror; a node that accepts a
// connection and never answers (SIGSTOP) is left after the deadline.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodeState, NodeView } from '../../common/cluster-wire.ts';
import { initialLayout, rankMembers } from '../../common/layout.ts';
import type { ObjectRecord, PutObjectInput, ReadHandle, StorageApi } from '../../storage/api.ts';
import { StorageClient } from '../../storage/http-client.ts';
import { S3Error } from '../errors.ts';
import { ClusterRouter, type NodeClient } from './router.ts';
import { listOrder, membersOf, mirrored, readOrder, writeOrder, writeTarget } from './routing.ts';

const T = { timeout: 120_000 };
const BUCKET = '~0123456789abcdef0123456789abcdef';

function member(nodeId: string, syncgroup: string, state: NodeState, mirrors = true): NodeView {
  return {
    nodeId,
    syncgroup,
    url: `http://${nodeId}`,
    startedMs: 0,
    objects: 0,
    volumes: [],
    state,
    silentMs: 0,
    layoutVersion: 1,
    ...(mirrors ? { sync: [] } : {}),
  };
}

const stateArb = fc.constantFrom<NodeState>('up', 'suspect', 'recovering');
const keyArb = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
/** 1–5 members of one syncgroup with distinct 8-hex-digit ids and any states. */
const membersArb = fc
  .uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 5 })
  .chain((ids) =>
    fc
      .array(stateArb, { minLength: ids.length, maxLength: ids.length })
      .map((states) => ids.map((id, i) => member(id.toString(16).padStart(8, '0'), 'g', states[i]!))),
  );

const ids = (ns: readonly NodeView[]) => ns.map((n) => n.nodeId);
const withState = (ns: readonly NodeView[], s: NodeState) => ids(ns.filter((n) => n.state === s));

test(
  'routing model: writes to the up primary only; reads up then suspect in rendezvous order; lists one',
  T,
  () => {
    fc.assert(
      fc.property(membersArb, keyArb, (members, key) => {
        const up = withState(members, 'up');
        const suspect = withState(members, 'suspect');
        // Writes: the rendezvous primary over the up members, or nobody.
        assert.equal(writeTarget(members, BUCKET, key)?.nodeId, rankMembers(up, BUCKET, key)[0]);
        // Reads: every up member in rendezvous order, then every suspect one; never a recovering one.
        const order = ids(readOrder(members, BUCKET, key));
        assert.deepEqual(order, [...rankMembers(up, BUCKET, key), ...rankMembers(suspect, BUCKET, key)]);
        if (up.length > 0) assert.equal(order[0], writeTarget(members, BUCKET, key)?.nodeId);
        // Listings: one member of the group at a time, in the same kind of order (stable per bucket).
        const lo = listOrder(members, BUCKET);
        assert.equal(lo.askAll, false);
        if (!lo.askAll) assert.deepEqual(ids(lo.nodes), ids(readOrder(members, BUCKET, Buffer.alloc(0))));
      }),
      { numRuns: 2000 },
    );
  },
);

test('routing model: members that do not mirror keep the routing from before mirroring', T, () => {
  fc.assert(
    fc.property(membersArb, keyArb, fc.nat(), (members, key, which) => {
      // One serving member without push sync makes the whole group unmirrored.
      const serving = members.filter((m) => m.state !== 'recovering');
      fc.pre(serving.length > 0);
      const plain = serving[which % serving.length]!;
      const group = members.map((m) => (m === plain ? { ...m, sync: undefined } : m));
      assert.equal(mirrored(group), false);
      const primary = rankMembers(ids(group), BUCKET, key)[0];
      assert.equal(writeTarget(group, BUCKET, key)?.nodeId, primary);
      assert.deepEqual(ids(readOrder(group, BUCKET, key)), [primary]);
      const lo = listOrder(group, BUCKET);
      assert.equal(lo.askAll, true);
      assert.deepEqual(ids(lo.nodes), ids(group));
    }),
    { numRuns: 1000 },
  );
});

/** How a fake node behaves: answers, refuses connections (SIGKILL), never answers (SIGSTOP), or answers late. */
type Behaviour = 'ok' | 'refused' | 'frozen' | 'slow';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const timedOut = () => Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' });

function record(key: Buffer, counter: bigint, nodeId: number): ObjectRecord {
  return {
    bucket: BUCKET,
    key,
    size: 3,
    etag: 'e',
    lastModifiedMs: 0,
    headers: { userMeta: {} },
    checksums: {},
    opver: { counter, nodeId },
    versionId: 'null',
  };
}

/**
 * A fake storage node: every call is logged; 'refused' rejects at once, 'frozen' rejects only when its deadline
 * (`answerMs`) passes, at once here, or its signal aborts, and otherwise never settles; 'slow' misses any
 * deadline but answers without one.
 */
function fakeNode(
  id: string,
  behaviour: () => Behaviour,
  log: Array<{ node: string; call: string; bounded: boolean }>,
  extra: Partial<StorageApi> = {},
): NodeClient {
  const make = (limits: { answerMs?: number; signal?: AbortSignal }): NodeClient => {
    const run = <T>(call: string, answer: () => T): Promise<T> => {
      log.push({ node: id, call, bounded: limits.answerMs !== undefined });
      const b = behaviour();
      if (b === 'refused') return Promise.reject(refused());
      if (b === 'slow' && limits.answerMs !== undefined) return Promise.reject(timedOut());
      if (b === 'frozen') {
        if (limits.answerMs !== undefined) return Promise.reject(timedOut());
        return new Promise<T>((_resolve, reject) =>
          limits.signal?.addEventListener('abort', () => reject(limits.signal?.reason)),
        );
      }
      return Promise.resolve(answer());
    };
    const api = {
      headObject: (_b: string, key: Buffer) => run('headObject', () => record(key, 1n, 1)),
      listObjects: () =>
        run('listObjects', () => [{ key: Buffer.from(id), size: 1, etag: 'e', lastModifiedMs: 0 }]),
      hasObjects: () => run('hasObjects', () => false),
      deleteObject: () => run('deleteObject', () => true),
      listUploads: () => run('listUploads', () => []),
      bounded: (l: typeof limits) => make(l),
      close: async () => {},
      ...extra,
    };
    return api as unknown as NodeClient;
  };
  return make({});
}

test(
  'reads fail over in rendezvous order to the first member that answers; writes only past a refused connection',
  T,
  async () => {
    const behaviourArb = fc.constantFrom<Behaviour>('ok', 'refused', 'frozen', 'slow');
    await fc.assert(
      fc.asyncProperty(
        membersArb,
        fc.array(behaviourArb, { minLength: 5, maxLength: 5 }),
        keyArb,
        async (members, behaviours, key) => {
          const layout = initialLayout(['g']);
          const nodes = members.map((m) => m);
          const behaviourOf = new Map(nodes.map((n, i) => [n.nodeId, behaviours[i]!]));
          const log: Array<{ node: string; call: string; bounded: boolean }> = [];
          const router = new ClusterRouter({
            view: { layout, nodes, refresh: async () => {} },
            connect: (url) => {
              const id = url.slice('http://'.length);
              return fakeNode(id, () => behaviourOf.get(id)!, log);
            },
          });
          const order = ids(readOrder(nodes, BUCKET, key));
          // The model: members in read order up to and including the first that answers; the last one asked
          // without a deadline (nobody is left to fail over to), every earlier one with it.
          // The model: members in read order, each but the last with a deadline, up to the first that answers;
          // if none does, those that were only too slow (frozen or slow) again without it, in the same order.
          const want: Array<[string, boolean]> = [];
          let outcome: 'answered' | 'unavailable' | 'hangs' = 'unavailable';
          const timedOut: string[] = [];
          for (const [i, id] of order.entries()) {
            const bounded = i < order.length - 1;
            const b = behaviourOf.get(id);
            want.push([id, bounded]);
            if (b === 'ok' || (b === 'slow' && !bounded)) outcome = 'answered';
            else if (b === 'frozen' && !bounded) outcome = 'hangs';
            else if (b !== 'refused') timedOut.push(id);
            if (outcome !== 'unavailable') break;
          }
          if (outcome === 'unavailable')
            for (const id of timedOut) {
              want.push([id, false]);
              outcome = behaviourOf.get(id) === 'slow' ? 'answered' : 'hangs';
              break;
            }
          // A frozen member asked without a deadline never answers here (a real one is cut once suspect).
          if (outcome !== 'hangs') {
            const got = router.headObject(BUCKET, key);
            if (outcome === 'unavailable')
              await assert.rejects(got, (e) => e instanceof S3Error && e.code === 'ServiceUnavailable');
            else assert.ok(await got);
            assert.deepEqual(
              log.map((l) => [l.node, l.bounded]),
              want,
            );
          }
          // A write goes to the up primary, and on to the next member that takes writes only past a member that
          // refused the connection (nothing reached it); any other answer or failure is the write's.
          log.length = 0;
          const wantWrite: Array<[string, boolean]> = [];
          let wrote: 'ok' | 'unavailable' | 'hangs' = 'unavailable';
          for (const id of ids(writeOrder(nodes, BUCKET, key))) {
            wantWrite.push([id, false]);
            const b = behaviourOf.get(id);
            if (b === 'refused') continue;
            wrote = b === 'frozen' ? 'hangs' : 'ok';
            break;
          }
          if (wrote === 'hangs') return;
          assert.equal(wantWrite[0]?.[0], writeTarget(nodes, BUCKET, key)?.nodeId);
          const deleted = router.deleteObject(BUCKET, key);
          if (wrote === 'ok') assert.equal(await deleted, true);
          else await assert.rejects(deleted, (e) => e instanceof S3Error && e.code === 'ServiceUnavailable');
          assert.deepEqual(
            log.map((l) => [l.node, l.bounded]),
            wantWrite,
          );
        },
      ),
      { numRuns: 500 },
    );
  },
);

test(
  'a listing asks exactly one member per syncgroup, the next only when one does not answer',
  T,
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(stateArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.constantFrom<Behaviour>('ok', 'refused', 'frozen'), { minLength: 9, maxLength: 9 }),
        async (groupStates, behaviours) => {
          const names = groupStates.map((_s, i) => `g${i}`);
          const layout = initialLayout(names);
          const nodes = groupStates.flatMap((states, g) =>
            states.map((s, i) => member(`${g}${i}`.padStart(8, '0'), names[g]!, s)),
          );
          const behaviourOf = new Map(nodes.map((n, i) => [n.nodeId, behaviours[i]!]));
          // Keep the model finite: a group where nobody answers refuses rather than hangs (a frozen member asked
          // again without a deadline is cut only once the tracker marks it suspect; see the test for that).
          for (const g of names) {
            const lo = listOrder(
              nodes.filter((n) => n.syncgroup === g),
              BUCKET,
            );
            const answers = lo.nodes.some((n) => behaviourOf.get(n.nodeId) === 'ok');
            const last = lo.nodes.at(-1);
            for (const n of lo.nodes)
              if (behaviourOf.get(n.nodeId) === 'frozen' && (!answers || n === last))
                behaviourOf.set(n.nodeId, 'refused');
          }
          const log: Array<{ node: string; call: string; bounded: boolean }> = [];
          const router = new ClusterRouter({
            view: { layout, nodes, refresh: async () => {} },
            connect: (url) => {
              const id = url.slice('http://'.length);
              return fakeNode(id, () => behaviourOf.get(id)!, log);
            },
          });
          const wanted: string[] = [];
          let answerable = true;
          for (const g of names) {
            const lo = listOrder(
              nodes.filter((n) => n.syncgroup === g),
              BUCKET,
            );
            assert.equal(lo.askAll, false);
            const first = lo.nodes.findIndex((n) => behaviourOf.get(n.nodeId) === 'ok');
            if (first < 0) answerable = false;
            else wanted.push(lo.nodes[first]!.nodeId);
          }
          const listed = router.listObjects(BUCKET, { prefix: Buffer.alloc(0), limit: 100 });
          if (!answerable) {
            await assert.rejects(listed, (e) => e instanceof S3Error && e.code === 'ServiceUnavailable');
            return;
          }
          const got = (await listed).map((o) => o.key.toString());
          assert.deepEqual(got.sort(), [...wanted].sort(), 'one answer per syncgroup');
          for (const g of names) {
            const asked = log.filter((l) => nodes.find((n) => n.nodeId === l.node)!.syncgroup === g);
            const lo = listOrder(
              nodes.filter((n) => n.syncgroup === g),
              BUCKET,
            );
            const first = lo.nodes.findIndex((n) => behaviourOf.get(n.nodeId) === 'ok');
            assert.deepEqual(
              asked.map((a) => a.node),
              ids(lo.nodes.slice(0, first + 1)),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  },
);

/** A handle whose stream fails before its first bytes (the node died after opening) or yields `bytes`. */
function handle(
  rec: ObjectRecord,
  stream: 'dies' | 'late' | Buffer,
  released: string[],
  name: string,
): ReadHandle {
  return {
    record: rec,
    async *stream() {
      if (stream === 'dies') throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      if (stream === 'late') throw timedOut();
      yield stream;
    },
    release: () => released.push(name),
  };
}

test(
  'a stream that fails before its first bytes is read from a mirror holding the same version',
  T,
  async () => {
    const layout = initialLayout(['g']);
    const nodes = [member('0000000a', 'g', 'up'), member('0000000b', 'g', 'up')];
    const key = Buffer.from('photo.jpg');
    const [first, second] = readOrder(nodes, BUCKET, key).map((n) => n.nodeId);
    for (const mirrorOpver of [7n, 8n]) {
      const released: string[] = [];
      const opened: Array<{ node: string; which: unknown }> = [];
      const router = new ClusterRouter({
        view: { layout, nodes, refresh: async () => {} },
        connect: (url) => {
          const id = url.slice('http://'.length);
          const log: Array<{ node: string; call: string; bounded: boolean }> = [];
          return fakeNode(id, () => 'ok', log, {
            openObject: async (_b, k, which) => {
              opened.push({ node: id, which });
              return id === first
                ? handle(record(k, 7n, 1), 'dies', released, id)
                : handle(record(k, mirrorOpver, 1), Buffer.from('abc'), released, id);
            },
          });
        },
      });
      const h = await router.openObject(BUCKET, key);
      assert.ok(h);
      const read = async () => {
        const chunks: Buffer[] = [];
        for await (const c of h.stream()) chunks.push(c);
        return Buffer.concat(chunks).toString();
      };
      if (mirrorOpver === 7n) assert.equal(await read(), 'abc');
      else
        await assert.rejects(
          read(),
          (e) => e instanceof S3Error && e.code === 'ServiceUnavailable',
          'another version',
        );
      // The mirror was asked for exactly the version opened first.
      assert.deepEqual(opened, [
        { node: first, which: undefined },
        { node: second, which: { versionId: 'null' } },
      ]);
      h.release();
      assert.deepEqual(released.sort(), [first, second].sort());
    }
  },
);

/** A TCP server that accepts connections and never answers: a frozen (SIGSTOPped) node as its peers see it. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test(
  'a bounded storage client gives up on a node that accepts but never answers, within its deadline',
  T,
  async () => {
    const silent = await silentServer();
    const client = new StorageClient(silent.url, { connections: 2 });
    try {
      const t0 = performance.now();
      // More calls than connections: those waiting for a connection are bounded too.
      const calls = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          client.bounded({ answerMs: 300 }).headObject(BUCKET, Buffer.from('k')),
        ),
      );
      for (const c of calls)
        assert.ok(c.status === 'rejected' && (c.reason as { code?: string }).code === 'ETIMEDOUT', String(c));
      const took = performance.now() - t0;
      assert.ok(took >= 290 && took < 5000, `gave up after ${took} ms`);
    } finally {
      await client.close();
      await silent.close();
    }
  },
);

test('a call in flight to a node the tracker then marks suspect is cut with a retryable 503', T, async () => {
  const layout = initialLayout(['g']);
  const nodes = [member('0000000a', 'g', 'up'), member('0000000b', 'g', 'up')];
  const key = Buffer.from('k');
  const primary = writeTarget(nodes, BUCKET, key)!;
  const log: Array<{ node: string; call: string; bounded: boolean }> = [];
  let view = nodes;
  const router = new ClusterRouter({
    view: {
      layout,
      get nodes() {
        return view;
      },
      refresh: async () => {},
    },
    // The primary froze (SIGSTOP): what is sent to it is never answered.
    connect: (url) => {
      const id = url.slice('http://'.length);
      return fakeNode(id, () => (id === primary.nodeId ? 'frozen' : 'ok'), log);
    },
  });
  try {
    const write = router.deleteObject(BUCKET, key);
    const cut = assert.rejects(
      write,
      (e) => e instanceof S3Error && e.code === 'ServiceUnavailable' && e.message.includes('suspect'),
    );
    // Wait until the call is on its way, then the tracker's verdict reaches the gateway.
    while (log.length === 0) await new Promise((r) => setImmediate(r));
    view = nodes.map((n) => (n.nodeId === primary.nodeId ? { ...n, state: 'suspect' as const } : n));
    await cut;
    // The next write of the key goes to the member still up.
    log.length = 0;
    assert.equal(await router.deleteObject(BUCKET, key), true);
    assert.deepEqual(
      log.map((l) => l.node),
      nodes.filter((n) => n.nodeId !== primary.nodeId).map((n) => n.nodeId),
    );
  } finally {
    await router.close();
  }
});

test(
  'uploads in progress are listed from one member per syncgroup, failing over; a drop needs every up member',
  T,
  async () => {
    const layout = initialLayout(['g']);
    const nodes = [
      member('0000000a', 'g', 'up'),
      member('0000000b', 'g', 'suspect'),
      member('0000000c', 'g', 'recovering'),
    ];
    const log: Array<{ node: string; call: string; bounded: boolean }> = [];
    let downA = false;
    let downB = true;
    const router = new ClusterRouter({
      view: { layout, nodes, refresh: async () => {} },
      connect: (url) => {
        const id = url.slice('http://'.length);
        const down = () => (id === '0000000a' && downA) || (id === '0000000b' && downB);
        return fakeNode(id, () => (down() ? 'refused' : 'ok'), log, {
          listUploads: async () => {
            log.push({ node: id, call: 'listUploads', bounded: false });
            if (down()) throw refused();
            // Mirrored: every member holds the same uploads.
            return [{ key: Buffer.from('u'), uploadId: 'x', initiatedMs: 0 }];
          },
          dropBucket: async () => {
            log.push({ node: id, call: 'dropBucket', bounded: false });
            if (down()) throw refused();
            return { objects: 5, uploads: 1 };
          },
        });
      },
    });
    const opts = { prefix: Buffer.alloc(0), limit: 10 };
    // Mirrored uploads: the up member alone answers, each upload once.
    assert.deepEqual(
      (await router.listUploads(BUCKET, opts)).map((u) => u.uploadId),
      ['x'],
    );
    assert.deepEqual(
      log.filter((l) => l.call === 'listUploads').map((l) => l.node),
      ['0000000a'],
    );
    // The up member does not answer: the suspect one is asked next; never the recovering one.
    downA = true;
    downB = false;
    log.length = 0;
    assert.deepEqual(
      (await router.listUploads(BUCKET, opts)).map((u) => u.uploadId),
      ['x'],
    );
    assert.ok(log.some((l) => l.node === '0000000b' && l.call === 'listUploads'));
    assert.ok(
      !log.some((l) => l.node === '0000000c' && l.call === 'listUploads'),
      'a recovering member does not hold everything yet',
    );
    // Every member is asked to drop; a suspect one that is down cannot fail it; mirrored objects and uploads
    // count once.
    downA = false;
    downB = true;
    log.length = 0;
    assert.deepEqual(await router.dropBucket(BUCKET), { objects: 5, uploads: 1 });
    assert.deepEqual(log.map((l) => l.node).sort(), ['0000000a', '0000000b', '0000000c']);
  },
);

test('a suspect member at the address of a live one (its former identity, wiped) is not a member', T, () => {
  const old = { ...member('0000000a', 'g', 'suspect'), url: 'http://10.0.0.1:9201' };
  const renewed = { ...member('0000000f', 'g', 'recovering'), url: 'http://10.0.0.1:9201' };
  const other = member('0000000b', 'g', 'up');
  const gone = member('0000000c', 'g', 'suspect');
  assert.deepEqual(ids(membersOf([old, renewed, other, gone, member('0000000d', 'h', 'up')], 'g')), [
    '0000000f',
    '0000000b',
    '0000000c',
  ]);
  // Reads never reach the recovering node through its former identity.
  const group = membersOf([old, renewed, other, gone], 'g');
  for (const k of ['a', 'b', 'c', 'd'])
    assert.ok(!ids(readOrder(group, BUCKET, Buffer.from(k))).includes('0000000a'));
});

test(
  'a member another reports behind (missed writes not yet pushed) takes no writes and no reads while another could',
  T,
  () => {
    const a = member('0000000a', 'g', 'up');
    const b = member('0000000b', 'g', 'up');
    const c = member('0000000c', 'g', 'suspect');
    // a pushes to b, which missed writes while it hung: b may lack keys, so nothing is routed to it while a serves.
    const reporter = { ...a, sync: [{ nodeId: b.nodeId, lagOps: 3, lagBytes: 10, behind: true }] };
    fc.assert(
      fc.property(keyArb, (key) => {
        const members = [reporter, b, c];
        assert.equal(writeTarget(members, BUCKET, key)?.nodeId, a.nodeId);
        assert.deepEqual(
          readOrder(members, BUCKET, key).map((n) => n.nodeId),
          [a.nodeId, c.nodeId],
        );
        // Caught up (the report no longer says behind): b is a primary again for its share of keys.
        const caughtUp = [{ ...a, sync: [{ nodeId: b.nodeId, lagOps: 0, lagBytes: 0 }] }, b, c];
        const ranked = rankMembers([a.nodeId, b.nodeId], BUCKET, key);
        assert.equal(writeTarget(caughtUp, BUCKET, key)?.nodeId, ranked[0]);
        // Every up member reported behind (both restarted at once): routing as if none were.
        const allBehind = [
          { ...a, sync: [{ nodeId: b.nodeId, lagOps: 0, lagBytes: 0, behind: true }] },
          { ...b, sync: [{ nodeId: a.nodeId, lagOps: 0, lagBytes: 0, behind: true }] },
        ];
        assert.equal(writeTarget(allBehind, BUCKET, key)?.nodeId, ranked[0]);
      }),
    );
  },
);

test(
  'reads fall back to an up member reported behind once every member not behind is suspect (dead, most likely)',
  T,
  () => {
    const b = member('0000000b', 'g', 'up');
    const reports = (state: NodeView['state']) => ({
      ...member('0000000a', 'g', state),
      sync: [{ nodeId: b.nodeId, lagOps: 2, lagBytes: 10, behind: true }],
    });
    fc.assert(
      fc.property(keyArb, (key) => {
        // a is up (or only slow): b is not read from, a 503 after a fails lets the client retry.
        assert.deepEqual(ids(readOrder([reports('up'), b], BUCKET, key)), ['0000000a']);
        // a is silent for the suspect time: b, which takes the writes meanwhile, serves reads after a fails.
        assert.deepEqual(ids(readOrder([reports('suspect'), b], BUCKET, key)), ['0000000a', '0000000b']);
        assert.equal(writeTarget([reports('suspect'), b], BUCKET, key)?.nodeId, b.nodeId);
        // A third member that is up and current: b stays out.
        const c = member('0000000c', 'g', 'up');
        assert.ok(!ids(readOrder([reports('suspect'), b, c], BUCKET, key)).includes(b.nodeId));
      }),
    );
  },
);

test(
  "a silent member's report of a member behind stands until that member re-pulled from a current one (resynced)",
  T,
  () => {
    // Three members: x left b behind and died; c is current. b pulled what it missed from c and says so.
    const x = { ...member('0000000a', 'g', 'suspect'), startedMs: 5 };
    const xReports = { ...x, sync: [{ nodeId: '0000000b', lagOps: 3, lagBytes: 10, behind: true }] };
    const b = member('0000000b', 'g', 'up');
    const c = member('0000000c', 'g', 'up');
    const resynced = { ...b, resynced: [{ nodeId: x.nodeId, startedMs: 5 }] };
    fc.assert(
      fc.property(keyArb, (key) => {
        assert.equal(writeTarget([xReports, b, c], BUCKET, key)?.nodeId, c.nodeId, 'b may lack x writes');
        assert.ok(!ids(readOrder([xReports, b, c], BUCKET, key)).includes(b.nodeId));
        const live = rankMembers([b.nodeId, c.nodeId], BUCKET, key);
        assert.equal(writeTarget([xReports, resynced, c], BUCKET, key)?.nodeId, live[0]);
        assert.deepEqual(ids(readOrder([xReports, resynced, c], BUCKET, key)), [...live, x.nodeId]);
        // x back (up, or a new run of it): its reports count again.
        const back = { ...xReports, state: 'up' as const };
        assert.ok(!ids(readOrder([back, resynced, c], BUCKET, key)).includes(b.nodeId));
        const rerun = { ...xReports, startedMs: 6 };
        assert.ok(!ids(readOrder([rerun, resynced, c], BUCKET, key)).includes(b.nodeId));
      }),
    );
  },
);

test(
  'a member with no layout yet (it refuses every key) gets writes only when no other is up; reads last',
  T,
  () => {
    fc.assert(
      fc.property(membersArb, keyArb, fc.nat(), (members, key, which) => {
        const bare = members[which % members.length]!;
        const { layoutVersion: _none, ...rest } = bare;
        const group = members.map((m) => (m === bare ? rest : m));
        const others = members.filter((m) => m !== bare);
        const live = bare.state === 'up' || bare.state === 'suspect';
        if (others.some((m) => m.state === 'up') || bare.state !== 'up')
          assert.equal(writeTarget(group, BUCKET, key)?.nodeId, writeTarget(others, BUCKET, key)?.nodeId);
        else assert.equal(writeTarget(group, BUCKET, key)?.nodeId, bare.nodeId);
        assert.deepEqual(ids(readOrder(group, BUCKET, key)), [
          ...ids(readOrder(others, BUCKET, key)),
          ...(live ? [bare.nodeId] : []),
        ]);
      }),
      { numRuns: 1000 },
    );
  },
);

test(
  'a member that another member up does not mirror to yet (it joined since that member heard the list) is behind',
  T,
  () => {
    const a = member('0000000a', 'g', 'up');
    const b = member('0000000b', 'g', 'up');
    fc.assert(
      fc.property(keyArb, (key) => {
        // a has not heard of b yet: its writes went to nobody else, so b may lack them.
        const unknown = [
          { ...a, mirrors: [] },
          { ...b, mirrors: [a.nodeId] },
        ];
        assert.equal(writeTarget(unknown, BUCKET, key)?.nodeId, a.nodeId);
        assert.deepEqual(ids(readOrder(unknown, BUCKET, key)), [a.nodeId]);
        // Once a mirrors to b, both serve their share.
        const known = [
          { ...a, mirrors: [b.nodeId] },
          { ...b, mirrors: [a.nodeId] },
        ];
        assert.deepEqual(ids(readOrder(known, BUCKET, key)), rankMembers([a.nodeId, b.nodeId], BUCKET, key));
        // A member that is not up takes no writes: what it does not know of says nothing.
        const silent = [
          { ...a, state: 'suspect' as const, mirrors: [] },
          { ...b, mirrors: [a.nodeId] },
        ];
        assert.equal(writeTarget(silent, BUCKET, key)?.nodeId, b.nodeId);
        // b restarted a moment ago (knows nobody yet) after missing a's writes: a, which a report of missed writes
        // does not name, is read first; b only after it.
        const restarted = [
          { ...a, mirrors: [b.nodeId], sync: [{ nodeId: b.nodeId, lagOps: 1, lagBytes: 4, behind: true }] },
          { ...b, mirrors: [] },
        ];
        assert.equal(writeTarget(restarted, BUCKET, key)?.nodeId, a.nodeId);
        assert.deepEqual(ids(readOrder(restarted, BUCKET, key)), [a.nodeId]);
      }),
    );
  },
);

test(
  'a stream that only missed its deadline is read again from its member when every other one is down',
  T,
  async () => {
    const layout = initialLayout(['g']);
    const nodes = [member('0000000a', 'g', 'up'), member('0000000b', 'g', 'up')];
    const key = Buffer.from('busy.jpg');
    const [busy, dead] = readOrder(nodes, BUCKET, key).map((n) => n.nodeId);
    const released: string[] = [];
    const opened: Array<[string, boolean]> = [];
    const router = new ClusterRouter({
      view: { layout, nodes, refresh: async () => {} },
      connect: (url) => {
        const id = url.slice('http://'.length);
        const make = (limits: { answerMs?: number }): NodeClient =>
          ({
            openObject: async (_b: string, k: Buffer) => {
              const bounded = limits.answerMs !== undefined;
              opened.push([id, bounded]);
              if (id === dead) throw refused();
              // The busy member opens in time but its first bytes come after any deadline.
              return handle(record(k, 7n, 1), bounded ? 'late' : Buffer.from('abc'), released, id);
            },
            bounded: (l: { answerMs?: number }) => make(l),
            close: async () => {},
          }) as unknown as NodeClient;
        return make({});
      },
    });
    const h = await router.openObject(BUCKET, key);
    assert.ok(h);
    const chunks: Buffer[] = [];
    for await (const c of h.stream()) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString(), 'abc');
    assert.deepEqual(opened, [
      [busy, true],
      [dead, false],
      [busy, false],
    ]);
    h.release();
    assert.deepEqual(released, [busy, busy]);
  },
);

test(
  'a PUT whose primary refuses the connection goes to the next member with the same bytes; a large one fails',
  T,
  async () => {
    const layout = initialLayout(['g']);
    const nodes = [member('0000000a', 'g', 'up'), member('0000000b', 'g', 'up')];
    const key = Buffer.from('photo.jpg');
    const [primary, next] = ids(writeOrder(nodes, BUCKET, key));
    const received = new Map<string, Buffer>();
    const router = new ClusterRouter({
      view: { layout, nodes, refresh: async () => {} },
      connect: (url) => {
        const id = url.slice('http://'.length);
        const make = (): NodeClient =>
          ({
            putObject: async (input: PutObjectInput) => {
              // A refused connection: the body is never read.
              if (id === primary) throw refused();
              const chunks: Buffer[] = [];
              for await (const c of input.body) chunks.push(c);
              received.set(id, Buffer.concat(chunks));
              return record(input.key, 1n, 2);
            },
            bounded: () => make(),
            close: async () => {},
          }) as unknown as NodeClient;
        return make();
      },
    });
    const put = (bytes: Buffer) =>
      router.putObject({
        bucket: BUCKET,
        key,
        size: bytes.length,
        body: (async function* () {
          // Arrives in pieces, as a request body does.
          for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
        })(),
        finish: async () => ({ etag: 'e', checksums: {} }),
        headers: { userMeta: {} },
        nowMs: 0,
      } as unknown as PutObjectInput);
    try {
      const small = Buffer.alloc(64 * 1024, 7);
      small.write('the first bytes');
      await put(small);
      assert.deepEqual(received.get(next!), small);
      received.clear();
      // A body too large to hold is sent once, to the primary: its refusal is the write's (a retryable 503).
      await assert.rejects(
        put(Buffer.alloc(2 * 1024 * 1024, 1)),
        (e) => e instanceof S3Error && e.code === 'ServiceUnavailable',
      );
      assert.equal(received.size, 0);
    } finally {
      await router.close();
    }
  },
);
