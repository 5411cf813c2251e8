import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeObjectKey, decodeUploadKey, objectKey, prefixEnd, uploadKey } from './keys.ts';

const anyBucket = fc.string({
  maxLength: 8,
  unit: fc.constantFrom('a', 'b', '\x00', '\x01', '\x02', 'ÿ', '.'),
});
const anyKey = fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a));
const edgyKey = fc.oneof(
  anyKey,
  fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0xfe, 0xff), { maxLength: 6 }).map((a) => Buffer.from(a)),
);

function cmpPair(a: [string, Buffer], b: [string, Buffer]): number {
  return Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) || Buffer.compare(a[1], b[1]);
}

describe('index key encoding', () => {
  test('encoded order equals (bucket bytes, key bytes) order', () => {
    fc.assert(
      fc.property(fc.tuple(anyBucket, edgyKey), fc.tuple(anyBucket, edgyKey), (a, b) => {
        const enc = Math.sign(Buffer.compare(objectKey(a[0], a[1]), objectKey(b[0], b[1])));
        assert.equal(enc, Math.sign(cmpPair(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  test('object keys round-trip, including NUL and 0xff bytes', () => {
    fc.assert(
      fc.property(anyBucket, edgyKey, (bucket, key) => {
        const d = decodeObjectKey(objectKey(bucket, key));
        assert.equal(d.bucket, bucket);
        assert.deepEqual(d.key, key);
      }),
    );
    const k = Buffer.from('a\x00b\xff', 'latin1');
    assert.deepEqual(decodeObjectKey(objectKey('bkt', k)).key, k);
  });

  test('upload keys sort by bucket, key bytes, then upload id, and round-trip', () => {
    const id = fc.stringMatching(/^[0-9a-f]{4}$/);
    fc.assert(
      fc.property(fc.tuple(anyBucket, edgyKey, id), fc.tuple(anyBucket, edgyKey, id), (a, b) => {
        const enc = Math.sign(Buffer.compare(uploadKey(...a), uploadKey(...b)));
        const want = Math.sign(
          cmpPair([a[0], a[1]], [b[0], b[1]]) || Buffer.compare(Buffer.from(a[2]), Buffer.from(b[2])),
        );
        assert.equal(enc, want);
        assert.deepEqual(decodeUploadKey(uploadKey(...a)), { bucket: a[0], key: a[1], uploadId: a[2] });
      }),
      { numRuns: 2000 },
    );
  });

  test("a bucket range holds exactly that bucket's keys", () => {
    fc.assert(
      fc.property(anyBucket, anyBucket, edgyKey, (b1, b2, key) => {
        const lo = objectKey(b1, Buffer.alloc(0));
        const hi = prefixEnd(lo);
        const k = objectKey(b2, key);
        const inside = Buffer.compare(k, lo) >= 0 && (hi === undefined || Buffer.compare(k, hi) < 0);
        assert.equal(inside, b1 === b2);
      }),
      { numRuns: 2000 },
    );
  });
});
