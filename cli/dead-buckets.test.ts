// Leftovers of a deleted incarnation that outlived their process are purged at the next start.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { StorageNode } from '../storage/node.ts';
import { bytes, H, putInput } from '../storage/testing/harness.ts';
import { Catalog } from '../tracker/catalog.ts';
import { resolveConfig } from './config.ts';
import { dataLayout, startEmbedded } from './embedded.ts';

const silent = pino({ level: 'silent' });

async function openParts(dataDir: string) {
  const layout = dataLayout(dataDir);
  const catalog = Catalog.open(layout.tracker);
  const storage = await StorageNode.open({
    dataDir: layout.node,
    nodeId: 1,
    volumes: [{ dir: layout.volume, maxBytes: 1 << 30, reservedFreeBytes: 0 }],
  });
  return { catalog, storage };
}

test('a start purges what deleted incarnations still hold, and only that', { timeout: 60_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'quire-dead-buckets-'));
  try {
    const first = await openParts(dataDir);
    const base = { owner: 'AK1', createdMs: 1, region: 'us-east-1' };
    await first.catalog.createBucket({ name: 'gone', ...base });
    await first.catalog.createBucket({ name: 'live', ...base });
    const gone = first.catalog.getBucket('gone')!;
    const live = first.catalog.getBucket('live')!;
    assert.equal(await first.catalog.deleteBucket(gone, async () => true), 'deleted');
    // What late requests for the dead incarnation wrote before the process died without cleaning up.
    await first.storage.putObject(putInput(gone.id, 'late', bytes(300, 1)));
    await first.storage.createUpload(gone.id, Buffer.from('late-upload'), H, 1);
    await first.storage.putObject(putInput(live.id, 'kept', bytes(300, 2)));
    await first.storage.close();
    await first.catalog.close();

    const config = resolveConfig([{ dataDir, port: 0, logLevel: 'silent' }]);
    const running = await startEmbedded(config, [{ accessKeyId: 'AK1', secretAccessKey: 'secret' }], silent);
    await running.close();

    const after = await openParts(dataDir);
    try {
      assert.equal(await after.storage.hasObjects(gone.id), false);
      assert.deepEqual(await after.storage.listUploads(gone.id, { prefix: Buffer.alloc(0), limit: 10 }), []);
      assert.equal((await after.storage.headObject(live.id, Buffer.from('kept')))?.size, 300);
      assert.deepEqual(after.catalog.deadBuckets(), []);
    } finally {
      await after.storage.close();
      await after.catalog.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
