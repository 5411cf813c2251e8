import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isS3Error } from '../errors.ts';
import {
  checkWriteCondition,
  copySourceConditionError,
  evaluateCopySourceConditions,
  evaluateReadConditions,
  parseWriteCondition,
} from './conditionals.ts';

const v = { etag: 'abc123', lastModifiedMs: Date.parse('2024-05-01T12:00:00.700Z') };
const BEFORE = 'Wed, 01 May 2024 11:59:59 GMT';
const SAME = 'Wed, 01 May 2024 12:00:00 GMT'; // equal at second precision
const AFTER = 'Wed, 01 May 2024 12:00:01 GMT';

describe('evaluateReadConditions (GET/HEAD)', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{}, 'ok'],
    [{ 'if-match': '"abc123"' }, 'ok'],
    [{ 'if-match': 'abc123' }, 'ok'],
    [{ 'if-match': '"x", "abc123"' }, 'ok'],
    [{ 'if-match': '*' }, 'ok'],
    [{ 'if-match': '"other"' }, 'precondition-failed'],
    [{ 'if-unmodified-since': BEFORE }, 'precondition-failed'],
    [{ 'if-unmodified-since': SAME }, 'ok'],
    [{ 'if-unmodified-since': 'garbage' }, 'ok'],
    [{ 'if-none-match': '"abc123"' }, 'not-modified'],
    [{ 'if-none-match': 'W/"abc123"' }, 'not-modified'],
    [{ 'if-none-match': '*' }, 'not-modified'],
    [{ 'if-none-match': '"other"' }, 'ok'],
    [{ 'if-modified-since': SAME }, 'not-modified'],
    [{ 'if-modified-since': AFTER }, 'not-modified'],
    [{ 'if-modified-since': BEFORE }, 'ok'],
    [{ 'if-modified-since': 'not a date' }, 'ok'],
    // AWS: If-Match true and If-Unmodified-Since false → 200.
    [{ 'if-match': '"abc123"', 'if-unmodified-since': BEFORE }, 'ok'],
    // AWS: If-None-Match false and If-Modified-Since true → 304.
    [{ 'if-none-match': '"abc123"', 'if-modified-since': BEFORE }, 'not-modified'],
    // If-None-Match true overrides If-Modified-Since false.
    [{ 'if-none-match': '"other"', 'if-modified-since': AFTER }, 'ok'],
    // 412 conditions are evaluated before 304 ones.
    [{ 'if-match': '"other"', 'if-none-match': '"abc123"' }, 'precondition-failed'],
    [{ 'if-unmodified-since': BEFORE, 'if-modified-since': AFTER }, 'precondition-failed'],
  ];
  for (const [headers, expected] of cases) {
    test(`${JSON.stringify(headers)} → ${expected}`, () =>
      assert.equal(evaluateReadConditions(headers, v), expected));
  }
});

describe('copy source conditions', () => {
  test('every failure is 412 PreconditionFailed naming the header', () => {
    const err = copySourceConditionError({ 'x-amz-copy-source-if-none-match': '"abc123"' }, v);
    assert.ok(err);
    assert.equal(err.status, 412);
    assert.deepEqual(err.details, { Condition: 'x-amz-copy-source-If-None-Match' });
    assert.equal(
      evaluateCopySourceConditions({ 'x-amz-copy-source-if-modified-since': AFTER }, v),
      'precondition-failed',
    );
  });
  test("AWS's documented pairs", () => {
    // if-match true + if-unmodified-since false → copies (200).
    const h1 = { 'x-amz-copy-source-if-match': '"abc123"', 'x-amz-copy-source-if-unmodified-since': BEFORE };
    assert.equal(evaluateCopySourceConditions(h1, v), 'ok');
    // if-none-match false + if-modified-since true → 412.
    const h2 = {
      'x-amz-copy-source-if-none-match': '"abc123"',
      'x-amz-copy-source-if-modified-since': BEFORE,
    };
    assert.equal(evaluateCopySourceConditions(h2, v), 'precondition-failed');
  });
  test('plain If-Match on the request does not apply to the source', () => {
    assert.equal(evaluateCopySourceConditions({ 'if-match': '"nope"' }, v), 'ok');
  });
});

describe('write conditions (PUT)', () => {
  const code = (fn: () => void) => {
    try {
      fn();
      return 'ok';
    } catch (err) {
      assert.ok(isS3Error(err));
      return err.code;
    }
  };
  test('parse', () => {
    assert.equal(parseWriteCondition({}), undefined);
    assert.deepEqual(parseWriteCondition({ 'if-none-match': '*' }), { ifNoneMatchStar: true });
    assert.deepEqual(parseWriteCondition({ 'if-match': '"abc"' }), { ifMatchEtag: 'abc' });
    assert.equal(
      code(() => parseWriteCondition({ 'if-none-match': '"abc"' })),
      'NotImplemented',
    );
  });
  test('If-None-Match: * fails with 412 when the key exists', () => {
    assert.equal(
      code(() => checkWriteCondition({ ifNoneMatchStar: true }, { etag: 'e' }, 'k')),
      'PreconditionFailed',
    );
    assert.equal(
      code(() => checkWriteCondition({ ifNoneMatchStar: true }, undefined, 'k')),
      'ok',
    );
  });
  test('If-Match: 404 NoSuchKey when missing, 412 when the ETag differs', () => {
    assert.equal(
      code(() => checkWriteCondition({ ifMatchEtag: 'e' }, undefined, 'k')),
      'NoSuchKey',
    );
    assert.equal(
      code(() => checkWriteCondition({ ifMatchEtag: 'e' }, { etag: 'f' }, 'k')),
      'PreconditionFailed',
    );
    assert.equal(
      code(() => checkWriteCondition({ ifMatchEtag: 'e' }, { etag: 'e' }, 'k')),
      'ok',
    );
  });
});
