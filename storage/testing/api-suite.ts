// The StorageApi behaviour suite, run against the in-process node and against the HTTP client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StorageApi } from '../api.ts';
import { bytes, H, md5, putInput, readAll } from './harness.ts';

export interface SuiteTarget {
  api: StorageApi;
  /** The small/large threshold and minimum part size the node was opened with. */
  smallObjectMaxBytes: number;
  minPartBytes: number;
}

const B = 'bkt';

export function apiSuite(name: string, target: () => SuiteTarget): void {
  describe(`StorageApi: ${name}`, () => {
    test('put, head, read (whole and ranges), replace, delete — small and large', async () => {
      const { api, smallObjectMaxBytes } = target();
      for (const size of [0, 1, 4096, smallObjectMaxBytes + 12345]) {
        const key = Buffer.from(`obj\x00${size}\xff`, 'latin1');
        const data = bytes(size, size + 1);
        const rec = await api.putObject(putInput(B, key, data));
        assert.equal(rec.etag, md5(data));
        assert.equal(rec.size, size);
        const head = await api.headObject(B, key);
        assert.deepEqual(head?.headers, H);
        assert.equal(head?.etag, md5(data));
        const h = (await api.openObject(B, key))!;
        assert.deepEqual(await readAll(h.stream()), data);
        if (size > 10)
          assert.deepEqual(await readAll(h.stream({ start: 3, end: size - 2 })), data.subarray(3, size - 1));
        h.release();
        const data2 = bytes(size + 7, size + 2);
        const rec2 = await api.putObject(putInput(B, key, data2));
        assert.ok(rec2.opver.counter > rec.opver.counter);
        const h2 = (await api.openObject(B, key))!;
        assert.deepEqual(await readAll(h2.stream()), data2);
        h2.release();
        assert.equal(await api.deleteObject(B, key), true);
        assert.equal(await api.headObject(B, key), undefined);
        assert.equal(await api.deleteObject(B, key), false);
      }
    });

    test('conditional delete: If-Match checked under the key lock, atomically with the delete', async () => {
      const { api } = target();
      const k = Buffer.from('cond-del');
      const one = Buffer.from('one');
      await api.putObject(putInput(B, k, one));
      await assert.rejects(api.deleteObject(B, k, { condition: { ifMatchEtag: '"nope"' } }), {
        code: 'PreconditionFailed',
      });
      assert.equal((await api.headObject(B, k))?.etag, md5(one), 'a failed condition deletes nothing');
      // Two deletes conditioned on the same ETag, started together: exactly one deletes, the other finds
      // nothing (a check outside the lock would let both pass; over HTTP either may win).
      const both = await Promise.allSettled([
        api.deleteObject(B, k, { condition: { ifMatchEtag: `"${md5(one)}"` } }),
        api.deleteObject(B, k, { condition: { ifMatchEtag: md5(one) } }),
      ]);
      assert.deepEqual(
        both
          .map((r) => (r.status === 'fulfilled' ? String(r.value) : (r.reason as { code: string }).code))
          .sort(),
        ['NoSuchKey', 'true'],
      );
      await assert.rejects(api.deleteObject(B, k, { condition: { ifMatchEtag: '*' } }), {
        code: 'NoSuchKey',
      });
      await api.putObject(putInput(B, k, Buffer.from('two')));
      assert.equal(await api.deleteObject(B, k, { condition: { ifMatchEtag: '*' } }), true);
      assert.equal(
        await api.deleteObject(B, k),
        false,
        'unconditional delete of an absent key stays idempotent',
      );
    });

    test('a failing finish() stores nothing', async () => {
      const { api, smallObjectMaxBytes } = target();
      for (const size of [10, smallObjectMaxBytes + 1]) {
        const bad = putInput(B, 'bad', bytes(size, 3), {
          finish: async () => {
            throw Object.assign(new Error('digest mismatch'), { code: 'BadDigest' });
          },
        });
        await assert.rejects(api.putObject(bad), (e: { code?: string }) => e.code === 'BadDigest');
        assert.equal(await api.headObject(B, Buffer.from('bad')), undefined);
      }
    });

    test('conditions: If-None-Match * and If-Match', async () => {
      const { api } = target();
      const k = Buffer.from('cond');
      await api.putObject(putInput(B, k, Buffer.from('one'), { condition: { ifNoneMatchStar: true } }));
      await assert.rejects(
        api.putObject(putInput(B, k, Buffer.from('two'), { condition: { ifNoneMatchStar: true } })),
        { code: 'PreconditionFailed' },
      );
      await assert.rejects(
        api.putObject(putInput(B, k, Buffer.from('two'), { condition: { ifMatchEtag: '"nope"' } })),
        { code: 'PreconditionFailed' },
      );
      await api.putObject(
        putInput(B, k, Buffer.from('two'), { condition: { ifMatchEtag: `"${md5(Buffer.from('one'))}"` } }),
      );
      await assert.rejects(
        api.putObject(
          putInput(B, Buffer.from('absent'), Buffer.from('x'), { condition: { ifMatchEtag: 'x' } }),
        ),
        { code: 'NoSuchKey' },
      );
      await api.deleteObject(B, k);
    });

    test('list in byte order with prefix and after; hasObjects', async () => {
      const { api } = target();
      const keys = ['a', 'a\x00', 'a\x00b', 'a/b', 'ab', 'b', '\xff', 'é'].map((s) =>
        Buffer.from(s, s === 'é' ? 'utf8' : 'latin1'),
      );
      for (const k of keys) await api.putObject(putInput('lst', k, Buffer.from('v')));
      await api.putObject(putInput('lst2', 'a', Buffer.from('other bucket')));
      const sorted = [...keys].sort(Buffer.compare);
      const all = await api.listObjects('lst', { prefix: Buffer.alloc(0), limit: 100 });
      assert.deepEqual(
        all.map((o) => o.key),
        sorted,
      );
      const page = await api.listObjects('lst', {
        prefix: Buffer.from('a'),
        after: Buffer.from('a\x00', 'latin1'),
        limit: 2,
      });
      assert.deepEqual(
        page.map((o) => o.key.toString('latin1')),
        ['a\x00b', 'a/b'],
      );
      assert.equal(await api.hasObjects('lst'), true);
      assert.equal(await api.hasObjects('ls'), false);
      for (const k of keys) await api.deleteObject('lst', k);
      assert.equal(await api.hasObjects('lst'), false);
      await api.deleteObject('lst2', Buffer.from('a'));
    });

    test('copy: whole, range, REPLACE headers', async () => {
      const { api, smallObjectMaxBytes } = target();
      const data = bytes(smallObjectMaxBytes + 5000, 9);
      await api.putObject(putInput(B, 'src', data));
      const c1 = await api.copyObject(
        { bucket: B, key: Buffer.from('src') },
        { bucket: 'other', key: Buffer.from('dst'), nowMs: 5 },
      );
      assert.equal(c1.etag, md5(data));
      const c2 = await api.copyObject(
        { bucket: B, key: Buffer.from('src'), range: { start: 10, end: 109 } },
        {
          bucket: B,
          key: Buffer.from('src'),
          headers: { contentType: 'text/plain', userMeta: {} },
          nowMs: 6,
        },
      );
      assert.equal(c2.size, 100);
      assert.equal(c2.headers.contentType, 'text/plain');
      const h = (await api.openObject(B, Buffer.from('src')))!;
      assert.deepEqual(await readAll(h.stream()), data.subarray(10, 110));
      h.release();
      await assert.rejects(
        api.copyObject(
          { bucket: B, key: Buffer.from('nope') },
          { bucket: B, key: Buffer.from('x'), nowMs: 1 },
        ),
        { code: 'NoSuchKey' },
      );
      await api.deleteObject(B, Buffer.from('src'));
      await api.deleteObject('other', Buffer.from('dst'));
    });

    test('multipart: parts, list, complete without copying, part sizes, errors', async () => {
      const { api, minPartBytes, smallObjectMaxBytes } = target();
      const key = Buffer.from('mp\x00key', 'latin1');
      const id = await api.createUpload(B, key, H, 100, 'CRC32');
      const sizes = [Math.max(minPartBytes, smallObjectMaxBytes + 100), 1000, 777];
      const datas = sizes.map((s, i) => bytes(s, 50 + i));
      const etags: string[] = [];
      for (let i = 0; i < 3; i++) {
        const d = datas[i]!;
        const r = await api.uploadPart({
          ...putInput(B, key, d),
          uploadId: id,
          partNumber: i + 1,
          nowMs: 200,
        });
        etags.push(r.etag);
      }
      const lp = await api.listParts(B, key, id, { afterPart: 0, limit: 2 });
      assert.deepEqual(
        lp.parts.map((p) => p.size),
        sizes.slice(0, 2),
      );
      assert.equal(lp.isTruncated, true);
      assert.equal(lp.upload.checksumAlgorithm, 'CRC32');
      const ups = await api.listUploads(B, { prefix: Buffer.from('mp'), limit: 10 });
      assert.deepEqual(
        ups.map((u) => u.uploadId),
        [id],
      );
      await assert.rejects(
        api.completeUpload(
          B,
          key,
          id,
          [
            { partNumber: 2, etag: etags[1]! },
            { partNumber: 1, etag: etags[0]! },
          ],
          1,
        ),
        { code: 'InvalidPartOrder' },
      );
      await assert.rejects(api.completeUpload(B, key, id, [{ partNumber: 1, etag: 'bad' }], 1), {
        code: 'InvalidPart',
      });
      await assert.rejects(
        api.completeUpload(
          B,
          key,
          id,
          [
            { partNumber: 3, etag: etags[2]! },
            { partNumber: 4, etag: 'x' },
          ],
          1,
        ),
        { code: 'InvalidPart' },
      );
      const every = etags.map((etag, i) => ({ partNumber: i + 1, etag }));
      await assert.rejects(api.completeUpload(B, key, id, every, 1), { code: 'EntityTooSmall' });
      await assert.rejects(
        api.completeUpload(B, key, 'no-such-upload', [{ partNumber: 1, etag: etags[0]! }], 1),
        { code: 'NoSuchUpload' },
      );
      // Part 2 is left out: completion frees it.
      const used = [0, 2];
      const rec = await api.completeUpload(
        B,
        key,
        id,
        used.map((i) => ({ partNumber: i + 1, etag: `"${etags[i]}"` })),
        300,
      );
      const want = md5(Buffer.concat(used.map((i) => Buffer.from(etags[i]!, 'hex'))));
      assert.equal(rec.etag, `${want}-2`);
      assert.deepEqual(
        rec.parts?.map((p) => p.size),
        used.map((i) => sizes[i]),
      );
      const h = (await api.openObject(B, key))!;
      const all = Buffer.concat(used.map((i) => datas[i]!));
      assert.deepEqual(await readAll(h.stream()), all);
      const s = sizes[0]! - 5;
      assert.deepEqual(await readAll(h.stream({ start: s, end: s + 200 })), all.subarray(s, s + 201));
      h.release();
      await assert.rejects(api.listParts(B, key, id, { afterPart: 0, limit: 5 }), { code: 'NoSuchUpload' });
      assert.deepEqual(await api.listUploads(B, { prefix: Buffer.alloc(0), limit: 10 }), []);
      assert.equal(await api.deleteObject(B, key), true);
    });

    test('listUploads: sorted by key then id, key-marker/upload-id-marker paging; abort', async () => {
      const { api } = target();
      const ids: Array<[string, string]> = [];
      for (const k of ['u/b', 'u/a', 'u/a\x00', 'u/a'])
        ids.push([k, await api.createUpload('up', Buffer.from(k, 'latin1'), H, 1)]);
      const want = [...ids].sort(
        (x, y) =>
          Buffer.compare(Buffer.from(x[0], 'latin1'), Buffer.from(y[0], 'latin1')) || (x[1] < y[1] ? -1 : 1),
      );
      const got = await api.listUploads('up', { prefix: Buffer.from('u/'), limit: 10 });
      assert.deepEqual(
        got.map((u) => [u.key.toString('latin1'), u.uploadId]),
        want,
      );
      const after1 = await api.listUploads('up', {
        prefix: Buffer.alloc(0),
        afterKey: Buffer.from('u/a'),
        afterUploadId: want[0]![1],
        limit: 10,
      });
      assert.deepEqual(
        after1.map((u) => u.uploadId),
        want.slice(1).map((w) => w[1]),
      );
      const after2 = await api.listUploads('up', {
        prefix: Buffer.alloc(0),
        afterKey: Buffer.from('u/a'),
        limit: 10,
      });
      assert.deepEqual(
        after2.map((u) => u.uploadId),
        want.slice(2).map((w) => w[1]),
      );
      for (const [k, id] of ids) await api.abortUpload('up', Buffer.from(k, 'latin1'), id);
      assert.deepEqual(await api.listUploads('up', { prefix: Buffer.alloc(0), limit: 10 }), []);
      await assert.rejects(api.abortUpload('up', Buffer.from('u/a'), ids[0]![1]), { code: 'NoSuchUpload' });
    });

    test('dropBucket removes every object, upload and part of one bucket id, nothing of another', async () => {
      const { api, smallObjectMaxBytes } = target();
      const [gone, kept] = ['~drop-me', '~drop-me-not'];
      for (const b of [gone, kept]) {
        for (let i = 0; i < 40; i++) await api.putObject(putInput(b, `k${i}\x00`, bytes(100 + i, i)));
        await api.putObject(putInput(b, 'large', bytes(smallObjectMaxBytes + 5, 9)));
      }
      const key = Buffer.from('up');
      const uploadId = await api.createUpload(gone, key, H, 1);
      await api.uploadPart({ ...putInput(gone, key, bytes(2000, 4)), uploadId, partNumber: 1, nowMs: 2 });
      const before = await api.stats();
      assert.deepEqual(await api.dropBucket(gone), { objects: 41, uploads: 1 });
      assert.equal(await api.hasObjects(gone), false);
      assert.deepEqual(await api.listUploads(gone, { prefix: Buffer.alloc(0), limit: 10 }), []);
      await assert.rejects(api.listParts(gone, key, uploadId, { afterPart: 0, limit: 10 }), {
        code: 'NoSuchUpload',
      });
      const after = await api.stats();
      assert.equal(before.objects - after.objects, 41);
      assert.equal(before.uploads - after.uploads, 1);
      assert.equal((await api.listObjects(kept, { prefix: Buffer.alloc(0), limit: 100 })).length, 41);
      assert.deepEqual(await api.dropBucket(gone), { objects: 0, uploads: 0 });
      await api.dropBucket(kept);
    });
  });
}
