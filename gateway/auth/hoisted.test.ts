import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Error } from '../errors.ts';
import { hoistedHeaders } from './hoisted.ts';

const presigned = (extra: Array<[string, string]>) =>
  new Map<string, string>([
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Date', '20250101T000000Z'],
    ['X-Amz-Security-Token', 't'],
    ['X-Amz-Signature', 'ab'],
    ...extra,
  ]);

test('a presigned query’s x-amz-* (not SigV4’s own) become headers, as UTF-8 bytes', {
  timeout: 5_000,
}, () => {
  assert.deepEqual(
    hoistedHeaders(
      presigned([
        ['X-Amz-Meta-Color', 'blue'],
        ['x-amz-meta-word', 'é'],
        ['prefix', 'p'],
      ]),
      {},
    ),
    { 'x-amz-meta-color': 'blue', 'x-amz-meta-word': '\u00c3\u00a9' },
  );
  assert.equal(hoistedHeaders(presigned([]), {}), undefined);
  // Header auth: the query is only the query.
  assert.equal(hoistedHeaders(new Map([['x-amz-meta-a', '1']]), {}), undefined);
});

test('a hoisted header also sent as a header, or one that cannot be a header, is refused', {
  timeout: 5_000,
}, () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e instanceof S3Error ? e.code : String(e);
    }
    return 'ok';
  };
  assert.equal(
    code(() => hoistedHeaders(presigned([['x-amz-meta-a', '1']]), { 'x-amz-meta-a': '2' })),
    'InvalidRequest',
  );
  assert.equal(
    code(() => hoistedHeaders(presigned([['x-amz-meta-a', 'x\r\nSet-Cookie: y']]), {})),
    'InvalidArgument',
  );
});
