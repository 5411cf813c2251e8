import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isS3Error } from '../errors.ts';
import {
  decodeContinuationToken,
  encodeContinuationToken,
  type ListSource,
  listPage,
  parseMaxKeys,
} from './listing.ts';

const b = (s: string) => Buffer.from(s, 'utf8');

/** An in-memory source over sorted keys that counts how many entries it handed out. */
function memorySource(keys: string[]): { source: ListSource<string>; reads: () => number } {
  const sorted = [...new Set(keys)].map(b).sort(Buffer.compare);
  let reads = 0;
  const source: ListSource<string> = async (after, prefix, limit) => {
    const out = sorted
      .filter(
        (k) => k.subarray(0, prefix.length).equals(prefix) && (after === undefined || k.compare(after) > 0),
      )
      .slice(0, limit)
      .map((k) => ({ key: k, value: k.toString('utf8') }));
    reads += out.length;
    return out;
  };
  return { source, reads: () => reads };
}

/** The naive model: every key after the marker, rolled up into common prefixes, deduplicated. */
function naive(keys: string[], prefix: string, delimiter: string | undefined): string[] {
  const sorted = [...new Set(keys)].map(b).sort(Buffer.compare);
  const out: string[] = [];
  for (const k of sorted) {
    if (!k.subarray(0, b(prefix).length).equals(b(prefix))) continue;
    let item = `K:${k.toString('utf8')}`;
    if (delimiter) {
      const at = k.indexOf(b(delimiter), b(prefix).length);
      if (at >= 0) item = `P:${k.subarray(0, at + b(delimiter).length).toString('utf8')}`;
    }
    if (out.at(-1) !== item) out.push(item);
  }
  return out;
}

async function listAll(keys: string[], prefix: string, delimiter: string | undefined, maxKeys: number) {
  const { source } = memorySource(keys);
  const items: string[] = [];
  let token: string | undefined;
  for (let pages = 0; pages < 10000; pages++) {
    const page = await listPage(source, {
      prefix: b(prefix),
      ...(delimiter ? { delimiter: b(delimiter) } : {}),
      ...(token ? { startAfter: decodeContinuationToken(token) } : {}),
      maxKeys,
    });
    const pageItems = [
      ...page.contents.map((e) => `K:${e.key.toString('utf8')}`),
      ...page.commonPrefixes.map((p) => `P:${p.toString('utf8')}`),
    ].sort((x, y) => Buffer.compare(b(x.slice(2)), b(y.slice(2))));
    assert.ok(pageItems.length <= maxKeys);
    items.push(...pageItems);
    if (!page.isTruncated) return items;
    assert.equal(pageItems.length, maxKeys, 'a truncated page is full');
    assert.ok(page.nextAfter);
    token = encodeContinuationToken(page.nextAfter);
  }
  throw new Error('listing did not terminate');
}

describe('listPage', () => {
  const keys = [
    'a',
    'photos/2006/January/sample.jpg',
    'photos/2006/February/sample2.jpg',
    'photos/x.jpg',
    'sample.jpg',
    'é',
    'z',
  ];

  test('delimiter rolls keys up into CommonPrefixes, which count toward max-keys', async () => {
    const { source } = memorySource(keys);
    const page = await listPage(source, { prefix: b(''), delimiter: b('/'), maxKeys: 3 });
    assert.deepEqual(
      page.contents.map((e) => e.value),
      ['a', 'sample.jpg'],
    );
    assert.deepEqual(page.commonPrefixes.map(String), ['photos/']);
    assert.equal(page.isTruncated, true);
    assert.equal(page.nextAfter?.toString(), 'sample.jpg');
    const p2 = await listPage(source, { prefix: b('photos/2006/'), delimiter: b('/'), maxKeys: 1000 });
    assert.deepEqual(p2.commonPrefixes.map(String), ['photos/2006/February/', 'photos/2006/January/']);
    assert.equal(p2.isTruncated, false);
  });

  test('byte order, not UTF-16 order: U+FFFD sorts before an emoji', async () => {
    const { source } = memorySource(['\ufffd', '😀', 'A']);
    const page = await listPage(source, { prefix: b(''), maxKeys: 10 });
    assert.deepEqual(
      page.contents.map((e) => e.value),
      ['A', '\ufffd', '😀'],
    );
  });

  test('max-keys 0 is empty and not truncated; above 1000 is capped', async () => {
    const many = Array.from({ length: 1200 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    const { source } = memorySource(many);
    const zero = await listPage(source, { prefix: b(''), maxKeys: 0 });
    assert.deepEqual(zero, { contents: [], commonPrefixes: [], isTruncated: false });
    const capped = await listPage(source, { prefix: b(''), maxKeys: 5000 });
    assert.equal(capped.contents.length, 1000);
    assert.equal(capped.isTruncated, true);
  });

  test('a common prefix is skipped with one seek, not by reading every key under it', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `dir/${i}`);
    const { source, reads } = memorySource([...many, 'after']);
    const page = await listPage(source, { prefix: b(''), delimiter: b('/'), maxKeys: 1000 });
    assert.deepEqual(page.commonPrefixes.map(String), ['dir/']);
    assert.deepEqual(
      page.contents.map((e) => e.value),
      ['after'],
    );
    assert.ok(reads() < 40, `read ${reads()} entries`);
  });

  test('a marker equal to a common prefix resumes past it (v1 NextMarker)', async () => {
    const { source } = memorySource(keys);
    const page = await listPage(source, {
      prefix: b(''),
      delimiter: b('/'),
      startAfter: b('photos/'),
      maxKeys: 10,
    });
    assert.deepEqual(page.commonPrefixes, []);
    assert.deepEqual(
      page.contents.map((e) => e.value),
      ['sample.jpg', 'z', 'é'],
    );
    // Without a delimiter the same marker is just a key to start after.
    const flat = await listPage(source, { prefix: b(''), startAfter: b('photos/'), maxKeys: 1 });
    assert.deepEqual(
      flat.contents.map((e) => e.value),
      ['photos/2006/February/sample2.jpg'],
    );
  });

  test('property: paging with tokens yields exactly the naive model', async () => {
    const alphabet = fc.constantFrom('a', 'b', '/', 'é', '😀', '\x00', '-');
    const key = fc.array(alphabet, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(key, { maxLength: 80 }),
        fc.array(alphabet, { maxLength: 2 }).map((cs) => cs.join('')),
        fc.option(fc.constantFrom('/', 'a', 'é', '/a'), { nil: undefined }),
        fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 8, max: 60 })),
        async (ks, prefix, delimiter, maxKeys) => {
          assert.deepEqual(await listAll(ks, prefix, delimiter, maxKeys), naive(ks, prefix, delimiter));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('continuation tokens', () => {
  test('round trip any key bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1100 }), (bytes) => {
        const key = Buffer.from(bytes);
        const token = encodeContinuationToken(key);
        assert.match(token, /^[A-Za-z0-9_-]+$/);
        assert.deepEqual(decodeContinuationToken(token), key);
      }),
    );
  });
  test('malformed tokens are InvalidArgument', () => {
    for (const t of [
      '',
      '!!!',
      'AQ',
      'Ag',
      'AWE=',
      'AWE+',
      'a b',
      encodeContinuationToken(b('x')).slice(0, -1) + '_',
    ]) {
      try {
        decodeContinuationToken(t);
        assert.fail(`accepted ${JSON.stringify(t)}`);
      } catch (err) {
        assert.ok(isS3Error(err), String(err));
        assert.equal(err.code, 'InvalidArgument');
      }
    }
  });
  test('parseMaxKeys', () => {
    assert.equal(parseMaxKeys(undefined), 1000);
    assert.equal(parseMaxKeys('0'), 0);
    assert.equal(parseMaxKeys('5000'), 1000);
    for (const bad of ['-1', 'x', '1.5', '', '99999999999']) {
      assert.throws(
        () => parseMaxKeys(bad),
        (err: unknown) => isS3Error(err) && err.code === 'InvalidArgument',
      );
    }
  });
});
