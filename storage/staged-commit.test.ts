// The index row of a PUT is committed while its volume entry is still syncing (node.ts header):
// readers must not see it before the ack, and a failed volume sync must undo it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectKey } from './keys.ts';
import { StorageNode } from './node.ts';
import { putInput, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';
import { afterIndexCommit } from './testing/index-events.ts';
import { gatedOpener } from './testing/staged-gate.ts';

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
  });
  try {
    await check(node, open);
  } finally {
    open();
    await node.close();
    await remove();
  }
}

const staged = testOpener().real;

test('a PUT whose volume sync is pending is committed to the index but hidden from readers', {
  skip: !staged,
}, async () => {
  await withGate(async (node, open) => {
    const key = Buffer.from('k');
    const rowCommitted = afterIndexCommit(node.index, () =>
      Boolean(node.index.get(node.index.objects, objectKey('bkt', key))),
    );
    let opened = false;
    const put = node.putObject(putInput('bkt', key, Buffer.from('hello'))).then(() => {
      assert.ok(opened, 'acknowledged before the volume sync');
    });
    await rowCommitted;
    assert.equal(await node.headObject('bkt', key), undefined, 'a reader saw an unacknowledged version');
    assert.equal(await node.openObject('bkt', key), undefined);
    assert.deepEqual(await node.listObjects('bkt', { prefix: Buffer.alloc(0), limit: 10 }), []);
    opened = true;
    open();
    await put;
    assert.equal((await node.headObject('bkt', key))?.size, 5);
    assert.equal((await node.listObjects('bkt', { prefix: Buffer.alloc(0), limit: 10 })).length, 1);
  });
});

test('a failed volume sync undoes the row and voids the binlog record', { skip: !staged }, async () => {
  await withGate(async (node, open) => {
    const key = Buffer.from('k');
    const rowCommitted = afterIndexCommit(node.index, () =>
      Boolean(node.index.get(node.index.objects, objectKey('bkt', key))),
    );
    const put = node.putObject(putInput('bkt', key, Buffer.from('hello')));
    await rowCommitted;
    open(new Error('EIO on fdatasync'));
    await assert.rejects(put, /EIO/);
    assert.equal(await node.headObject('bkt', key), undefined);
    assert.equal(node.index.get(node.index.objects, objectKey('bkt', key)), undefined, 'row left behind');
    const records = [];
    for await (const r of node.binlog.readFrom()) records.push(r);
    assert.equal(records.length, 0, 'the record of the failed PUT would be shipped');
  });
});
