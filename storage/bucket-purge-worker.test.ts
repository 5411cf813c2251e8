// A storage node drops what it holds of incarnations the catalog lists as deleted, and nothing else: a bucket the
// node's catalog does not know (created after it) keeps its data. Real StorageNode, real volumes and LMDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BucketPurgeWorker } from './bucket-purge-worker.ts';
import { StorageNode } from './node.ts';
import { bytes, putInput, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const T = { timeout: 60_000 };
const DEAD = `~${'d'.repeat(32)}`;
const ALIVE = `~${'a'.repeat(32)}`;
const NEWER = `~${'e'.repeat(32)}`;

test(
  'a pass drops every key and upload of listed deleted incarnations, counts them, and leaves the rest',
  T,
  async () => {
    const t = await tempDir();
    const node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 1,
      volumes: volumeSpecs(t.dir, 1),
      volumeOpener: testOpener().opener,
    });
    try {
      for (const b of [DEAD, ALIVE, NEWER])
        for (let i = 0; i < 3; i++) await node.putObject(putInput(b, `k${i}`, bytes(1000, i)));
      await node.createUpload(DEAD, Buffer.from('up'), { userMeta: {} }, 1);
      const deleted = new Set<string>();
      const logged: object[] = [];
      const worker = new BucketPurgeWorker({
        deleted: () => deleted,
        nextBucket: (after) => node.nextBucket(after),
        dropBucket: (id) => node.dropBucket(id),
        intervalMs: 0,
        log: { info: (o) => logged.push(o), warn: (o) => logged.push(o) },
      });
      await worker.run();
      assert.deepEqual(
        worker.totals,
        { incarnations: 0, objects: 0, uploads: 0 },
        'nothing listed: nothing dropped',
      );
      deleted.add(DEAD);
      deleted.add(`~${'f'.repeat(32)}`); // listed but never held here
      await worker.run();
      assert.deepEqual(worker.totals, { incarnations: 1, objects: 3, uploads: 1 });
      assert.deepEqual(logged, [{ incarnation: DEAD, objects: 3, uploads: 1 }]);
      assert.equal(await node.headObject(DEAD, Buffer.from('k0')), undefined);
      for (const b of [ALIVE, NEWER]) assert.ok(await node.headObject(b, Buffer.from('k2')), `${b} kept`);
      // Keys of the dead incarnation that come back (push sync from a member that was away) go at the next pass.
      await node.putObject(putInput(DEAD, 'back', bytes(10, 9)));
      await worker.run();
      assert.equal(await node.headObject(DEAD, Buffer.from('back')), undefined);
      assert.deepEqual(worker.totals, { incarnations: 2, objects: 4, uploads: 1 });
      await worker.stop();
    } finally {
      await node.close();
      await t.remove();
    }
  },
);
