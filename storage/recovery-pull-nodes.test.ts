// A recovery pull between real storage nodes over the internal HTTP API on 127.0.0.1: a recovering node refuses
// user calls with a retryable error the client tells apart, the push-sync calls reach the member's push sync; a
// node whose volume was replaced (new and empty) holds nothing, so it is an empty node that pulls.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { BinlogPosition } from './binlog-record.ts';
import { NodeRecoveringError, WrongPartitionError } from './errors.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { StorageNode } from './node.ts';
import { putInput, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 30_000 };
const SECRET = 'recovery-pull-test-secret-0123456789abcdef';

async function serve(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test(
  'over HTTP: a recovering node refuses user calls (NodeRecoveringError), answers stats and push-sync calls',
  T,
  async () => {
    const t = await tempDir();
    const node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 3,
      volumes: volumeSpecs(t.dir, 1),
      volumeOpener: testOpener().opener,
    });
    let recovering = true;
    const joins: Array<{ nodeId: string; at: BinlogPosition }> = [];
    const server = createStorageServer(node, {
      secret: SECRET,
      gate: (method) => {
        if (recovering && method !== 'stats' && method !== 'syncPosition' && method !== 'joinPushSync')
          throw new NodeRecoveringError();
      },
      pushSync: {
        position: async (toward) => ({ file: 2, offset: toward === '00000003' ? 77 : 5 }),
        join: async (nodeId, at, waitMs) => {
          joins.push({ nodeId, at });
          return { caughtUp: waitMs > 0 };
        },
      },
    });
    const client = new StorageClient(await serve(server), { secret: SECRET });
    try {
      for (const call of [
        () => client.putObject(putInput('b', 'k', Buffer.from('data'))),
        () => client.headObject('b', Buffer.from('k')),
        () => client.listObjects('b', { prefix: Buffer.alloc(0), limit: 10 }),
      ]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof NodeRecoveringError, `got ${String(err)}`);
          assert.ok(err instanceof WrongPartitionError);
          assert.equal(err.code, 'ServiceUnavailable');
          return true;
        });
      }
      assert.equal((await client.stats()).objects, 0);
      assert.deepEqual(await client.syncPosition('00000003'), { file: 2, offset: 77 });
      assert.deepEqual(await client.joinPushSync('0000000c', { file: 2, offset: 5 }, 1000), {
        caughtUp: true,
      });
      assert.deepEqual(joins, [{ nodeId: '0000000c', at: { file: 2, offset: 5 } }]);
      await assert.rejects(client.joinPushSync('not-an-id', { file: 2, offset: 5 }, 10), /invalid arguments/);
      await assert.rejects(
        client.joinPushSync('0000000c', { file: 2, offset: 5 }, 3_600_000),
        /invalid arguments/,
      );
      recovering = false;
      await client.putObject(putInput('b', 'k', Buffer.from('data')));
      assert.equal((await client.headObject('b', Buffer.from('k')))?.size, 4);
    } finally {
      await client.close();
      server.close();
      await node.close();
      await t.remove();
    }
  },
);

test('over HTTP: a node without push sync refuses the push-sync calls', T, async () => {
  const t = await tempDir();
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 4,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: testOpener().opener,
  });
  const server = createStorageServer(node);
  const client = new StorageClient(await serve(server));
  try {
    await assert.rejects(client.syncPosition('00000004'), /runs no push sync/);
  } finally {
    await client.close();
    server.close();
    await node.close();
    await t.remove();
  }
});

test(
  'a replaced volume (new and empty where one was) rebuilds the index: the node is empty, not broken',
  T,
  async () => {
    const t = await tempDir();
    const open = (volumes: number) =>
      StorageNode.open({ dataDir: t.dir, nodeId: 5, volumes: volumeSpecs(t.dir, volumes) });
    try {
      let node = await open(1);
      for (let i = 0; i < 10; i++) await node.putObject(putInput('b', `k${i}`, Buffer.alloc(2000, i)));
      await node.close();
      // A second disk added: nothing to rebuild, everything still there.
      node = await open(2);
      assert.equal(node.recovery?.mode, 'clean');
      assert.equal((await node.stats()).objects, 10);
      await node.close();
      // The first disk replaced by an empty one.
      await rm(`${t.dir}/volumes/v1`, { recursive: true, force: true });
      node = await open(2);
      assert.equal(node.recovery?.mode, 'rebuild');
      assert.match(node.recovery?.reason ?? '', /volume v1 is new and empty/);
      assert.equal((await node.stats()).objects, 0);
      assert.equal(await node.headObject('b', Buffer.from('k1')), undefined);
      await node.close();
      node = await open(2);
      assert.equal(node.recovery?.mode, 'clean', 'once rebuilt, an ordinary restart');
      await node.close();
    } finally {
      await t.remove();
    }
  },
);
