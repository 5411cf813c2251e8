import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  boundMarker,
  decodeObjectKey,
  decodeUploadKey,
  EntryKind,
  entryKey,
  INDEX_KEY_BYTES_MAX,
  objectKey,
  partKey,
  prefixEnd,
  UPLOAD_ID_BYTES_MAX,
  uploadKey,
  uploadKeyPrefix,
  uploadScanPrefix,
} from './keys.ts';

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

describe('index keys fit LMDB for every valid S3 key', () => {
  const bucket63 = 'b'.repeat(63);
  const id = 'f'.repeat(UPLOAD_ID_BYTES_MAX);

  test('the worst 1,024-byte UTF-8 keys (control characters, 4-byte characters) on every path', () => {
    const worst = [
      Buffer.alloc(1024, 0x00),
      Buffer.alloc(1024, 0x01),
      Buffer.from('\x00\x01'.repeat(512), 'latin1'),
      Buffer.from('🙂'.repeat(256), 'utf8'),
      Buffer.from('\u07ff'.repeat(512), 'utf8'),
    ];
    for (const key of worst) {
      assert.equal(key.length, 1024);
      const keys = [
        objectKey(bucket63, key),
        uploadKey(bucket63, key, id),
        uploadKeyPrefix(bucket63, key),
        uploadScanPrefix(bucket63, key),
        entryKey(EntryKind.object, objectKey(bucket63, key)),
        partKey(id, 10000),
      ];
      for (const k of keys) assert.ok(k.length <= INDEX_KEY_BYTES_MAX, `${k.length} bytes`);
      assert.equal(uploadKey(bucket63, key, id).length, 63 + 1 + 1024 + 1 + UPLOAD_ID_BYTES_MAX);
      assert.deepEqual(decodeUploadKey(uploadKey(bucket63, key, id)).key, key);
    }
  });

  test('over-long keys and impossible upload ids are typed errors, never an LMDB key', () => {
    assert.throws(() => objectKey('b', Buffer.alloc(1025, 0x61)), { code: 'KeyTooLongError' });
    assert.throws(() => uploadKey('b', Buffer.alloc(1025, 0x61), 'abc'), { code: 'NoSuchUpload' });
    assert.throws(() => uploadKey('b', Buffer.from('k'), 'u'.repeat(UPLOAD_ID_BYTES_MAX + 1)), {
      code: 'NoSuchUpload',
    });
    assert.throws(() => uploadKey('b', Buffer.from('k'), 'a b'), { code: 'NoSuchUpload' });
    assert.throws(() => uploadKey('b', Buffer.from('k'), 'š'), { code: 'NoSuchUpload' });
    assert.throws(() => partKey('', 1), { code: 'NoSuchUpload' });
    // Not UTF-8 (0xFF lifts to two bytes): refused before LMDB instead of breaking it.
    assert.throws(() => uploadKey('b', Buffer.alloc(1024, 0xff), 'abc'), { code: 'KeyTooLongError' });
  });

  test('boundMarker keeps "strictly after" for every key up to the bound', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
        fc.uint8Array({ minLength: 0, maxLength: 14 }).map((a) => Buffer.from(a)),
        (key, marker) => {
          const max = 8;
          const bounded = boundMarker(marker, max);
          assert.equal(Buffer.compare(key, marker) > 0, Buffer.compare(key, bounded) > 0);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
