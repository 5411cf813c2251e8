// scanStates pages over real nodes: the same page locally and over the internal HTTP API; a key copied from its
// page (prefetchedEnd) ends as copied from the source itself, with the source asked only for the large versions;
// a page carries at most SCAN_PAGE_BYTES of bodies, and paging after a key covers every key once.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { VersionSelector } from './api.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { INLINE_READ_BYTES } from './http-wire.ts';
import { StorageNode } from './node.ts';
import type { ReplicaEnd } from './replica-api.ts';
import { prefetchedEnd, SCAN_PAGE_BYTES, scanStates } from './replica-scan.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, md5, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 60_000 };

async function node(nodeId: number) {
  const t = await tempDir('quire-scan-');
  const n = await StorageNode.open({
    dataDir: t.dir,
    nodeId,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: testOpener().opener,
    minPartBytes: 1024,
  });
  return {
    n,
    close: async () => {
      await n.close();
      await t.remove();
    },
  };
}

async function serve(n: StorageNode) {
  const server = createStorageServer(n);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new StorageClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    client,
    close: async () => {
      await client.close();
      server.close();
    },
  };
}

/** Every state of `key` on `n` with its body's md5 (what a copy must reproduce). */
async function contentsOf(n: StorageNode, bucket: string, key: string) {
  const out = [];
  for (const s of await n.replicaStates(bucket, Buffer.from(key))) {
    const r = s.record && { ...s.record };
    if (r) delete r.isLatest;
    let body: string | undefined;
    if (r && !r.deleteMarker) {
      const h = await n.openObject(bucket, Buffer.from(key), { versionId: s.versionId });
      body = md5(await readAll(h!.stream()));
      h!.release();
    }
    out.push({ v: s.versionId, opver: s.opver, record: r, body });
  }
  return { out, uploads: await n.uploadStates(bucket, Buffer.from(key)) };
}

test(
  'a scanStates page: the same over HTTP; copying from it matches the source, asking it only for large versions',
  T,
  async () => {
    const a = await node(1);
    const b = await node(2);
    const served = await serve(a.n);
    try {
      const src = a.n;
      await src.putObject(putInput('bk', 'small', bytes(3000, 1)));
      await src.putObject(putInput('bk', 'big', bytes(INLINE_READ_BYTES + 1, 2)));
      await src.putObject(putInput('bk', 'empty', Buffer.alloc(0)));
      for (let i = 0; i < 2; i++)
        await src.putObject(putInput('bk', 'versioned', bytes(500 + i, 10 + i), { versioning: 'enabled' }));
      await src.removeObject({
        bucket: 'bk',
        key: Buffer.from('versioned'),
        versioning: 'enabled',
        nowMs: 5,
      });
      await src.putObject(putInput('bk', 'gone', Buffer.from('x')));
      await src.deleteObject('bk', Buffer.from('gone'));
      const up = await src.createUpload('bk', Buffer.from('upload'), { userMeta: {} }, 1);
      await src.uploadPart({ ...putInput('bk', 'upload', bytes(2048, 3)), uploadId: up, partNumber: 1 });

      const local = await scanStates(src, { limit: 100, inline: INLINE_READ_BYTES });
      const remote = await served.client.scanStates({ limit: 100 });
      assert.deepEqual(
        remote.map((k) => ({ ...k, bodies: k.bodies.map((x) => ({ ...x, bytes: md5(x.bytes) })) })),
        local.map((k) => ({ ...k, bodies: k.bodies.map((x) => ({ ...x, bytes: md5(x.bytes) })) })),
      );
      const names = remote.map((k) => k.key.toString());
      assert.deepEqual(names, ['big', 'empty', 'gone', 'small', 'upload', 'versioned']);
      const bodiesOf = (name: string) => remote.find((k) => k.key.toString() === name)!.bodies;
      assert.deepEqual(
        bodiesOf('small').map((x) => md5(x.bytes)),
        [md5(bytes(3000, 1))],
      );
      assert.equal(bodiesOf('big').length, 0, 'larger than the inline bound: opened when copied');
      assert.equal(bodiesOf('empty').length, 0);
      assert.equal(bodiesOf('versioned').length, 2, 'both versions; the delete marker has no bytes');

      // Copy every key into b from its page; count what is still asked of the source.
      const asked: string[] = [];
      const client = served.client;
      const note = (what: string) => {
        asked.push(what);
      };
      const counting: ReplicaEnd = {
        ...(client as unknown as ReplicaEnd),
        replicaStates: async (bk, k) => {
          note(`states ${k}`);
          return client.replicaStates(bk, k);
        },
        uploadStates: async (bk, k) => {
          note(`uploads ${k}`);
          return client.uploadStates(bk, k);
        },
        openObject: async (bk, k, which?: VersionSelector) => {
          note(`open ${k}`);
          return client.openObject(bk, k, which);
        },
        openPart: async (...args) => {
          note(`part ${args[1]}`);
          return client.openPart(...args);
        },
      };
      for (const scanned of remote)
        await copyKey({
          from: prefetchedEnd(counting, scanned),
          to: b.n,
          bucket: scanned.bucket,
          key: scanned.key,
        });
      assert.deepEqual(asked.sort(), ['open big', 'part upload']);
      for (const name of names)
        assert.deepEqual(await contentsOf(b.n, 'bk', name), await contentsOf(a.n, 'bk', name), name);
    } finally {
      await served.close();
      await a.close();
      await b.close();
    }
  },
);

test(
  'a page carries at most SCAN_PAGE_BYTES of bodies; pages after a key cover every key once',
  T,
  async () => {
    const a = await node(1);
    try {
      const size = 120 * 1024;
      const count = Math.ceil(SCAN_PAGE_BYTES / size) + 10;
      for (let i = 0; i < count; i++)
        await a.n.putObject(putInput('bk', `k${String(i).padStart(3, '0')}`, bytes(size, i)));
      const page = await scanStates(a.n, { limit: 1000, inline: INLINE_READ_BYTES });
      assert.equal(page.length, count);
      const carried = page.reduce((n, k) => n + k.bodies.reduce((m, x) => m + x.bytes.length, 0), 0);
      assert.ok(carried <= SCAN_PAGE_BYTES && carried > SCAN_PAGE_BYTES - size, `${carried} bytes carried`);
      for (const k of page)
        for (const x of k.bodies)
          assert.equal(md5(x.bytes), md5(bytes(size, Number(k.key.toString().slice(1)))));
      const seen: string[] = [];
      let after: { bucket: string; key: Buffer } | undefined;
      for (;;) {
        const p = await scanStates(a.n, { ...(after ? { after } : {}), limit: 7, inline: 1024 });
        seen.push(...p.map((k) => k.key.toString()));
        if (p.length < 7) break;
        after = p.at(-1)!;
      }
      assert.deepEqual(
        seen,
        page.map((k) => k.key.toString()),
      );
    } finally {
      await a.close();
    }
  },
);
