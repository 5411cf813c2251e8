// A mirrored write applied with the staged commit (replica.ts commitStaged): its row is committed while the
// volume entry syncs, hidden from readers until both are durable; a failed volume sync undoes it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectKey } from './keys.ts';
import { StorageNode } from './node.ts';
import type { ReplicaState } from './replica-api.ts';
import { md5, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';
import { afterIndexCommit } from './testing/index-events.ts';
import { gatedOpener } from './testing/staged-gate.ts';

const staged = testOpener().real;
const key = Buffer.from('k');
const data = Buffer.from('hello');
const opver = { counter: 100n, nodeId: 9 };
const state: ReplicaState = {
  bucket: 'bkt',
  key,
  versionId: 'null',
  opver,
  record: {
    bucket: 'bkt',
    key,
    size: data.length,
    etag: md5(data),
    lastModifiedMs: 1,
    headers: { userMeta: {} },
    checksums: {},
    opver,
    versionId: 'null',
  },
};

async function withGate(check: (node: StorageNode, open: (err?: Error) => void) => Promise<void>) {
  const { dir, remove } = await tempDir();
  let open!: (err?: Error) => void;
  const gate = new Promise<Error | undefined>((r) => {
    open = r;
  });
  const node = await StorageNode.open({
    dataDir: dir,
    nodeId: 1,
    volumes: volumeSpecs(dir),
    volumeOpener: gatedOpener(gate),
    tombstonePurgeIntervalMs: 0,
  });
  try {
    await check(node, open);
  } finally {
    open();
    await node.close();
    await remove();
  }
}

const apply = (node: StorageNode) =>
  node.applyReplica({
    state,
    body: (async function* () {
      yield data;
    })(),
  });

test('an apply whose volume sync is pending is committed to the index but hidden from readers', {
  skip: !staged,
  timeout: 30_000,
}, async () => {
  await withGate(async (node, open) => {
    const rowCommitted = afterIndexCommit(node.index, () =>
      Boolean(node.index.get(node.index.objects, objectKey('bkt', key))),
    );
    let opened = false;
    const applied = apply(node).then((r) => {
      assert.ok(opened, 'answered before the volume sync');
      return r;
    });
    await rowCommitted;
    assert.equal(await node.headObject('bkt', key), undefined, 'a reader saw an unacknowledged version');
    assert.deepEqual(await node.listObjects('bkt', { prefix: Buffer.alloc(0), limit: 10 }), []);
    opened = true;
    open();
    assert.equal(await applied, 'applied');
    assert.deepEqual((await node.headObject('bkt', key))?.opver, opver);
  });
});

test('a failed volume sync undoes the applied row: the node holds nothing of it', {
  skip: !staged,
  timeout: 30_000,
}, async () => {
  await withGate(async (node, open) => {
    const rowCommitted = afterIndexCommit(node.index, () =>
      Boolean(node.index.get(node.index.objects, objectKey('bkt', key))),
    );
    const applied = apply(node);
    await rowCommitted;
    open(new Error('EIO on fdatasync'));
    await assert.rejects(applied, /EIO/);
    assert.equal(await node.headObject('bkt', key), undefined);
    assert.equal(node.index.get(node.index.objects, objectKey('bkt', key)), undefined, 'row left behind');
    assert.deepEqual(await node.replicaStates('bkt', key), [], 'nothing held: the state is not stale');
  });
});
