import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyHeaders, type StoredHeaders } from './api.ts';

test("a copy's headers: REPLACE's own, else the source's without its website redirect, plus the request's", () => {
  const source: StoredHeaders = {
    contentType: 'text/html',
    websiteRedirectLocation: '/src',
    userMeta: { a: '1' },
  };
  const dst = { bucket: 'b', key: Buffer.from('k'), nowMs: 0 };
  assert.deepEqual(copyHeaders(dst, source), { contentType: 'text/html', userMeta: { a: '1' } });
  assert.deepEqual(copyHeaders({ ...dst, websiteRedirectLocation: '/mine' }, source), {
    contentType: 'text/html',
    userMeta: { a: '1' },
    websiteRedirectLocation: '/mine',
  });
  const replaced: StoredHeaders = { userMeta: {}, websiteRedirectLocation: '/new' };
  assert.equal(copyHeaders({ ...dst, headers: replaced }, source), replaced);
});
