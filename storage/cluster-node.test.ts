// A cluster storage node's internal API: the cluster secret, argument checks and the partition guard, over real
// HTTP on 127.0.0.1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SECRET_HEADER } from '../common/cluster-wire.ts';
import { initialLayout, routeKey } from '../common/layout.ts';
import { WrongPartitionError } from './errors.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { StorageNode } from './node.ts';
import { PartitionGuard } from './partition-guard.ts';
import { chunks, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 30_000 };
const SECRET = 'cluster-node-test-secret-0123456789abcdef';
const layout = initialLayout(['a', 'b']);

/** The first key (k0, k1, ...) that `layout` places in `group` for bucket `b`. */
function keyIn(group: string): Buffer {
  for (let i = 0; ; i++) {
    const k = Buffer.from(`k${i}`);
    if (routeKey(layout, 'b', k) === group) return k;
  }
}

describe('cluster storage node API', () => {
  let node: StorageNode;
  let guard: PartitionGuard;
  let server: Server;
  let url: string;
  let client: StorageClient;
  let remove: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    remove = t.remove;
    node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 7,
      volumes: volumeSpecs(t.dir, 1),
      volumeOpener: testOpener().opener,
    });
    guard = new PartitionGuard(node, 'a');
    server = createStorageServer(guard, { secret: SECRET });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new StorageClient(url, { secret: SECRET });
  });
  after(async () => {
    await client.close();
    server.close();
    await node.close();
    await remove();
  });

  const put = (key: Buffer, data: string) =>
    client.putObject({
      bucket: 'b',
      key,
      size: data.length,
      body: chunks(Buffer.from(data)),
      headers: { userMeta: {} },
      nowMs: 1,
      finish: async () => ({ etag: '0123456789abcdef0123456789abcdef', checksums: {} }),
    });

  test('without a layout every keyed call is refused as wrong partition (retryable)', T, async () => {
    await assert.rejects(client.headObject('b', keyIn('a')), WrongPartitionError);
    assert.deepEqual(await client.listObjects('b', { prefix: Buffer.alloc(0), limit: 10 }), []);
  });

  test('with a layout: owned keys are served, others refused with WrongPartitionError', T, async () => {
    guard.setLayout(layout);
    const mine = keyIn('a');
    const theirs = keyIn('b');
    await put(mine, 'hello');
    assert.equal((await client.headObject('b', mine))?.size, 5);
    await assert.rejects(put(theirs, 'nope'), WrongPartitionError);
    await assert.rejects(client.headObject('b', theirs), WrongPartitionError);
    await assert.rejects(
      client.copyObject({ bucket: 'b', key: mine }, { bucket: 'b', key: theirs, nowMs: 1 }),
      WrongPartitionError,
    );
    await assert.rejects(client.createUpload('b', theirs, { userMeta: {} }, 1), WrongPartitionError);
    assert.equal(await node.headObject('b', theirs), undefined, 'nothing was stored for a refused key');
  });

  test('a part sent to an aborted upload gets NoSuchUpload, not a cut connection', T, async () => {
    const key = keyIn('a');
    const id = await client.createUpload('b', key, { userMeta: {} }, 1);
    await client.abortUpload('b', key, id);
    for (const body of [Buffer.from('x'), Buffer.alloc(256 * 1024, 7), Buffer.from('x'), Buffer.from('y')]) {
      await assert.rejects(
        client.uploadPart({
          bucket: 'b',
          key,
          uploadId: id,
          partNumber: 2,
          size: body.length,
          body: chunks(body),
          nowMs: 1,
          finish: async () => ({ etag: '0123456789abcdef0123456789abcdef', checksums: {} }),
        }),
        (e: Error & { code?: string }) => e.code === 'NoSuchUpload',
      );
    }
  });

  test(
    'a part whose body is still coming when the node refuses it gets the refusal, not a cut connection',
    T,
    async () => {
      const key = keyIn('a');
      const id = await client.createUpload('b', key, { userMeta: {} }, 1);
      await client.abortUpload('b', key, id);
      let settle!: () => void;
      const settled = new Promise<void>((r) => {
        settle = r;
      });
      // The sender (a gateway relaying a slow client) is still sending when the node already knows its answer.
      let done = false;
      void settled.then(() => {
        done = true;
      });
      async function* slowBody() {
        // Keeps sending until the call has an answer, as a relayed upload does.
        while (!done) {
          yield Buffer.alloc(16 * 1024, 1);
          await new Promise((r) => setImmediate(r));
        }
      }
      const call = client.uploadPart({
        bucket: 'b',
        key,
        uploadId: id,
        partNumber: 2,
        size: 1024 * 1024 * 1024,
        body: slowBody(),
        nowMs: 1,
        finish: async () => ({ etag: '0123456789abcdef0123456789abcdef', checksums: {} }),
      });
      call.catch(() => undefined).finally(settle);
      await assert.rejects(call, (e: Error & { code?: string }) => e.code === 'NoSuchUpload');
    },
  );

  test('a request without the cluster secret (or with a wrong one) is refused with 403', T, async () => {
    const tries: Record<string, string>[] = [{}, { [SECRET_HEADER]: `${SECRET}!` }, { [SECRET_HEADER]: '' }];
    for (const headers of tries) {
      const res = await fetch(`${url}/v1/stats`, { method: 'POST', headers, body: '{}' });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { code: string }).code, 'AccessDenied');
    }
    const other = new StorageClient(url);
    await assert.rejects(other.stats());
    await other.close();
    const ok = await fetch(`${url}/v1/stats`, {
      method: 'POST',
      headers: { [SECRET_HEADER]: SECRET },
      body: '{}',
    });
    assert.equal(ok.status, 200);
  });

  test(
    'GET /health answers 200 without the secret (container healthchecks); nothing else does',
    T,
    async () => {
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.equal(await health.text(), 'ok');
      for (const [method, path] of [
        ['POST', '/health'],
        ['GET', '/health/x'],
        ['GET', '/v1/stats'],
      ] as const) {
        const res = await fetch(`${url}${path}`, { method });
        assert.equal(res.status, 403, `${method} ${path}`);
        await res.arrayBuffer();
      }
    },
  );

  test('malformed or oversized arguments are refused before the node acts', T, async () => {
    const call = (method: string, body: string) =>
      fetch(`${url}/v1/${method}`, { method: 'POST', headers: { [SECRET_HEADER]: SECRET }, body });
    for (const [method, body] of [
      ['headObject', '{"bucket":"b","key":"not bytes"}'],
      ['headObject', 'not json'],
      ['listObjects', '{"bucket":"b","opts":{"prefix":{"$b":""},"limit":-1}}'],
      ['deleteObject', '{"bucket":"","key":{"$b":"aw"}}'],
      ['stats', `{"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`],
    ] as const) {
      const res = await call(method, body);
      assert.equal(res.status, 400, `${method} ${body.slice(0, 60)}`);
      assert.equal(((await res.json()) as { code: string }).code, 'InvalidArgument');
    }
  });
});
