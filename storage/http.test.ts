import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { StorageClient } from './http-client.ts';
import { STORAGE_CALL_SCHEMAS } from './http-schemas.ts';
import { createStorageServer } from './http-server.ts';
import { StorageNode } from './node.ts';
import { apiSuite } from './testing/api-suite.ts';
import { tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 64 * 1024;
const MIN_PART = 100 * 1024;

describe('storage node over HTTP (client <-> internal server on 127.0.0.1)', () => {
  let node: StorageNode;
  let server: Server;
  let client: StorageClient;
  let remove: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    remove = t.remove;
    node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 1,
      volumes: volumeSpecs(t.dir, 2),
      volumeOpener: testOpener().opener,
      smallObjectMaxBytes: SMALL,
      minPartBytes: MIN_PART,
    });
    server = createStorageServer(node);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = new StorageClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await client.close();
    server.close();
    await node.close();
    await remove();
  });
  apiSuite('HTTP client', () => ({ api: client, smallObjectMaxBytes: SMALL, minPartBytes: MIN_PART }));
});

test('every call the storage client makes has an argument schema on the server', {
  timeout: 10_000,
}, async () => {
  const source = readFileSync(new URL('./http-client.ts', import.meta.url), 'utf8');
  const calls = new Set(
    [
      ...source.matchAll(
        /this\.call(?:<[^(]*>)?\('([A-Za-z]+)'|path: '\/v1\/([A-Za-z]+)'|this\.applyFramed\('([A-Za-z]+)'/g,
      ),
    ].map((m) => (m[1] ?? m[2] ?? m[3])!),
  );
  assert.ok(
    calls.has('applyReplica') && calls.has('applyUpload'),
    'calls with a streamed body are found too',
  );
  assert.ok(calls.size >= 15, `found only ${calls.size} calls`);
  for (const method of calls) assert.ok(STORAGE_CALL_SCHEMAS[method], `no schema for ${method}`);
});
