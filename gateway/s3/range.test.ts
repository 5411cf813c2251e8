import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isS3Error } from '../errors.ts';
import { contentRange, parseRange } from './range.ts';

function outcome(header: string | undefined, size: number) {
  try {
    return parseRange(header, size) ?? 'whole';
  } catch (err) {
    assert.ok(isS3Error(err));
    return err.code;
  }
}

describe('parseRange: AWS semantics', () => {
  test('the three single-range forms', () => {
    assert.deepEqual(outcome('bytes=0-499', 2000), { start: 0, end: 499 });
    assert.deepEqual(outcome('bytes=500-', 2000), { start: 500, end: 1999 });
    assert.deepEqual(outcome('bytes=-500', 2000), { start: 1500, end: 1999 });
    assert.deepEqual(outcome('bytes=0-0', 1), { start: 0, end: 0 });
  });
  test('ends past the object are clamped; suffixes longer than it give the whole object as 206', () => {
    assert.deepEqual(outcome('bytes=10-99999999999999999999', 20), { start: 10, end: 19 });
    assert.deepEqual(outcome('bytes=-50', 20), { start: 0, end: 19 });
  });
  test('unsatisfiable: start at or past the end, the suffix -0, any start on an empty object', () => {
    assert.equal(outcome('bytes=20-', 20), 'InvalidRange');
    assert.equal(outcome('bytes=20-30', 20), 'InvalidRange');
    assert.equal(outcome('bytes=-0', 20), 'InvalidRange');
    assert.equal(outcome('bytes=0-', 0), 'InvalidRange');
    assert.equal(outcome('bytes=0-0', 0), 'InvalidRange');
    assert.equal(outcome('bytes=99999999999999999999-', 5), 'InvalidRange');
  });
  test('garbage, reversed ranges, other units and multiple ranges are ignored (200, whole object)', () => {
    for (const h of [
      '',
      'bytes=',
      'bytes=-',
      'bytes=a-b',
      'bytes=5-2',
      'bytes=1-0',
      'items=0-5',
      'bytes=0-1,3-4',
      'bytes=-5-3',
      'bytes=0x10-',
      'bytes=1.5-2',
      'bytes=--1',
      '0-5',
    ]) {
      assert.equal(outcome(h, 20), 'whole', h);
    }
    assert.equal(outcome(undefined, 20), 'whole');
    assert.equal(outcome('bytes=-5', 0), 'whole');
  });
  test('the 416 error carries AWS details and a Content-Range', () => {
    try {
      parseRange('bytes=30-', 20);
      assert.fail('expected InvalidRange');
    } catch (err) {
      assert.ok(isS3Error(err));
      assert.equal(err.status, 416);
      assert.deepEqual(err.details, { RangeRequested: 'bytes=30-', ActualObjectSize: '20' });
      assert.equal(err.headers['Content-Range'], 'bytes */20');
    }
    assert.equal(contentRange({ start: 0, end: 9 }, 20), 'bytes 0-9/20');
  });
});

describe('parseRange: properties', () => {
  const size = fc.integer({ min: 0, max: 1e12 });
  test('any header: whole object, an in-bounds non-empty range, or InvalidRange; nothing else', () => {
    const header = fc.oneof(
      fc.string(),
      fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
    );
    fc.assert(
      fc.property(header, size, (h, s) => {
        const r = outcome(h, s);
        if (r === 'whole' || r === 'InvalidRange') return;
        assert.ok(typeof r === 'object');
        assert.ok(r.start >= 0 && r.start <= r.end && r.end < s, JSON.stringify({ h, s, r }));
      }),
      { numRuns: 2000 },
    );
  });
  test('bytes=a-b with a <= b serves exactly [a, min(b, size-1)] or is 416 when a >= size', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), size, (x, y, s) => {
        const [a, b] = x <= y ? [x, y] : [y, x];
        const r = outcome(`bytes=${a}-${b}`, s);
        if (a >= s) assert.equal(r, 'InvalidRange');
        else assert.deepEqual(r, { start: a, end: Math.min(b, s - 1) });
      }),
      { numRuns: 2000 },
    );
  });
  test('bytes=-n serves the last min(n, size) bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 1e12 }), (n, s) => {
        const r = outcome(`bytes=-${n}`, s);
        assert.ok(typeof r === 'object');
        assert.equal(r.end - r.start + 1, Math.min(n, s));
        assert.equal(r.end, s - 1);
      }),
      { numRuns: 1000 },
    );
  });
  test('more than one range is always ignored', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 2, maxLength: 5 }),
        size,
        (ranges, s) => {
          const h = `bytes=${ranges.map(([a, b]) => `${a}-${b}`).join(',')}`;
          assert.equal(outcome(h, s), 'whole');
        },
      ),
    );
  });
});
