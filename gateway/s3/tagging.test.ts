import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isS3Error } from '../errors.ts';
import { parseTaggingHeader, parseTaggingXml, type Tag, taggingXml, validateTags } from './tagging.ts';

const doc = (tags: Array<[string, string]>) =>
  `<Tagging><TagSet>${tags.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`;

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isS3Error(err), String(err));
    return `${err.code}: ${err.message}`;
  }
  return 'ok';
}

const many = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));

describe('tagging: parse and validate', { timeout: 10_000 }, () => {
  test('the XML round-trips, values may be empty, order is kept', () => {
    const tags = parseTaggingXml(
      doc([
        ['b', '2'],
        ['a', ''],
        ['é ü+-=._:/@', 'x y'],
      ]),
      'object',
    );
    assert.deepEqual(tags, [
      { key: 'b', value: '2' },
      { key: 'a', value: '' },
      { key: 'é ü+-=._:/@', value: 'x y' },
    ]);
    assert.deepEqual(parseTaggingXml(taggingXml(tags), 'object'), tags);
    assert.deepEqual(parseTaggingXml(doc([]), 'object'), []);
  });

  test("AWS's limits: 10 per object, 50 per bucket (BadRequest)", () => {
    assert.equal(
      code(() => validateTags(many(10), 'object')),
      'ok',
    );
    assert.match(
      code(() => validateTags(many(11), 'object')),
      /^BadRequest: Object tags cannot be greater than 10/,
    );
    assert.equal(
      code(() => validateTags(many(50), 'bucket')),
      'ok',
    );
    assert.match(
      code(() => validateTags(many(51), 'bucket')),
      /^BadRequest: Bucket tags cannot be greater than 50/,
    );
  });

  test('key ≤ 128 and value ≤ 256 Unicode characters (not bytes), else InvalidTag', () => {
    const k128 = 'é'.repeat(128); // 256 bytes, 128 characters
    assert.equal(
      code(() => validateTags([{ key: k128, value: 'ü'.repeat(256) }], 'object')),
      'ok',
    );
    assert.match(
      code(() => validateTags([{ key: `${k128}a`, value: '' }], 'object')),
      /^InvalidTag: The TagKey/,
    );
    assert.match(
      code(() => validateTags([{ key: 'k', value: 'v'.repeat(257) }], 'object')),
      /^InvalidTag: The TagValue/,
    );
    assert.match(
      code(() => validateTags([{ key: '', value: 'v' }], 'object')),
      /^InvalidTag: The TagKey/,
    );
    assert.match(
      code(() => validateTags([{ key: 'a<b', value: 'v' }], 'object')),
      /^InvalidTag/,
    );
    assert.match(
      code(() => validateTags([{ key: 'k', value: 'tab\there' }], 'object')),
      /^InvalidTag/,
    );
  });

  test('duplicate keys and the aws: prefix are InvalidTag; a bad tag wins over the count', () => {
    assert.match(
      code(() =>
        parseTaggingXml(
          doc([
            ['a', '1'],
            ['a', '2'],
          ]),
          'object',
        ),
      ),
      /^InvalidTag: Cannot provide multiple Tags/,
    );
    assert.match(
      code(() => parseTaggingXml(doc([['aws:x', '1']]), 'object')),
      /^InvalidTag: System tags/,
    );
    assert.match(
      code(() => parseTaggingXml(doc([['AWS:x', '1']]), 'bucket')),
      /^InvalidTag/,
    );
    const bad = [...many(12), { key: 'k1', value: 'again' }];
    assert.match(
      code(() => validateTags(bad, 'object')),
      /^InvalidTag/,
    );
  });

  test('malformed documents are MalformedXML', () => {
    for (const xml of [
      '<Tagging></Tagging>',
      '<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value><Other/></Tag></TagSet></Tagging>',
      '<Tagging><TagSet/><TagSet/></Tagging>',
      '<Other><TagSet/></Other>',
      '<Tagging><TagSet>',
    ]) {
      assert.match(
        code(() => parseTaggingXml(xml, 'object')),
        /^MalformedXML/,
        xml,
      );
    }
  });

  test('x-amz-tagging: URL-encoded query pairs', () => {
    assert.deepEqual(parseTaggingHeader('a=1&b=&c'), [
      { key: 'a', value: '1' },
      { key: 'b', value: '' },
      { key: 'c', value: '' },
    ]);
    assert.deepEqual(parseTaggingHeader('k%20x=v+y%2Fz'), [{ key: 'k x', value: 'v y/z' }]);
    assert.deepEqual(parseTaggingHeader(''), []);
    assert.match(
      code(() => parseTaggingHeader('a=1&a=2')),
      /^InvalidArgument/,
    );
    assert.match(
      code(() => parseTaggingHeader('a=%zz')),
      /^InvalidArgument/,
    );
    assert.match(
      code(() =>
        parseTaggingHeader(
          many(11)
            .map((t) => `${t.key}=${t.value}`)
            .join('&'),
        ),
      ),
      /^BadRequest/,
    );
    assert.match(
      code(() => parseTaggingHeader('aws%3Ax=1')),
      /^InvalidTag/,
    );
  });

  test('x-amz-tagging: any valid tag set, URL-encoded as SDKs do, parses back to itself', () => {
    const text = (max: number, min: number) =>
      fc
        .array(fc.constantFrom('a', 'Z', '9', ' ', '+', '-', '=', '.', '_', ':', '/', '@', 'é', '漢', '٣'), {
          minLength: min,
          maxLength: max,
        })
        .map((cs) => cs.join(''));
    const tag = fc.tuple(text(20, 1), text(30, 0)).map(([key, value]) => ({ key, value }));
    const tags = fc.uniqueArray(tag, {
      selector: (t) => t.key,
      maxLength: 10,
    });
    fc.assert(
      fc.property(
        tags.filter((ts) => ts.every((t) => !t.key.toLowerCase().startsWith('aws:'))),
        (ts) => {
          const header = ts
            .map((t) => `${encodeURIComponent(t.key)}=${encodeURIComponent(t.value)}`)
            .join('&');
          assert.deepEqual(parseTaggingHeader(header), ts);
          assert.deepEqual(parseTaggingXml(taggingXml(ts), 'object'), ts);
        },
      ),
      { numRuns: 500 },
    );
  });
});
