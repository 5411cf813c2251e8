// An index written in an older key format is discarded at open and rebuilt from the volumes, so a changed
// encoding (keys.ts) never reads old rows with new rules.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { INDEX_FORMAT, NodeIndex } from './index-db.ts';
import { uploadKey } from './keys.ts';
import { StorageNode } from './node.ts';
import { H, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const { opener } = testOpener();

/** Format 1's upload key: esc(bucket) 0 esc(key) 0 id, escaping 0x00 -> 01 01 and 0x01 -> 01 02. */
function formatOneUploadKey(bucket: string, key: Buffer, uploadId: string): Buffer {
  const esc = (b: Buffer) => Buffer.from([...b].flatMap((x) => (x <= 1 ? [1, x + 1] : [x])));
  return Buffer.concat([
    esc(Buffer.from(bucket)),
    Buffer.from([0]),
    esc(key),
    Buffer.from([0]),
    Buffer.from(uploadId),
  ]);
}

test('an index of format 1 (escaped upload keys) is rebuilt at open; uploads list under their real keys', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  const open = () =>
    StorageNode.open({ dataDir: t.dir, nodeId: 1, volumes: volumeSpecs(t.dir, 1), volumeOpener: opener });
  try {
    const key = Buffer.from('a\x01b\x00c', 'latin1');
    let node = await open();
    const uploadId = await node.createUpload('bkt', key, H, Date.now());
    await node.close();

    // Turn the clean index into what the previous release left: format 1 rows, format stamp 1.
    const index = NodeIndex.open(join(t.dir, 'index'));
    assert.equal(index.formatIsCurrent(), true);
    const row = index.get(index.uploads, uploadKey('bkt', key, uploadId));
    assert.ok(row);
    await index.write(() => {
      index.uploads.remove(uploadKey('bkt', key, uploadId));
      index.uploads.put(formatOneUploadKey('bkt', key, uploadId), row);
      index.meta.put(Buffer.from('format'), Buffer.from([0, 0, 0, 1]));
    });
    assert.equal(index.wasClean(), true);
    await index.close();

    node = await open();
    try {
      const uploads = await node.listUploads('bkt', { prefix: Buffer.alloc(0), limit: 10 });
      assert.deepEqual(
        uploads.map((u) => [u.key, u.uploadId]),
        [[key, uploadId]],
      );
    } finally {
      await node.close();
    }
    const reopened = NodeIndex.open(join(t.dir, 'index'));
    assert.equal(reopened.formatIsCurrent(), true, `stamped ${INDEX_FORMAT}`);
    await reopened.close();
  } finally {
    await t.remove();
  }
});

test('an index of format 2 (object values without version fields) is rebuilt at open, not misread', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir();
  const open = () =>
    StorageNode.open({ dataDir: t.dir, nodeId: 1, volumes: volumeSpecs(t.dir, 1), volumeOpener: opener });
  try {
    let node = await open();
    await node.putObject(putInput('bkt', 'k', Buffer.from('kept')));
    await node.close();
    // What the previous release left: format stamp 2 (its object rows had no version fields).
    const index = NodeIndex.open(join(t.dir, 'index'));
    await index.write(() => index.meta.put(Buffer.from('format'), Buffer.from([0, 0, 0, 2])));
    await index.close();
    node = await open();
    try {
      assert.equal(node.recovery?.mode, 'rebuild');
      const h = (await node.openObject('bkt', Buffer.from('k')))!;
      assert.equal(h.record.versionId, 'null');
      assert.deepEqual(await readAll(h.stream()), Buffer.from('kept'));
      h.release();
    } finally {
      await node.close();
    }
  } finally {
    await t.remove();
  }
});
