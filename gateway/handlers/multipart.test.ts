import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { collectUploads } from './multipart.ts';

type Row = { key: Buffer; uploadId: string; initiatedMs: number };

/** The storage contract: rows after (afterKey, afterUploadId) in (key bytes, upload id) order, within the prefix. */
function sourceOver(rows: Row[]) {
  const sorted = [...rows].sort((a, b) => Buffer.compare(a.key, b.key) || (a.uploadId < b.uploadId ? -1 : 1));
  return async (afterKey: Buffer | undefined, afterUploadId: string | undefined, limit: number) =>
    sorted
      .filter((r) => {
        if (!afterKey) return true;
        const c = Buffer.compare(r.key, afterKey);
        return c > 0 || (c === 0 && afterUploadId !== undefined && r.uploadId > afterUploadId);
      })
      .slice(0, limit);
}

test('uploads page through keys and common prefixes exactly like a naive model', async () => {
  const keyArb = fc
    .array(fc.constantFrom('a', 'b', '/', 'é'), { minLength: 1, maxLength: 5 })
    .map((p) => p.join(''));
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.tuple(keyArb, fc.constantFrom('u1', 'u2')), {
        selector: ([k, u]) => `${k}\0${u}`,
        maxLength: 40,
      }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      async (pairs, max, useDelimiter) => {
        const rows = pairs.map(([k, u]) => ({ key: Buffer.from(k), uploadId: u, initiatedMs: 0 }));
        const source = sourceOver(rows);
        // Naive model: every row rolled up, in order, deduplicated.
        const expected: string[] = [];
        for (const r of await source(undefined, undefined, 1e9)) {
          const at = useDelimiter ? r.key.indexOf('/') : -1;
          const item = at >= 0 ? `P:${r.key.subarray(0, at + 1)}` : `U:${r.key}|${r.uploadId}`;
          if (expected[expected.length - 1] !== item) expected.push(item);
        }
        // Page through with markers the way a client does.
        const seen: string[] = [];
        let marker: { afterKey?: Buffer; afterUploadId?: string } = {};
        for (let guard = 0; guard < 100; guard++) {
          const page = await collectUploads(source, {
            prefix: Buffer.alloc(0),
            ...(useDelimiter ? { delimiter: Buffer.from('/') } : {}),
            ...marker,
            max,
          });
          const items = [
            ...page.uploads.map((u) => ({ at: u.key, item: `U:${u.key}|${u.uploadId}`, u })),
            ...page.commonPrefixes.map((p) => ({ at: p, item: `P:${p}`, u: undefined })),
          ].sort((a, b) => Buffer.compare(a.at, b.at));
          assert.ok(items.length <= max);
          seen.push(...items.map((i) => i.item));
          if (!page.truncated) break;
          const last = items[items.length - 1]!;
          marker = last.u
            ? { afterKey: last.u.key, afterUploadId: last.u.uploadId }
            : { afterKey: Buffer.concat([last.at, Buffer.from([0xff])]) };
        }
        assert.deepEqual(seen, expected);
      },
    ),
    { numRuns: 200 },
  );
});
