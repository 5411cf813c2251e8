// Canonical URI and query from the raw request target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalQuery, canonicalUriCandidates, percentDecode, queryParams, splitTarget } from './uri.ts';

test('splitTarget keeps the path exactly as sent, dot segments and all', () => {
  assert.deepEqual(splitTarget('/b/a/../c/%2e%2e//d?x=1'), { path: '/b/a/../c/%2e%2e//d', query: 'x=1' });
  assert.deepEqual(splitTarget('http://host:9000/b/k?uploads'), { path: '/b/k', query: 'uploads' });
  assert.deepEqual(splitTarget('/'), { path: '/', query: '' });
});

test('canonical query: decoded, re-encoded upper-case, sorted by name then value, bare names get "="', () => {
  assert.equal(
    canonicalQuery('prefix=a%20b+c&uploads&delimiter=%2f&b=2&b=1'),
    'b=1&b=2&delimiter=%2F&prefix=a%20b%2Bc&uploads=',
  );
  assert.equal(canonicalQuery('k=%7e%41!'), 'k=~A%21');
  assert.equal(
    canonicalQuery('a=1&X-Amz-Signature=abc', (n) => n === 'X-Amz-Signature'),
    'a=1',
  );
});

test('percentDecode yields bytes; a stray % stays literal', () => {
  assert.deepEqual([...percentDecode('%C3%A9%zz%4')], [0xc3, 0xa9, 0x25, 0x7a, 0x7a, 0x25, 0x34]);
  assert.equal(
    queryParams('X-Amz-Credential=AK%2F20130524%2Fus-east-1').get('X-Amz-Credential'),
    'AK/20130524/us-east-1',
  );
});

test('URI candidates: the raw path first, the re-encoded form only when it differs', () => {
  assert.deepEqual(canonicalUriCandidates('/b/a%20b'), ['/b/a%20b']);
  assert.deepEqual(canonicalUriCandidates('/b/a!b%7e'), ['/b/a!b%7e', '/b/a%21b~']);
});
