// The lifecycle worker over a real storage node, its clock moved "days later" by the test.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DAY_MS, type LifecycleRule } from '../common/lifecycle-rules.ts';
import { LifecycleWorker, type LifecycleWorkerDeps } from './lifecycle-worker.ts';
import { StorageNode } from './node.ts';
import { H, putInput, tempDir, testOpener } from './testing/harness.ts';

const T0 = Date.UTC(2026, 0, 10, 15); // objects and uploads are written at this time

async function withNode(
  rules: Record<string, LifecycleRule[]>,
  fn: (node: StorageNode, at: (ms: number) => void) => Promise<void>,
  versioned: ReadonlySet<string> = new Set(),
) {
  const tmp = await tempDir('quire-lifecycle-');
  let now = T0;
  const node = await StorageNode.open({
    dataDir: tmp.dir,
    nodeId: 1,
    volumes: [{ dir: join(tmp.dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    volumeOpener: testOpener().opener,
    durability: 'none',
    lifecycle: {
      rulesFor: (id) => rules[id],
      versioningFor: (id) => (versioned.has(id) ? 'enabled' : 'unversioned'),
      intervalMs: 0,
      opsPerSecond: 0,
      clock: () => now,
    },
  });
  try {
    await fn(node, (ms) => {
      now = ms;
    });
  } finally {
    await node.close();
    await tmp.remove();
  }
}

/** The worker's view of a node with one bucket 'b' (tests that put a pause point in one of them). */
function nodeDeps(node: StorageNode): LifecycleWorkerDeps {
  return {
    nextBucket: (after) => (after === undefined ? 'b' : undefined),
    listObjects: (b, o) => node.listObjects(b, o),
    headObject: (b, k, w) => node.headObject(b, k, w),
    deleteObject: (b, k, o) => node.deleteObject(b, k, o),
    removeObject: (input) => node.removeObject(input),
    listObjectVersions: (b, o) => node.listObjectVersions(b, o),
    listUploads: (b, o) => node.listUploads(b, o),
    abortUpload: (b, k, id) => node.abortUpload(b, k, id),
  };
}

const keys = async (node: StorageNode, bucket: string) =>
  (await node.listObjects(bucket, { prefix: Buffer.alloc(0), limit: 10_000 })).map((o) => o.key.toString());

test('Expiration Days: objects go at the first midnight UTC after lastModified + days, by prefix and size', {
  timeout: 60_000,
}, async () => {
  const rules: Record<string, LifecycleRule[]> = {
    b1: [
      { id: 'tmp', enabled: true, filter: { prefix: 'tmp/' }, expiration: { days: 2 } },
      { id: 'big', enabled: true, filter: { sizeGreaterThan: 100 }, expiration: { days: 5 } },
      { id: 'off', enabled: false, filter: {}, expiration: { days: 1 } },
    ],
  };
  await withNode(rules, async (node, at) => {
    for (const [b, k, n] of [
      ['b1', 'tmp/a', 10],
      ['b1', 'tmp/b', 10],
      ['b1', 'keep/small', 10],
      ['b1', 'keep/big', 200],
      ['b2', 'tmp/a', 10], // b2 has no rules
    ] as const) {
      await node.putObject(putInput(b, k, Buffer.alloc(n, 1), { nowMs: T0 }));
    }
    // lastModified + 2 days = Jan 12 15:00 → expires at Jan 13 00:00.
    at(Date.UTC(2026, 0, 12, 23, 59));
    await node.lifecycle.runOnce();
    assert.deepEqual(await keys(node, 'b1'), ['keep/big', 'keep/small', 'tmp/a', 'tmp/b']);
    at(Date.UTC(2026, 0, 13));
    await node.lifecycle.runOnce();
    assert.deepEqual(await keys(node, 'b1'), ['keep/big', 'keep/small']);
    at(Date.UTC(2026, 0, 16));
    await node.lifecycle.runOnce();
    assert.deepEqual(await keys(node, 'b1'), ['keep/small']);
    assert.deepEqual(await keys(node, 'b2'), ['tmp/a']);
    const s = node.lifecycle.stats();
    assert.equal(s.objectsExpired, 3);
    assert.equal(s.passes, 3);
    assert.equal(s.errors, 0);
  });
});

test('Expiration Date, many objects across pages, and incomplete uploads aborted by DaysAfterInitiation', {
  timeout: 60_000,
}, async () => {
  const rules: Record<string, LifecycleRule[]> = {
    b: [
      { id: 'date', enabled: true, filter: { prefix: 'd/' }, expiration: { dateMs: Date.UTC(2026, 1, 1) } },
      { id: 'mpu', enabled: true, filter: { prefix: 'up/' }, abortIncompleteUploadDays: 3 },
    ],
  };
  await withNode(rules, async (node, at) => {
    for (let i = 0; i < 1200; i++) {
      await node.putObject(
        putInput('b', `d/${String(i).padStart(4, '0')}`, Buffer.from([i & 0xff]), { nowMs: T0 }),
      );
    }
    await node.putObject(putInput('b', 'other', Buffer.from('x'), { nowMs: T0 }));
    const up = await node.createUpload('b', Buffer.from('up/big'), H, T0);
    const kept = await node.createUpload('b', Buffer.from('other-upload'), H, T0);
    const uploadIds = async () =>
      (await node.listUploads('b', { prefix: Buffer.alloc(0), limit: 10 })).map((u) => u.uploadId).sort();
    // Jan 10 15:00 + 3 days → Jan 14 00:00.
    at(Date.UTC(2026, 0, 13, 23));
    await node.lifecycle.runOnce();
    assert.deepEqual(await uploadIds(), [kept, up].sort());
    at(Date.UTC(2026, 0, 14));
    await node.lifecycle.runOnce();
    assert.deepEqual(await uploadIds(), [kept], 'the upload under up/ is aborted, the other kept');
    at(Date.UTC(2026, 0, 31, 23));
    await node.lifecycle.runOnce();
    assert.equal((await keys(node, 'b')).length, 1201);
    at(Date.UTC(2026, 1, 1));
    await node.lifecycle.runOnce();
    assert.deepEqual(await keys(node, 'b'), ['other']);
    assert.equal(node.lifecycle.stats().uploadsAborted, 1);
  });
});

test('an object replaced between the judgement and the delete survives (the delete is conditional on its ETag)', {
  timeout: 60_000,
}, async () => {
  const rules = { b: [{ id: 'all', enabled: true, filter: {}, expiration: { days: 1 } }] };
  await withNode(rules, async (node) => {
    await node.putObject(putInput('b', 'k', Buffer.from('old'), { nowMs: T0 }));
    let raced = false;
    // The pause point: a client's PUT of the same key lands right before the worker's delete.
    const worker = new LifecycleWorker(
      {
        ...nodeDeps(node),
        deleteObject: async (b, k, o) => {
          await node.putObject(putInput(b, k, Buffer.from('new'), { nowMs: T0 + 10 * DAY_MS }));
          raced = true;
          return node.deleteObject(b, k, o);
        },
      },
      { rulesFor: (id) => rules[id as 'b'], intervalMs: 0, opsPerSecond: 0, clock: () => T0 + 3 * DAY_MS },
    );
    await worker.runOnce();
    assert.ok(raced);
    assert.equal((await node.headObject('b', Buffer.from('k')))?.size, 3);
    assert.equal(worker.stats().objectsExpired, 0);
    assert.equal(worker.stats().errors, 0);
  });
});

test('mayDelete (the object lock hook) vetoes an expiry', { timeout: 60_000 }, async () => {
  const rules = { b: [{ id: 'all', enabled: true, filter: {}, expiration: { days: 1 } }] };
  await withNode(rules, async (node) => {
    await node.putObject(putInput('b', 'locked', Buffer.from('x'), { nowMs: T0 }));
    await node.putObject(putInput('b', 'free', Buffer.from('x'), { nowMs: T0 }));
    const worker = new LifecycleWorker(
      {
        ...nodeDeps(node),
        mayDelete: (_b, record) => record.key.toString() !== 'locked',
      },
      { rulesFor: (id) => rules[id as 'b'], intervalMs: 0, opsPerSecond: 0, clock: () => T0 + 3 * DAY_MS },
    );
    await worker.runOnce();
    assert.deepEqual(await keys(node, 'b'), ['locked']);
  });
});

const versionsOf = async (node: StorageNode, bucket: string, key?: string) =>
  (await node.listObjectVersions(bucket, { prefix: Buffer.from(key ?? ''), limit: 1000 })).map(
    (v) => `${v.key.toString()}:${v.deleteMarker ? 'marker' : v.size}${v.isLatest ? '*' : ''}`,
  );

test('versioned bucket: expiry writes a delete marker; noncurrent versions go NoncurrentDays after they were replaced; a lone marker goes', {
  timeout: 60_000,
}, async () => {
  const rules = {
    v: [
      { id: 'current', enabled: true, filter: {}, expiration: { days: 5 } },
      { id: 'old', enabled: true, filter: {}, noncurrentExpiration: { noncurrentDays: 1 } },
      { id: 'markers', enabled: true, filter: {}, expiration: { expiredObjectDeleteMarker: true } },
    ],
  };
  await withNode(
    rules,
    async (node, at) => {
      const put = (n: number, nowMs: number) =>
        node.putObject(putInput('v', 'k', Buffer.alloc(n, 1), { nowMs, versioning: 'enabled' }));
      await put(1, T0); // Jan 10 15:00
      await put(2, T0 + DAY_MS); // Jan 11 15:00: version 1 is noncurrent from now
      at(Date.UTC(2026, 0, 12, 23));
      await node.lifecycle.runOnce();
      assert.deepEqual(await versionsOf(node, 'v'), ['k:2*', 'k:1']);
      at(Date.UTC(2026, 0, 13));
      await node.lifecycle.runOnce();
      assert.deepEqual(await versionsOf(node, 'v'), ['k:2*'], 'Jan 11 15:00 + 1 day → Jan 13');
      // Jan 11 15:00 + 5 days → Jan 17: the current version gets a delete marker on top.
      at(Date.UTC(2026, 0, 17));
      await node.lifecycle.runOnce();
      assert.deepEqual(await versionsOf(node, 'v'), ['k:marker*', 'k:2']);
      assert.deepEqual(await keys(node, 'v'), []);
      // A day later version 2 goes, and the marker, now alone, with it.
      at(Date.UTC(2026, 0, 18));
      await node.lifecycle.runOnce();
      assert.deepEqual(await versionsOf(node, 'v'), []);
      const s = node.lifecycle.stats();
      assert.deepEqual([s.objectsExpired, s.versionsExpired, s.markersRemoved, s.errors], [1, 2, 1, 0]);
    },
    new Set(['v']),
  );
});

test('NewerNoncurrentVersions keeps that many noncurrent versions; locked versions are never removed', {
  timeout: 60_000,
}, async () => {
  const rules = {
    v: [
      {
        id: 'keep2',
        enabled: true,
        filter: { prefix: 'k' },
        noncurrentExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 2 },
      },
      { id: 'old', enabled: true, filter: { prefix: 'h' }, noncurrentExpiration: { noncurrentDays: 1 } },
    ],
  };
  await withNode(
    rules,
    async (node, at) => {
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const r = await node.putObject(
          putInput('v', 'k', Buffer.alloc(i, 1), { nowMs: T0 + i * 1000, versioning: 'enabled' }),
        );
        ids.push(r.versionId);
      }
      for (let i = 1; i <= 4; i++) {
        await node.putObject(
          putInput('v', 'h', Buffer.alloc(i, 1), { nowMs: T0 + i * 1000, versioning: 'enabled' }),
        );
      }
      // Newest first: 4 (current), 3, 2, 1. Version 2 on legal hold, version 1 under retention until far away.
      const held = (await node.listObjectVersions('v', { prefix: Buffer.from('h'), limit: 10 })).map(
        (v) => v.versionId,
      );
      await node.updateObjectAttributes({
        bucket: 'v',
        key: Buffer.from('h'),
        versionId: held[2]!,
        update: { legalHold: true },
        nowMs: T0,
      });
      await node.updateObjectAttributes({
        bucket: 'v',
        key: Buffer.from('h'),
        versionId: held[3]!,
        update: { retention: { mode: 'GOVERNANCE', retainUntilMs: Date.UTC(2030, 0, 1) } },
        nowMs: T0,
      });
      at(Date.UTC(2026, 1, 1));
      await node.lifecycle.runOnce();
      // k: current 5, the two newest noncurrent (4, 3) kept; 2 and 1 removed.
      assert.deepEqual(await versionsOf(node, 'v', 'k'), ['k:5*', 'k:4', 'k:3']);
      // h: the newest noncurrent version (3) is under neither and goes; the held (2) and retained (1) ones stay.
      assert.deepEqual(await versionsOf(node, 'v', 'h'), ['h:4*', 'h:2', 'h:1']);
    },
    new Set(['v']),
  );
});

test('a rule filtered by tags expires only the objects carrying all of them', {
  timeout: 60_000,
}, async () => {
  const rules = {
    b: [
      {
        id: 'tagged',
        enabled: true,
        filter: {
          tags: [
            { key: 'tmp', value: 'yes' },
            { key: 'team', value: 'a' },
          ],
        },
        expiration: { days: 1 },
      },
    ],
  };
  await withNode(rules, async (node, at) => {
    const put = (key: string, tags: Array<{ key: string; value: string }>) =>
      node.putObject(putInput('b', key, Buffer.from('x'), { nowMs: T0, tags }));
    await put('both', [
      { key: 'team', value: 'a' },
      { key: 'tmp', value: 'yes' },
    ]);
    await put('one', [{ key: 'tmp', value: 'yes' }]);
    await put('other-value', [
      { key: 'tmp', value: 'no' },
      { key: 'team', value: 'a' },
    ]);
    await put('none', []);
    at(Date.UTC(2026, 1, 1));
    await node.lifecycle.runOnce();
    assert.deepEqual(await keys(node, 'b'), ['none', 'one', 'other-value']);
  });
});

test('the worker is throttled to opsPerSecond removals (virtual time: one 250 ms wait before each after the first)', {
  timeout: 60_000,
}, async () => {
  const rules = { b: [{ id: 'all', enabled: true, filter: {}, expiration: { days: 1 } }] };
  await withNode(rules, async (node) => {
    for (let i = 0; i < 6; i++) await node.putObject(putInput('b', `k${i}`, Buffer.from('x'), { nowMs: T0 }));
    let t = 1000;
    const waits: number[] = [];
    const worker = new LifecycleWorker(nodeDeps(node), {
      rulesFor: (id) => rules[id as 'b'],
      intervalMs: 0,
      opsPerSecond: 4,
      clock: () => T0 + 3 * DAY_MS,
      pacer: {
        now: () => t,
        sleep: async (ms) => {
          waits.push(ms);
          t += ms;
        },
      },
    });
    await worker.runOnce();
    assert.deepEqual(await keys(node, 'b'), []);
    assert.deepEqual(waits, [250, 250, 250, 250, 250]);
  });
});
