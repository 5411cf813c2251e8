// The internal calls' fast paths. A small version's bytes travel in the openObject answer (http-wire.ts
// INLINE_TYPE): one internal call per read instead of open + stream + release. The bytes are read under the pin
// the open took and verified there, so a read racing an overwrite gets one whole version, and bad bytes are
// refused, never sent. Bodies, small (one buffer) or streamed, leave the connection open for the next call.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunkFileName } from '../packing/layout.ts';
import type { ByteRangeInclusive, ReadHandle, StorageApi } from './api.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { INLINE_READ_BYTES } from './http-wire.ts';
import { objectKey } from './keys.ts';
import { StorageNode } from './node.ts';
import { decodeObjectValue } from './records.ts';
import { bytes, md5, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 1024 * 1024;

interface Rig {
  node: StorageNode;
  client: StorageClient;
  /** The internal calls the server received, by path. */
  calls: string[];
  /** TCP connections the server accepted. */
  connections: () => number;
  /** Per put the server answered: whether its request was read to its end (not destroyed before, with an error). */
  ended: boolean[];
  dir: string;
}

/** A node served over the internal HTTP API; `wrap` may put pause points in front of its reads. */
async function withRig(
  fn: (r: Rig) => Promise<void>,
  wrap: (node: StorageNode) => StorageApi = (n) => n,
): Promise<void> {
  const t = await tempDir('quire-inline-');
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: volumeSpecs(t.dir, 1),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: SMALL,
  });
  const server: Server = createStorageServer(wrap(node));
  const calls: string[] = [];
  const ended: boolean[] = [];
  server.on('request', (req, res) => {
    calls.push(req.url ?? '');
    if (req.url === '/v1/putObject') res.once('finish', () => ended.push(req.readableEnded && !req.errored));
  });
  let connections = 0;
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new StorageClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    connections: 1,
  });
  try {
    await fn({ node, client, calls, connections: () => connections, ended, dir: t.dir });
  } finally {
    await client.close();
    server.close();
    await node.close();
    await t.remove();
  }
}

test('a small version comes whole in one call: exact bytes, ranges, nothing held on the node', {
  timeout: 60_000,
}, async () => {
  await withRig(async ({ node, client, calls }) => {
    const data = bytes(4096, 1);
    await node.putObject(putInput('b', 'small', data));
    await node.putObject(putInput('b', 'empty', Buffer.alloc(0)));
    const edge = bytes(INLINE_READ_BYTES, 2);
    await node.putObject(putInput('b', 'edge', edge));
    calls.length = 0;

    const h = await client.openObject('b', Buffer.from('small'));
    assert.ok(h);
    assert.equal(h.record.etag, md5(data));
    assert.deepEqual(await readAll(h.stream()), data);
    assert.deepEqual(await readAll(h.stream({ start: 100, end: 1099 })), data.subarray(100, 1100));
    assert.deepEqual(await readAll(h.stream({ start: 4095, end: 4095 })), data.subarray(4095));
    await assert.rejects(readAll(h.stream({ start: 10, end: 4096 })), { code: 'InvalidRange' });
    h.release();
    assert.deepEqual(calls, ['/v1/openObject'], 'open, every read of the bytes and the release: one call');

    const e = await client.openObject('b', Buffer.from('empty'));
    assert.equal(e?.record.size, 0);
    assert.deepEqual(await readAll(e!.stream()), Buffer.alloc(0));
    e!.release();
    const x = await client.openObject('b', Buffer.from('edge'));
    assert.deepEqual(await readAll(x!.stream()), edge);
    x!.release();
    assert.equal(calls.length, 3);
    assert.equal(await client.openObject('b', Buffer.from('missing')), undefined);
  });
});

test('a version larger than the inline limit is still streamed from a handle on the node', {
  timeout: 60_000,
}, async () => {
  await withRig(async ({ node, client, calls }) => {
    const data = bytes(INLINE_READ_BYTES + 1, 3);
    await node.putObject(putInput('b', 'big', data));
    calls.length = 0;
    const h = await client.openObject('b', Buffer.from('big'));
    assert.ok(h);
    assert.deepEqual(await readAll(h.stream()), data);
    h.release();
    await until(() => calls.includes('/v1/release'));
    assert.deepEqual(calls, ['/v1/openObject', '/v1/stream', '/v1/release']);
  });
});

test('an inline read racing an overwrite gets the version it opened, whole; the pin is let go', {
  timeout: 60_000,
}, async () => {
  // A pause point between the open (the version found and pinned) and the read of its bytes.
  let reached!: () => void;
  const atRead = new Promise<void>((r) => {
    reached = r;
  });
  let letGo!: () => void;
  const go = new Promise<void>((r) => {
    letGo = r;
  });
  let armed = true;
  const gated = (node: StorageNode): StorageApi =>
    new Proxy(node, {
      get(target, prop) {
        if (prop === 'openObject')
          return async (...args: Parameters<StorageApi['openObject']>) => {
            const h = await target.openObject(...args);
            if (!h || !armed) return h;
            armed = false;
            return pausedBeforeRead(h, reached, go);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  await withRig(async ({ node, client }) => {
    const v1 = bytes(3000, 11);
    const v2 = bytes(3000, 12);
    await node.putObject(putInput('b', 'k', v1));
    const reading = client.openObject('b', Buffer.from('k'));
    await atRead;
    // The same size: without the pin the overwrite would rewrite the entry in place (adaptive slack).
    await node.putObject(putInput('b', 'k', v2));
    assert.equal(node.index.pending.getKeysCount(), 1, 'the old version is kept for the pinned read');
    letGo();
    const h = await reading;
    assert.ok(h);
    assert.equal(h.record.etag, md5(v1), 'the version that was current at the open');
    assert.deepEqual(await readAll(h.stream()), v1, 'its bytes, whole');
    h.release();
    const again = await client.openObject('b', Buffer.from('k'));
    assert.deepEqual(await readAll(again!.stream()), v2);
    again!.release();
    // The old version's space was handed back when the server let go of its pin: nothing stays pending.
    await until(() => node.index.pending.getKeysCount() === 0);
  }, gated);
});

test('bad bytes are refused: the inline answer is an error, never the corrupted version', {
  timeout: 60_000,
}, async () => {
  await withRig(async ({ node, client, dir }) => {
    const data = bytes(5000, 21);
    await node.putObject(putInput('b', 'k', data));
    const at = decodeObjectValue(node.rows.get(objectKey('b', Buffer.from('k')))!).at;
    assert.equal(at.location.kind, 'chunk');
    const file = join(volumeSpecs(dir, 1)[0]!.dir, chunkFileName((at.location as { fileId: number }).fileId));
    const whole = await readFile(file);
    const pos = whole.indexOf(data.subarray(2000, 2064));
    assert.ok(pos >= 0);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([whole[pos]! ^ 0x5a]), 0, 1, pos);
    await fh.close();
    await assert.rejects(client.openObject('b', Buffer.from('k')));
  });
});

test('puts small (one buffer) and large (streamed, chunked) are read to their end; one connection serves all', {
  timeout: 60_000,
}, async () => {
  await withRig(async ({ client, connections, ended }) => {
    const bodies = [bytes(4096, 31), bytes(300 * 1024, 32), bytes(100, 33), bytes(2 * 1024 * 1024 + 5, 34)];
    for (const [i, data] of bodies.entries()) {
      // The digests come a moment after the bytes (a gateway hashing them): the final frame and the chunked
      // request's end travel apart.
      const input = putInput('b', `k${i}`, data);
      const digests = input.finish;
      input.finish = async () => {
        await new Promise((r) => setTimeout(r, 5));
        return digests();
      };
      const rec = await client.putObject(input);
      assert.equal(rec.size, data.length);
    }
    for (const [i, data] of bodies.entries()) {
      const h = await client.openObject('b', Buffer.from(`k${i}`));
      assert.deepEqual(await readAll(h!.stream()), data);
      h!.release();
    }
    assert.equal(connections(), 1, 'every call on the same keep-alive connection');
    assert.equal(ended.length, bodies.length);
    assert.deepEqual(ended, Array(ended.length).fill(true), 'no request destroyed before its end');
  });
});

test("a call bounded only by a signal (a write) is cut with the signal's reason by a node that never answers", {
  timeout: 30_000,
}, async () => {
  // A frozen node as its callers see it: the kernel accepts the connection, nothing ever answers.
  const sockets: Socket[] = [];
  const silent = createTcpServer((s) => sockets.push(s));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const client = new StorageClient(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
  try {
    for (const call of [
      (c: StorageClient) => c.deleteObject('b', Buffer.from('k')),
      (c: StorageClient) => c.putObject(putInput('b', 'k', bytes(4096, 41))),
    ]) {
      const ac = new AbortController();
      const reason = new Error('the tracker reports the node suspect');
      const pending = call(client.bounded({ signal: ac.signal }));
      while (sockets.length === 0) await new Promise((r) => setImmediate(r));
      ac.abort(reason);
      await assert.rejects(pending, (err) => err === reason);
      // Already aborted before the call: refused at once, with the same reason.
      await assert.rejects(call(client.bounded({ signal: ac.signal })), (err) => err === reason);
    }
  } finally {
    await client.close();
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

/** A handle whose first read waits at a pause point (reported by `reached`) until `go`. */
function pausedBeforeRead(h: ReadHandle, reached: () => void, go: Promise<void>): ReadHandle {
  return {
    record: h.record,
    release: () => h.release(),
    async *stream(range?: ByteRangeInclusive) {
      reached();
      await go;
      yield* h.stream(range);
    },
  };
}

/** Waits (turn by turn of the event loop) until `ok`; fails after 10 s rather than hang the file. */
async function until(ok: () => boolean): Promise<void> {
  const limit = performance.now() + 10_000;
  while (!ok()) {
    if (performance.now() > limit) throw new Error('condition not reached within 10 s');
    await new Promise((r) => setImmediate(r));
  }
}
