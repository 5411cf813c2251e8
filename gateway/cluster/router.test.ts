import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodeView } from '../../common/cluster-wire.ts';
import { initialLayout, type Layout, primaryOf, routeKey } from '../../common/layout.ts';
import type { ListedObject, ListedUpload } from '../../storage/api.ts';
import { WrongPartitionError } from '../../storage/errors.ts';
import { S3Error } from '../errors.ts';
import { listPage } from '../s3/listing.ts';
import { mergeSorted } from './merge.ts';
import { ClusterRouter, type ClusterView, type NodeClient } from './router.ts';

const T = { timeout: 120_000 };
const BUCKET = '~0123456789abcdef0123456789abcdef';

function node(nodeId: string, syncgroup: string): NodeView {
  return {
    nodeId,
    syncgroup,
    url: `http://${nodeId}`,
    startedMs: 0,
    objects: 0,
    volumes: [],
    state: 'up',
    silentMs: 0,
  };
}

/** An in-memory node holding sorted keys: only what listings and keyed lookups need. */
function fakeNode(keys: Buffer[], uploads: ListedUpload[] = []): NodeClient {
  const sorted = [...keys].sort(Buffer.compare);
  const api = {
    async listObjects(
      _b: string,
      o: { prefix: Buffer; after?: Buffer; limit: number },
    ): Promise<ListedObject[]> {
      return sorted
        .filter(
          (k) =>
            k.subarray(0, o.prefix.length).equals(o.prefix) && (!o.after || Buffer.compare(k, o.after) > 0),
        )
        .slice(0, o.limit)
        .map((key) => ({ key, size: 1, etag: 'e', lastModifiedMs: 0 }));
    },
    async listUploads(
      _b: string,
      o: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
    ) {
      return uploads
        .filter((u) => u.key.subarray(0, o.prefix.length).equals(o.prefix))
        .filter((u) => {
          if (!o.afterKey) return true;
          const c = Buffer.compare(u.key, o.afterKey);
          return c > 0 || (c === 0 && o.afterUploadId !== undefined && u.uploadId > o.afterUploadId);
        })
        .slice(0, o.limit);
    },
    async hasObjects() {
      return sorted.length > 0;
    },
    async headObject(_b: string, k: Buffer) {
      return sorted.some((x) => x.equals(k)) ? ({ key: k } as never) : undefined;
    },
    async close() {},
    bounded: () => api,
  };
  return api as unknown as NodeClient;
}

function view(layout: Layout, nodes: NodeView[], refresh: () => Promise<void> = async () => {}): ClusterView {
  return { layout, nodes, refresh };
}

// Keys drawn from a small alphabet with multi-byte characters and delimiters, so prefixes and common
// prefixes collide often and byte order differs from UTF-16 order ('\u{10000}' vs '\uffff').
const keyArb = fc
  .array(fc.constantFrom('a', 'b', '/', '-', 'é', '\uffff', '\u{10000}', 'z'), { minLength: 1, maxLength: 6 })
  .map((cs) => cs.join(''));

/** What S3 lists for the whole key set: entries and common prefixes in byte order (the model). */
function model(keys: string[], prefix: string, delimiter: string | undefined): string[] {
  const bytes = [...new Set(keys)].map((k) => Buffer.from(k)).sort(Buffer.compare);
  const out: string[] = [];
  const p = Buffer.from(prefix);
  for (const k of bytes) {
    if (!k.subarray(0, p.length).equals(p)) continue;
    if (delimiter) {
      const at = k.indexOf(Buffer.from(delimiter), p.length);
      if (at >= 0) {
        const cp = `P:${k.subarray(0, at + Buffer.byteLength(delimiter)).toString()}`;
        if (out.at(-1) !== cp) out.push(cp);
        continue;
      }
    }
    out.push(`K:${k.toString()}`);
  }
  return out;
}

test('listings k-way merged across syncgroups and members match the model, page by page', T, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(keyArb, { maxLength: 60 }),
      fc.constantFrom('', 'a', 'b/', 'é', '\uffff'),
      fc.constantFrom(undefined, '/', '-', 'é'),
      fc.integer({ min: 1, max: 7 }),
      fc.boolean(),
      async (keys, prefix, delimiter, maxKeys, mirrored) => {
        const layout = initialLayout(['g1', 'g2', 'g3']);
        const nodes = [node('n1', 'g1'), node('n2', 'g1'), node('n3', 'g2'), node('n4', 'g3')];
        // Each key on its primary; "mirrored" also puts it on every member of its syncgroup (the merge
        // must then take it once).
        const held = new Map<string, Buffer[]>(nodes.map((n) => [n.nodeId, []]));
        for (const k of new Set(keys)) {
          const kb = Buffer.from(k);
          const members = nodes
            .filter((n) => n.syncgroup === routeKey(layout, BUCKET, kb))
            .map((n) => n.nodeId);
          for (const m of mirrored ? members : [primaryOf(members, BUCKET, kb)!]) held.get(m)!.push(kb);
        }
        const router = new ClusterRouter({
          view: view(layout, nodes),
          connect: (url) => fakeNode(held.get(url.slice('http://'.length))!),
        });
        const source = async (after: Buffer | undefined, p: Buffer, limit: number) =>
          (await router.listObjects(BUCKET, { prefix: p, ...(after ? { after } : {}), limit })).map((v) => ({
            key: v.key,
            value: v,
          }));
        const seen: string[] = [];
        let startAfter: Buffer | undefined;
        for (let pages = 0; pages < 200; pages++) {
          const page = await listPage(source, {
            prefix: Buffer.from(prefix),
            ...(delimiter ? { delimiter: Buffer.from(delimiter) } : {}),
            ...(startAfter ? { startAfter } : {}),
            maxKeys,
          });
          const items = [
            ...page.contents.map((e) => ({ k: e.key, s: `K:${e.key.toString()}` })),
            ...page.commonPrefixes.map((cp) => ({ k: cp, s: `P:${cp.toString()}` })),
          ].sort((a, b) => Buffer.compare(a.k, b.k));
          assert.ok(items.length <= maxKeys);
          seen.push(...items.map((i) => i.s));
          if (!page.isTruncated) break;
          startAfter = page.nextAfter;
        }
        assert.deepEqual(seen, model(keys, prefix, delimiter));
      },
    ),
    { numRuns: 300 },
  );
});

test('multipart upload listings merge by key bytes, then upload id', T, async () => {
  const layout = initialLayout(['g1']);
  const u = (key: string, uploadId: string): ListedUpload => ({
    key: Buffer.from(key),
    uploadId,
    initiatedMs: 0,
  });
  const a = [u('a', '2'), u('b', '1'), u('\u{10000}', '1')];
  const b = [u('a', '1'), u('a', '3'), u('\uffff', '1')];
  const nodes = [node('n1', 'g1'), node('n2', 'g1')];
  const router = new ClusterRouter({
    view: view(layout, nodes),
    connect: (url) => fakeNode([], url.endsWith('n1') ? a : b),
  });
  const all = await router.listUploads(BUCKET, { prefix: Buffer.alloc(0), limit: 10 });
  assert.deepEqual(
    all.map((x) => `${x.key.toString()}#${x.uploadId}`),
    ['a#1', 'a#2', 'a#3', 'b#1', '\uffff#1', '\u{10000}#1'],
  );
  const after = await router.listUploads(BUCKET, {
    prefix: Buffer.alloc(0),
    afterKey: Buffer.from('a'),
    afterUploadId: '1',
    limit: 2,
  });
  assert.deepEqual(
    after.map((x) => `${x.key.toString()}#${x.uploadId}`),
    ['a#2', 'a#3'],
  );
});

test('mergeSorted takes the first `limit` of the union, each item once', T, () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.integer({ min: 0, max: 30 })), { maxLength: 5 }),
      fc.nat(40),
      (lists, limit) => {
        const sorted = lists.map((l) => [...new Set(l)].sort((x, y) => x - y));
        const want = [...new Set(sorted.flat())].sort((x, y) => x - y).slice(0, limit);
        assert.deepEqual(
          mergeSorted(sorted, (x, y) => x - y, limit),
          want,
        );
      },
    ),
  );
});

test(
  'a key goes to its rendezvous primary; a wrong-partition answer refreshes the layout and retries',
  T,
  async () => {
    const layoutA = initialLayout(['g1', 'g2']);
    // The same key in a layout where the owners are swapped: the node refuses until the gateway refreshes.
    const layoutB: Layout = { ...layoutA, version: 2, owners: layoutA.owners.map((o) => 1 - o) };
    const nodes = [node('n1', 'g1'), node('n2', 'g1'), node('n3', 'g2')];
    const key = Buffer.from('photos/cat.jpg');
    let current = layoutA;
    let refreshes = 0;
    const asked: string[] = [];
    const router = new ClusterRouter({
      view: {
        get layout() {
          return current;
        },
        nodes,
        refresh: async () => {
          refreshes++;
          current = layoutB;
        },
      },
      connect: (url) =>
        ({
          headObject: async () => {
            const id = url.slice('http://'.length);
            asked.push(id);
            const owner = routeKey(layoutB, BUCKET, key);
            if (nodes.find((n) => n.nodeId === id)!.syncgroup !== owner) throw new WrongPartitionError();
            return undefined;
          },
          close: async () => {},
          bounded() {
            return this;
          },
        }) as unknown as NodeClient,
    });
    assert.equal(await router.headObject(BUCKET, key), undefined);
    assert.equal(refreshes, 1);
    const groupA = routeKey(layoutA, BUCKET, key);
    const membersA = nodes.filter((n) => n.syncgroup === groupA).map((n) => n.nodeId);
    assert.equal(asked[0], primaryOf(membersA, BUCKET, key));
    assert.equal(asked.length, 2);
  },
);

test('an unreachable node or an empty syncgroup is a retryable 503, never a 500', T, async () => {
  const layout = initialLayout(['g1', 'g2']);
  const down = {
    headObject: async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    },
    listObjects: async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
    },
    close: async () => {},
    bounded: () => down,
  } as unknown as NodeClient;
  const router = new ClusterRouter({
    view: view(layout, [node('n1', 'g1'), node('n2', 'g2')]),
    connect: () => down,
  });
  await assert.rejects(
    router.headObject(BUCKET, Buffer.from('k')),
    (e) => e instanceof S3Error && e.code === 'ServiceUnavailable',
  );
  await assert.rejects(
    router.listObjects(BUCKET, { prefix: Buffer.alloc(0), limit: 5 }),
    (e) => e instanceof S3Error && e.code === 'ServiceUnavailable',
  );
  const half = new ClusterRouter({ view: view(layout, [node('n1', 'g1')]), connect: () => fakeNode([]) });
  await assert.rejects(
    half.listObjects(BUCKET, { prefix: Buffer.alloc(0), limit: 5 }),
    (e) => e instanceof S3Error && e.code === 'ServiceUnavailable' && /syncgroup g2/.test(e.message),
  );
});
