import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ListedVersion } from './api.ts';
import { StorageNode } from './node.ts';
import { rebuildIndex } from './rebuild.ts';
import { bytes, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 16 * 1024;
const { opener } = testOpener();
const E = { versioning: 'enabled' as const };
const S = { versioning: 'suspended' as const };
const none = Buffer.alloc(0);

function options(dir: string) {
  return {
    dataDir: dir,
    nodeId: 5,
    volumes: volumeSpecs(dir, 2),
    volumeOpener: opener,
    smallObjectMaxBytes: SMALL,
    minPartBytes: 100,
  };
}

async function versions(node: StorageNode, bucket = 'b', prefix = ''): Promise<ListedVersion[]> {
  return node.listObjectVersions(bucket, { prefix: Buffer.from(prefix), limit: 1000 });
}

/** Every version's listing row and bytes: what a rebuild must give back exactly. */
async function snapshot(node: StorageNode): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const v of await versions(node)) {
    const h = await node.openObject('b', v.key, { versionId: v.versionId });
    assert.ok(h, `version ${v.versionId} of ${v.key} opens`);
    const data = (await readAll(h.stream())).toString('base64');
    h.release();
    const { opver: _o, ...record } = h.record;
    out.push({ v, record, data });
  }
  return out;
}

test('versions of a key: ids, order, delete markers, GET by id, removing one version promotes the next', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    const v1 = await node.putObject(putInput('b', 'k', bytes(100, 1), E));
    const v2 = await node.putObject(putInput('b', 'k', bytes(200, 2), E));
    const v3 = await node.putObject(putInput('b', 'k', bytes(SMALL + 10, 3), E)); // a blob
    await node.putObject(putInput('b', 'j', bytes(5, 4), E));
    await node.putObject(putInput('b', 'l', bytes(6, 5))); // unversioned write: the null version
    const ids = [v1.versionId, v2.versionId, v3.versionId];
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);

    let list = await versions(node);
    assert.deepEqual(
      list.map((v) => [v.key.toString(), v.versionId, v.isLatest, v.deleteMarker]),
      [
        ['j', list[0]!.versionId, true, false],
        ['k', v3.versionId, true, false],
        ['k', v2.versionId, false, false],
        ['k', v1.versionId, false, false],
        ['l', 'null', true, false],
      ],
    );
    // GET by id reads that version's bytes; the current one is the newest.
    const h1 = (await node.openObject('b', Buffer.from('k'), { versionId: v1.versionId }))!;
    assert.deepEqual(await readAll(h1.stream()), bytes(100, 1));
    assert.equal(h1.record.isLatest, false);
    h1.release();
    assert.equal((await node.headObject('b', Buffer.from('k')))!.versionId, v3.versionId);
    assert.equal(await node.headObject('b', Buffer.from('k'), { versionId: 'AAAAAAAAAAAAAAAA' }), undefined);
    assert.equal(await node.headObject('b', Buffer.from('k'), { versionId: 'null' }), undefined);

    // DELETE without a version id: a delete marker becomes current; LIST skips the key.
    const dm = await node.removeObject({
      bucket: 'b',
      key: Buffer.from('k'),
      versioning: 'enabled',
      nowMs: 9,
    });
    assert.equal(dm.deleteMarker, true);
    assert.notEqual(dm.versionId, v3.versionId);
    const cur = (await node.headObject('b', Buffer.from('k')))!;
    assert.equal(cur.deleteMarker, true);
    assert.equal(cur.versionId, dm.versionId);
    const listed = await node.listObjects('b', { prefix: none, limit: 1 });
    assert.deepEqual(
      listed.map((o) => o.key.toString()),
      ['j'],
    );
    assert.deepEqual(
      (await node.listObjects('b', { prefix: none, after: Buffer.from('j'), limit: 1 })).map((o) =>
        o.key.toString(),
      ),
      ['l'],
      'a listing reads on past a delete marker to fill its page',
    );
    assert.equal(await node.hasObjects('b'), true);

    // Removing the marker by id brings v3 back; removing v1 (noncurrent) leaves the others.
    assert.deepEqual(
      await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: dm.versionId, nowMs: 10 }),
      { existed: true, versionId: dm.versionId, deleteMarker: true },
    );
    assert.equal((await node.headObject('b', Buffer.from('k')))!.versionId, v3.versionId);
    await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: v1.versionId!, nowMs: 11 });
    // Removing the current version promotes v2.
    await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: v3.versionId!, nowMs: 12 });
    const h2 = (await node.openObject('b', Buffer.from('k')))!;
    assert.equal(h2.record.versionId, v2.versionId);
    assert.deepEqual(await readAll(h2.stream()), bytes(200, 2));
    h2.release();
    list = await versions(node, 'b', 'k');
    assert.deepEqual(
      list.map((v) => [v.versionId, v.isLatest]),
      [[v2.versionId, true]],
    );
    assert.deepEqual(
      await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: v1.versionId!, nowMs: 13 }),
      { existed: false, versionId: v1.versionId },
    );
    await node.close();
  } finally {
    await t.remove();
  }
});

test('suspended: writes replace the null version, real versions stay; paging by key and version markers', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    await node.putObject(putInput('b', 'k', bytes(10, 1))); // before versioning: null
    const a = await node.putObject(putInput('b', 'k', bytes(11, 2), E));
    const n1 = await node.putObject(putInput('b', 'k', bytes(12, 3), S));
    assert.equal(n1.versionId, 'null');
    let list = await versions(node);
    assert.deepEqual(
      list.map((v) => [v.versionId, v.isLatest, v.size]),
      [
        ['null', true, 12],
        [a.versionId, false, 11],
      ],
      'the first null version was replaced by the suspended write',
    );
    const b = await node.putObject(putInput('b', 'k', bytes(13, 4), E));
    const n2 = await node.putObject(putInput('b', 'k', bytes(14, 5), S)); // replaces the noncurrent null
    list = await versions(node);
    assert.deepEqual(
      list.map((v) => [v.versionId, v.isLatest, v.size]),
      [
        ['null', true, 14],
        [b.versionId, false, 13],
        [a.versionId, false, 11],
      ],
    );
    const h = (await node.openObject('b', Buffer.from('k'), { versionId: 'null' }))!;
    assert.deepEqual(await readAll(h.stream()), bytes(14, 5));
    h.release();
    assert.equal(n2.versionId, 'null');
    // A suspended DELETE writes a null delete marker, replacing the null version.
    const dm = await node.removeObject({
      bucket: 'b',
      key: Buffer.from('k'),
      versioning: 'suspended',
      nowMs: 1,
    });
    assert.deepEqual(dm, { existed: true, versionId: 'null', deleteMarker: true });
    list = await versions(node);
    assert.deepEqual(
      list.map((v) => [v.versionId, v.isLatest, v.deleteMarker]),
      [
        ['null', true, true],
        [b.versionId, false, false],
        [a.versionId, false, false],
      ],
    );
    // Paging: after (k, null) come b and a; after (k, b) only a; after k alone nothing.
    const page = (afterVersionId?: string) =>
      node.listObjectVersions('b', {
        prefix: none,
        afterKey: Buffer.from('k'),
        ...(afterVersionId ? { afterVersionId } : {}),
        limit: 10,
      });
    assert.deepEqual(
      (await page('null')).map((v) => v.versionId),
      [b.versionId, a.versionId],
    );
    assert.deepEqual(
      (await page(b.versionId)).map((v) => v.versionId),
      [a.versionId],
    );
    assert.deepEqual(await page(), []);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('updateObjectAttributes keeps data and version id, takes a new opver; current, noncurrent, blob', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    const old = await node.putObject(
      putInput('b', 'k', bytes(100, 1), { ...E, tags: [{ key: 'x', value: '1' }] }),
    );
    const big = await node.putObject(putInput('b', 'k', bytes(SMALL * 2, 2), E));
    const tags = [
      { key: 'z', value: 'last' },
      { key: 'a', value: '' },
    ];
    const u1 = await node.updateObjectAttributes({
      bucket: 'b',
      key: Buffer.from('k'),
      versionId: old.versionId,
      update: { tags },
      nowMs: 5,
    });
    assert.equal(u1.versionId, old.versionId);
    assert.ok(u1.opver.counter > big.opver.counter);
    const u2 = await node.updateObjectAttributes({
      bucket: 'b',
      key: Buffer.from('k'),
      update: { tags: [{ key: 'q', value: 'w' }], legalHold: true },
      nowMs: 6,
    });
    assert.equal(u2.versionId, big.versionId);
    // Order of versions is by creation, not by the last update: `big` stays current.
    const list = await versions(node);
    assert.deepEqual(
      list.map((v) => v.versionId),
      [big.versionId, old.versionId],
    );
    const hOld = (await node.openObject('b', Buffer.from('k'), { versionId: old.versionId }))!;
    assert.deepEqual(hOld.record.tags, tags);
    assert.deepEqual(await readAll(hOld.stream()), bytes(100, 1));
    hOld.release();
    const hBig = (await node.openObject('b', Buffer.from('k')))!;
    assert.deepEqual(hBig.record.tags, [{ key: 'q', value: 'w' }]);
    assert.equal(hBig.record.legalHold, true);
    assert.deepEqual(await readAll(hBig.stream()), bytes(SMALL * 2, 2));
    hBig.release();
    // Removing every tag; a delete marker has no attributes; a missing version is NoSuchVersion.
    const u3 = await node.updateObjectAttributes({
      bucket: 'b',
      key: Buffer.from('k'),
      update: { tags: [] },
      nowMs: 7,
    });
    assert.equal(u3.tags, undefined);
    const dm = await node.removeObject({
      bucket: 'b',
      key: Buffer.from('k'),
      versioning: 'enabled',
      nowMs: 8,
    });
    await assert.rejects(
      node.updateObjectAttributes({ bucket: 'b', key: Buffer.from('k'), update: { tags: [] }, nowMs: 9 }),
      { code: 'MethodNotAllowed' },
    );
    await assert.rejects(
      node.updateObjectAttributes({
        bucket: 'b',
        key: Buffer.from('k'),
        versionId: 'AAAAAAAAAAAAAAAA',
        update: { tags: [] },
        nowMs: 9,
      }),
      { code: 'NoSuchVersion' },
    );
    await assert.rejects(
      node.updateObjectAttributes({ bucket: 'b', key: Buffer.from('nope'), update: { tags: [] }, nowMs: 9 }),
      { code: 'NoSuchKey' },
    );
    assert.ok(dm.versionId);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('a read of a version keeps its bytes while that version is removed (pin rule); the space is freed after', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    const v1 = await node.putObject(putInput('b', 'k', bytes(SMALL * 3, 1), E));
    await node.putObject(putInput('b', 'k', bytes(50, 2), E));
    const h = (await node.openObject('b', Buffer.from('k'), { versionId: v1.versionId }))!;
    const liveBefore = (await node.stats()).volumes.reduce((n, v) => n + v.liveBytes, 0);
    await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: v1.versionId, nowMs: 3 });
    assert.equal(await node.headObject('b', Buffer.from('k'), { versionId: v1.versionId }), undefined);
    assert.deepEqual(
      await readAll(h.stream()),
      bytes(SMALL * 3, 1),
      'the pinned reader reads the whole version',
    );
    h.release();
    await node.deferredFreesDone();
    const liveAfter = (await node.stats()).volumes.reduce((n, v) => n + v.liveBytes, 0);
    assert.ok(
      liveAfter < liveBefore - SMALL * 2,
      `space freed after the last reader (${liveBefore} -> ${liveAfter})`,
    );
    await node.close();
  } finally {
    await t.remove();
  }
});

test('binlog records carry the version: stamp, delete marker, version removal, attribute updates', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    const v1 = await node.putObject(putInput('b', 'k', bytes(10, 1), E));
    const dm = await node.removeObject({
      bucket: 'b',
      key: Buffer.from('k'),
      versioning: 'enabled',
      nowMs: 1,
    });
    await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: dm.versionId, nowMs: 2 });
    await node.updateObjectAttributes({ bucket: 'b', key: Buffer.from('k'), update: { tags: [] }, nowMs: 3 });
    await node.putObject(putInput('b', 'k', bytes(10, 2), S));
    await node.putObject(putInput('u', 'k', bytes(10, 2)));
    const recs = [];
    for await (const { record } of node.binlog.readFrom({ file: 1, offset: 0 }, { unconfirmed: true }))
      recs.push(record);
    const stamp = v1.opver;
    assert.deepEqual(
      recs.map((r) => [r.op, r.bucket, r.version]),
      [
        ['insert', 'b', { stamp }],
        ['insert', 'b', { stamp: (recs[1]!.version as { stamp: unknown }).stamp, deleteMarker: true }],
        [
          'version-delete',
          'b',
          { stamp: (recs[1]!.version as { stamp: unknown }).stamp, deleteMarker: true },
        ],
        ['attributes', 'b', { stamp }],
        ['insert', 'b', {}],
        ['insert', 'u', undefined],
      ],
    );
    await node.close();
  } finally {
    await t.remove();
  }
});

test('every version and delete marker comes back after the index is deleted, and after rebuild-index', {
  timeout: 90_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  const opts = options(t.dir);
  try {
    let node = await StorageNode.open(opts);
    await node.putObject(putInput('b', 'k', bytes(10, 1))); // old null version
    for (let i = 0; i < 4; i++) await node.putObject(putInput('b', 'k', bytes(100 + i, 10 + i), E));
    await node.putObject(putInput('b', 'big', bytes(SMALL * 2, 3), E));
    await node.putObject(putInput('b', 'big', bytes(SMALL * 2 + 1, 4), E));
    await node.removeObject({ bucket: 'b', key: Buffer.from('big'), versioning: 'enabled', nowMs: 1 });
    await node.putObject(putInput('b', 's', bytes(7, 5), E));
    await node.putObject(putInput('b', 's', bytes(8, 6), S));
    await node.removeObject({ bucket: 'b', key: Buffer.from('s'), versioning: 'suspended', nowMs: 2 });
    const third = (await versions(node, 'b', 'k'))[2]!;
    await node.removeObject({ bucket: 'b', key: Buffer.from('k'), versionId: third.versionId, nowMs: 3 });
    await node.updateObjectAttributes({
      bucket: 'b',
      key: Buffer.from('k'),
      versionId: 'null',
      update: { tags: [{ key: 't', value: 'v' }] },
      nowMs: 4,
    });
    // multipart as a version
    const id = await node.createUpload('b', Buffer.from('mp'), { userMeta: {} }, 5);
    const p1 = await node.uploadPart({ ...putInput('b', 'mp', bytes(200, 7)), uploadId: id, partNumber: 1 });
    const p2 = await node.uploadPart({ ...putInput('b', 'mp', bytes(20, 8)), uploadId: id, partNumber: 2 });
    await node.completeUpload(
      'b',
      Buffer.from('mp'),
      id,
      [
        { partNumber: 1, etag: p1.etag },
        { partNumber: 2, etag: p2.etag },
      ],
      6,
      'enabled',
    );
    await node.putObject(putInput('b', 'mp', bytes(3, 9), E));
    const want = await snapshot(node);
    assert.equal(want.length, 4 + 3 + 2 + 2, 'k: null + 4 - 1; big: 2 + marker; s: 1 + null marker; mp: 2');
    await node.close();

    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    assert.equal(node.recovery?.mode, 'rebuild');
    assert.deepEqual(await snapshot(node), want);
    await node.close();

    await rebuildIndex(t.dir, { volumeOpener: opener });
    node = await StorageNode.open(opts);
    assert.deepEqual(await snapshot(node), want);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('attributes given at multipart create (tags, retention, legal hold) go to the completed version', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  const opts = options(t.dir);
  try {
    let node = await StorageNode.open(opts);
    const attributes = {
      tags: [{ key: 'project', value: 'x' }],
      retention: { mode: 'GOVERNANCE' as const, retainUntilMs: 1_900_000_000_000 },
      legalHold: true,
    };
    const id = await node.createUpload('b', Buffer.from('mp'), { userMeta: {} }, 5, undefined, attributes);
    await node.close();
    // The upload marker keeps them across a rebuild.
    await rm(join(t.dir, 'index'), { recursive: true, force: true });
    node = await StorageNode.open(opts);
    const listed = await node.listParts('b', Buffer.from('mp'), id, { afterPart: 0, limit: 10 });
    assert.deepEqual(listed.upload.attributes, attributes);
    const p1 = await node.uploadPart({ ...putInput('b', 'mp', bytes(50, 1)), uploadId: id, partNumber: 1 });
    const r = await node.completeUpload(
      'b',
      Buffer.from('mp'),
      id,
      [{ partNumber: 1, etag: p1.etag }],
      6,
      'enabled',
    );
    assert.deepEqual(r.tags, attributes.tags);
    assert.deepEqual(r.retention, attributes.retention);
    assert.equal(r.legalHold, true);
    assert.deepEqual((await node.headObject('b', Buffer.from('mp')))!.tags, attributes.tags);
    await node.close();
  } finally {
    await t.remove();
  }
});

test('deleteObject on a key with versions removes exactly its current version; a held one is refused', {
  timeout: 60_000,
}, async () => {
  const t = await tempDir('quire-versions-');
  try {
    const node = await StorageNode.open(options(t.dir));
    const v1 = await node.putObject(putInput('b', 'k', bytes(10, 1), E));
    const v2 = await node.putObject(putInput('b', 'k', bytes(11, 2), E));
    assert.equal(await node.deleteObject('b', Buffer.from('k')), true);
    assert.deepEqual(
      (await versions(node)).map((v) => [v.versionId, v.isLatest]),
      [[v1.versionId, true]],
      'the next newest became current: nothing is left without a current version',
    );
    assert.ok(v2.versionId);
    const held = await node.putObject(
      putInput('b', 'h', bytes(5, 3), { ...E, retention: { mode: 'COMPLIANCE', retainUntilMs: 2_000 } }),
    );
    await assert.rejects(
      node.deleteObject('b', Buffer.from('h'), { lock: { bypassGovernance: true }, nowMs: 1_000 }),
      {
        code: 'AccessDenied',
      },
    );
    await assert.rejects(
      node.removeObject({
        bucket: 'b',
        key: Buffer.from('h'),
        versionId: held.versionId,
        lock: { bypassGovernance: true },
        nowMs: 1_999,
      }),
      { code: 'AccessDenied' },
    );
    // Once the date has passed, the version may go.
    assert.equal(
      (
        await node.removeObject({
          bucket: 'b',
          key: Buffer.from('h'),
          versionId: held.versionId,
          lock: { bypassGovernance: false },
          nowMs: 2_000,
        })
      ).existed,
      true,
    );
    await node.close();
  } finally {
    await t.remove();
  }
});
