// The replication calls over the real internal HTTP API on 127.0.0.1 (cluster secret, partition guard, argument
// checks): copyKey with a remote end either way, a stale apply whose body the server reads off, the key scan.
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
import { copyKey } from './replica-ship.ts';
import { bytes, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 60_000 };
const SECRET = 'replica-http-test-secret-0123456789abcdef';
const layout = initialLayout(['a', 'b']);
const SMALL = 16 * 1024;

/** Keys (k0, k1, ...) that `layout` places in `group` for bucket `b`. */
function keysIn(group: string, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = Buffer.from(`k${i}`);
    if (routeKey(layout, 'b', k) === group) out.push(k);
  }
  return out;
}

describe('replication over the internal HTTP API', () => {
  let local: StorageNode;
  let remote: StorageNode;
  let server: Server;
  let url: string;
  let client: StorageClient;
  const removes: Array<() => Promise<void>> = [];
  before(async () => {
    const open = async (nodeId: number) => {
      const t = await tempDir();
      removes.push(t.remove);
      return StorageNode.open({
        dataDir: t.dir,
        nodeId,
        volumes: volumeSpecs(t.dir, 1),
        volumeOpener: testOpener().opener,
        smallObjectMaxBytes: SMALL,
        tombstonePurgeIntervalMs: 0,
      });
    };
    local = await open(1);
    remote = await open(2);
    server = createStorageServer(new PartitionGuard(remote, 'a', layout), { secret: SECRET });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new StorageClient(url, { secret: SECRET, connections: 1 });
  });
  after(async () => {
    await client.close();
    server.close();
    await local.close();
    await remote.close();
    for (const r of removes) await r();
  });

  const body = async (n: StorageNode | StorageClient, key: Buffer) => {
    const h = await n.openObject('b', key);
    assert.ok(h);
    try {
      return await readAll(h.stream());
    } finally {
      h.release();
    }
  };

  test('copyKey to and from a remote node: versions, a large body, a tombstone; the scan', T, async () => {
    const [k1, k2, k3] = keysIn('a', 3) as [Buffer, Buffer, Buffer];
    await local.putObject(putInput('b', k1, bytes(1000, 1)));
    await local.putObject(putInput('b', k2, bytes(100 * 1024, 2), { versioning: 'enabled' }));
    await local.putObject(putInput('b', k2, bytes(10, 3), { versioning: 'enabled' }));
    await local.putObject(putInput('b', k3, bytes(10, 4)));
    await local.deleteObject('b', k3);
    let sent = 0;
    for (const k of [k1, k2, k3]) {
      const r = await copyKey({ from: local, to: client, bucket: 'b', key: k });
      sent += r.applied;
      assert.deepEqual(await client.replicaStates('b', k), await local.replicaStates('b', k));
    }
    assert.equal(sent, 4);
    assert.ok((await body(client, k1)).equals(bytes(1000, 1)));
    assert.deepEqual(
      await client.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 100 }),
      await local.listObjectVersions('b', { prefix: Buffer.alloc(0), limit: 100 }),
    );
    const want = [k1, k2, k3].sort(Buffer.compare).map((key) => ({ bucket: 'b', key }));
    assert.deepEqual(await client.scanKeys({ limit: 10 }), want);
    assert.deepEqual(await client.scanKeys({ after: want[0]!, limit: 1 }), [want[1]]);
    // And back: a write on the remote node reaches the local one through the client as the source.
    await remote.putObject(putInput('b', k1, bytes(2000, 5)));
    assert.equal((await copyKey({ from: client, to: local, bucket: 'b', key: k1 })).applied, 1);
    assert.ok((await body(local, k1)).equals(bytes(2000, 5)));
  });

  test('a stale apply answers stale and the connection serves the next call', T, async () => {
    const [k] = keysIn('a', 4).slice(3) as [Buffer];
    await local.putObject(putInput('b', k, bytes(200 * 1024, 6)));
    assert.equal((await copyKey({ from: local, to: client, bucket: 'b', key: k })).applied, 1);
    const [state] = await local.replicaStates('b', k);
    // One connection: the stale body (200 KiB) must be read off for the next request to get through.
    const again = await client.applyReplica({
      state: state!,
      body: (async function* () {
        yield bytes(200 * 1024, 6);
      })(),
    });
    assert.equal(again, 'stale');
    assert.equal((await client.replicaStates('b', k)).length, 1);
  });

  test(
    'the guard refuses keys of another syncgroup; bad arguments and a missing secret are refused',
    T,
    async () => {
      const [theirs] = keysIn('b', 1) as [Buffer];
      await assert.rejects(client.replicaStates('b', theirs), WrongPartitionError);
      const state = { bucket: 'b', key: theirs, versionId: 'null', opver: { counter: 5n, nodeId: 1 } };
      await assert.rejects(client.applyReplica({ state }), WrongPartitionError);
      // Refused with a large body on the client's one connection: the next call still gets through.
      const big = bytes(300 * 1024, 9);
      const record = {
        bucket: 'b',
        key: theirs,
        size: big.length,
        etag: 'e',
        lastModifiedMs: 1,
        headers: { userMeta: {} },
        checksums: {},
        opver: state.opver,
        versionId: 'null',
      };
      await assert.rejects(
        client.applyReplica({
          state: { ...state, record },
          body: (async function* () {
            yield big;
          })(),
        }),
        WrongPartitionError,
      );
      assert.equal(await remote.headObject('b', theirs), undefined);
      const [mine] = keysIn('a', 1) as [Buffer];
      await assert.rejects(
        client.applyReplica({ state: { ...state, key: mine, opver: { counter: -1n, nodeId: 1 } } }),
        /invalid arguments for applyReplica/,
      );
      await assert.rejects(
        client.applyReplica({ state: { ...state, key: mine, versionId: 'not a version id' } }),
        /not a version id/,
      );
      const res = await fetch(`${url}/v1/scanKeys`, { method: 'POST', body: '{"limit":1}' });
      assert.equal(res.status, 403);
      const ok = await fetch(`${url}/v1/scanKeys`, {
        method: 'POST',
        headers: { [SECRET_HEADER]: SECRET },
        body: '{"limit":100000}',
      });
      assert.equal(ok.status, 400, 'limit beyond 10,000');
    },
  );

  test(
    'uploads over HTTP: copyKey brings an upload, its inline and blob parts and its tombstone either way',
    T,
    async () => {
      const [k] = keysIn('a', 6).slice(5) as [Buffer];
      const id = await remote.createUpload('b', k, { userMeta: { x: 'y' } }, 1, 'SHA256', {
        legalHold: true,
      });
      const parts = [bytes(1000, 21), bytes(40 * 1024, 22)];
      for (const [i, data] of parts.entries())
        await remote.uploadPart({
          bucket: 'b',
          key: k,
          uploadId: id,
          partNumber: i + 1,
          size: data.length,
          body: (async function* () {
            yield data;
          })(),
          finish: async () => ({ etag: 'e'.repeat(32), checksums: {} }),
          nowMs: 2,
        });
      // The remote node as the source (a recovery pull's): states, then each part's bytes through a read handle.
      const r = await copyKey({ from: client, to: local, bucket: 'b', key: k });
      assert.deepEqual([r.applied, r.bytes], [3, 1000 + 40 * 1024]);
      assert.deepEqual(await local.uploadStates('b', k), await client.uploadStates('b', k));
      assert.deepEqual(
        await local.listParts('b', k, id, { afterPart: 0, limit: 10 }),
        await remote.listParts('b', k, id, { afterPart: 0, limit: 10 }),
      );
      for (const [i, data] of parts.entries()) {
        const h = (await local.openPart('b', k, id, i + 1))!;
        assert.ok((await readAll(h.stream())).equals(data));
        h.release();
      }
      // A stale part with its bytes on the client's one connection: answered stale, the next call gets through.
      const part2 = (await client.uploadStates('b', k)).find((s) => s.partNumber === 2)!;
      const again = await client.applyUpload({
        state: part2,
        body: (async function* () {
          yield parts[1]!;
        })(),
      });
      assert.equal(again, 'stale');
      // The other way: the local node aborts, the remote one gets the tombstone.
      await local.abortUpload('b', k, id);
      assert.equal((await copyKey({ from: local, to: client, bucket: 'b', key: k })).applied, 1);
      assert.deepEqual(await remote.listUploads('b', { prefix: k, limit: 10 }), []);
      assert.deepEqual(
        (await client.uploadStates('b', k)).map((s) => [s.uploadId, s.upload]),
        [[id, undefined]],
      );
      assert.equal(await client.openPart('b', k, id, 1), undefined);
      // Refused: another syncgroup's key; a part number out of range.
      const [theirs] = keysIn('b', 1) as [Buffer];
      await assert.rejects(client.uploadStates('b', theirs), WrongPartitionError);
      await assert.rejects(client.openPart('b', theirs, id, 1), WrongPartitionError);
      await assert.rejects(
        client.applyUpload({ state: { ...part2, partNumber: 0 } }),
        /invalid arguments for applyUpload/,
      );
    },
  );
});
