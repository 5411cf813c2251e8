import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  afterDays,
  currentExpiry,
  DAY_MS,
  type LifecycleRule,
  matchesFilter,
  noncurrentExpired,
  type RuleFilter,
  uploadAbortRule,
} from './lifecycle-rules.ts';

const tag = fc.record({ key: fc.constantFrom('a', 'b', 'c'), value: fc.constantFrom('', '1', '2') });
const filter: fc.Arbitrary<RuleFilter> = fc.record(
  {
    prefix: fc.constantFrom('', 'x', 'x/', 'é', 'xy'),
    tags: fc.uniqueArray(tag, { selector: (t) => t.key, maxLength: 3 }),
    sizeGreaterThan: fc.nat(20),
    sizeLessThan: fc.nat(20),
  },
  { requiredKeys: [] },
);
const subject = fc.record({
  key: fc.constantFrom('', 'x', 'x/1', 'xy', 'é/1', 'y').map((k) => Buffer.from(k)),
  size: fc.nat(25),
  tags: fc.uniqueArray(tag, { selector: (t) => t.key, maxLength: 3 }),
});

/** The model: each condition as AWS states it, on strings. */
function model(
  f: RuleFilter,
  o: { key: Buffer; size: number; tags: Array<{ key: string; value: string }> },
): boolean {
  const key = o.key.toString('utf8');
  return (
    (f.prefix === undefined || key.startsWith(f.prefix)) &&
    (f.sizeGreaterThan === undefined || o.size > f.sizeGreaterThan) &&
    (f.sizeLessThan === undefined || o.size < f.sizeLessThan) &&
    (f.tags ?? []).every((t) => o.tags.some((x) => x.key === t.key && x.value === t.value))
  );
}

describe('lifecycle rules', { timeout: 30_000 }, () => {
  test('filter matching agrees with the model (prefix, tags, sizes, all of them)', () => {
    fc.assert(
      fc.property(filter, subject, (f, o) => matchesFilter(f, o) === model(f, o)),
      { numRuns: 3000 },
    );
  });

  test('afterDays: at or after start + days, a midnight UTC, less than a day later', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 10000 }), (start, days) => {
        const at = afterDays(start, days);
        assert.equal(at % DAY_MS, 0);
        assert.ok(at >= start + days * DAY_MS);
        assert.ok(at < start + (days + 1) * DAY_MS);
      }),
    );
  });

  test('the earliest enabled matching rule wins; Date rules expire at their date', () => {
    const lm = Date.UTC(2026, 0, 1, 10);
    const rules: LifecycleRule[] = [
      { id: 'd10', enabled: true, filter: {}, expiration: { days: 10 } },
      { id: 'date', enabled: true, filter: { prefix: 'p/' }, expiration: { dateMs: Date.UTC(2026, 0, 5) } },
      { id: 'off', enabled: false, filter: {}, expiration: { days: 1 } },
      { id: 'marker', enabled: true, filter: {}, expiration: { expiredObjectDeleteMarker: true } },
    ];
    assert.deepEqual(currentExpiry(rules, { key: Buffer.from('a'), size: 1, lastModifiedMs: lm }), {
      atMs: Date.UTC(2026, 0, 12),
      ruleId: 'd10',
    });
    assert.deepEqual(currentExpiry(rules, { key: Buffer.from('p/a'), size: 1, lastModifiedMs: lm }), {
      atMs: Date.UTC(2026, 0, 5),
      ruleId: 'date',
    });
    assert.equal(
      currentExpiry(rules.slice(2), { key: Buffer.from('a'), size: 1, lastModifiedMs: lm }),
      undefined,
    );
  });

  test('noncurrent versions: NoncurrentDays from when it became noncurrent; NewerNoncurrentVersions keeps that many', () => {
    const rules: LifecycleRule[] = [
      {
        id: 'nc',
        enabled: true,
        filter: {},
        noncurrentExpiration: { noncurrentDays: 2, newerNoncurrentVersions: 1 },
      },
    ];
    const since = Date.UTC(2026, 0, 1, 12);
    const v = (newer: number) => ({
      key: Buffer.from('k'),
      size: 1,
      noncurrentSinceMs: since,
      newerNoncurrent: newer,
    });
    assert.equal(noncurrentExpired(rules, v(1), Date.UTC(2026, 0, 4)), 'nc');
    assert.equal(noncurrentExpired(rules, v(1), Date.UTC(2026, 0, 3, 23)), undefined);
    assert.equal(
      noncurrentExpired(rules, v(0), Date.UTC(2027, 0, 1)),
      undefined,
      'the newest noncurrent one is kept',
    );
  });

  test('uploads are aborted DaysAfterInitiation later, by prefix', () => {
    const rules: LifecycleRule[] = [
      { id: 'u', enabled: true, filter: { prefix: 'tmp/' }, abortIncompleteUploadDays: 1 },
    ];
    const init = Date.UTC(2026, 0, 1, 23, 59);
    assert.equal(uploadAbortRule(rules, Buffer.from('tmp/a'), init, Date.UTC(2026, 0, 3)), 'u');
    assert.equal(uploadAbortRule(rules, Buffer.from('tmp/a'), init, Date.UTC(2026, 0, 2, 23)), undefined);
    assert.equal(uploadAbortRule(rules, Buffer.from('other'), init, Date.UTC(2030, 0, 1)), undefined);
  });
});
