// Readers never get wrong bytes: each test stops a writer at a pause point inside the volume (a gate in
// a wrapping VolumePort), opens a reader exactly there, lets the writer finish and checks that the reader
// got one whole version: its bytes match its ETag, or there is no object at all. No sleeps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Volume } from '../packing/index.ts';
import type { ReadHandle } from './api.ts';
import { PreconditionFailedError } from './errors.ts';
import { StorageNode } from './node.ts';
import { Gate, gatedOpener } from './testing/gated-volume.ts';
import { bytes, md5, putInput, readAll, tempDir } from './testing/harness.ts';

async function withNode(fn: (node: StorageNode, gate: Gate, vols: Volume[]) => Promise<void>) {
  const t = await tempDir('quire-pins-');
  const gate = new Gate();
  const vols: Volume[] = [];
  const node = await StorageNode.open({
    dataDir: t.dir,
    nodeId: 1,
    volumes: [{ dir: join(t.dir, 'v1'), volumeId: 'v1', maxBytes: 1 << 30, reservedFreeBytes: 0 }],
    volumeOpener: gatedOpener(gate, vols),
    smallObjectMaxBytes: 64 * 1024,
    minPartBytes: 100 * 1024,
    durability: 'none',
  });
  try {
    await fn(node, gate, vols);
  } finally {
    await node.close();
    await t.remove();
  }
}

/** The reader's whole version: every byte it streams belongs to the ETag it announced. */
async function assertWhole(h: ReadHandle | undefined, versions: Map<string, Buffer>): Promise<void> {
  if (!h) return;
  try {
    const body = await readAll(h.stream());
    assert.equal(body.length, h.record.size, 'body length is the announced size');
    assert.ok(versions.has(h.record.etag), 'the ETag is one that was written');
    assert.equal(md5(body), h.record.etag, 'the bytes are the version the ETag names');
  } finally {
    h.release();
  }
}

const isReplace = (arg: unknown) => (arg as { replaces?: unknown }).replaces !== undefined;
const K = Buffer.from('key');

describe('readers never get wrong bytes', { timeout: 30_000 }, () => {
  test('in-place rewrite (adaptive slack) never shows new bytes under the old ETag', async () => {
    await withNode(async (node, gate) => {
      const versions = new Map<string, Buffer>();
      const put = async (seed: number) => {
        const data = bytes(3000, seed);
        versions.set(md5(data), data);
        await node.putObject(putInput('b', K, data));
      };
      // Tight first write, then a slot with slack: the third write of the same size goes in place.
      await put(1);
      await put(2);
      const held = gate.arm('put', isReplace);
      const writing = put(3);
      await held;
      const reading = node.openObject('b', K);
      gate.open();
      await writing;
      await assertWhole(await reading, versions);
    });
  });

  test('a reader of a replaced key never gets the bytes of another key that reused the extent', async () => {
    await withNode(async (node, gate) => {
      const a1 = bytes(2000, 11);
      const versions = new Map([[md5(a1), a1]]);
      await node.putObject(putInput('b', K, a1));
      const held = gate.arm('put', isReplace);
      // Too big for the old allocation: new space, the old extent freed.
      const a2 = bytes(9000, 12);
      versions.set(md5(a2), a2);
      const writing = node.putObject(putInput('b', K, a2));
      await held;
      const reading = node.openObject('b', K);
      gate.open();
      await writing;
      // Another key of the same size takes the freed extent, if it was freed.
      await node.putObject(putInput('b', 'other', bytes(2000, 13)));
      await assertWhole(await reading, versions);
    });
  });

  test('a GET of a two-part object racing its DELETE gets the whole object or nothing', async () => {
    await withNode(async (node, gate) => {
      const id = await node.createUpload('b', K, { userMeta: {} }, 1);
      const p1 = bytes(100 * 1024, 21);
      const p2 = bytes(1000, 22);
      await node.uploadPart(partInput(id, 1, p1));
      await node.uploadPart(partInput(id, 2, p2));
      const rec = await node.completeUpload(
        'b',
        K,
        id,
        [
          { partNumber: 1, etag: md5(p1) },
          { partNumber: 2, etag: md5(p2) },
        ],
        2,
      );
      const whole = Buffer.concat([p1, p2]);
      const held = gate.arm('delete');
      const deleting = node.deleteObject('b', K);
      await held;
      const reading = node.openObject('b', K);
      gate.open();
      assert.equal(await deleting, true);
      const h = await reading;
      if (h) {
        try {
          assert.equal(h.record.etag, rec.etag);
          assert.deepEqual(await readAll(h.stream()), whole);
        } finally {
          h.release();
        }
      }
      // Whatever the reader saw, its release frees what it held: the space comes back.
      await node.putObject(putInput('b', 'after', bytes(1000, 23)));
    });
  });

  test('a reader pinned before compaction moved its entry keeps its bytes when the key is deleted', async () => {
    await withNode(async (node, _gate, vols) => {
      const a = bytes(1777, 31);
      await node.putObject(putInput('b', K, a));
      // Fill the rest of the first chunkfile and a second one, then empty the first but for `key`.
      for (let i = 0; i < 60; i++) await node.putObject(putInput('b', `f${i}`, bytes(2000, 100 + i)));
      for (let i = 0; i < 60; i++) await node.deleteObject('b', Buffer.from(`f${i}`));
      const h = await node.openObject('b', K);
      assert.ok(h);
      const report = await vols[0]!.compact({ liveRatioBelow: 0.5 });
      assert.ok(report.entriesMoved >= 1, 'the key was moved');
      assert.equal(await node.deleteObject('b', K), true);
      // A same-size object may take the extent the moved copy had.
      for (let i = 0; i < 4; i++) await node.putObject(putInput('b', `n${i}`, bytes(1777, 200 + i)));
      await assertWhole(h, new Map([[md5(a), a]]));
    });
  });

  test('copy with an expected source ETag copies exactly that version or fails cleanly', async () => {
    await withNode(async (node) => {
      const v1 = bytes(500, 41);
      await node.putObject(putInput('b', K, v1));
      const dst = { bucket: 'b', key: Buffer.from('dst'), nowMs: 3 };
      await assert.rejects(
        node.copyObject({ bucket: 'b', key: K, etag: 'ffffffffffffffffffffffffffffffff' }, dst),
        PreconditionFailedError,
      );
      const r = await node.copyObject({ bucket: 'b', key: K, etag: md5(v1) }, dst);
      assert.equal(r.etag, md5(v1));
    });
  });
});

function partInput(uploadId: string, partNumber: number, data: Buffer) {
  const p = putInput('b', K, data);
  return { ...p, uploadId, partNumber, nowMs: 1 };
}
