// Canonical URI and query from the raw request target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Error } from '../errors.ts';
import { decodeQuery } from '../s3/query.ts';
import { canonicalQuery, canonicalUriCandidates } from './uri.ts';

const canonical = (raw: string, omit?: (n: string) => boolean) => canonicalQuery(decodeQuery(raw), omit);

test('canonical query: decoded, re-encoded upper-case, sorted by name then value, bare names get "="', () => {
  assert.equal(
    canonical('prefix=a%20b%2Bc&uploads&delimiter=%2f&b=2&b=1'),
    'b=1&b=2&delimiter=%2F&prefix=a%20b%2Bc&uploads=',
  );
  assert.equal(canonical('k=%7e%41!'), 'k=~A%21');
  assert.equal(
    canonical('a=1&X-Amz-Signature=abc', (n) => n === 'X-Amz-Signature'),
    'a=1',
  );
});

test('canonical query reads + as the parser does: a space, never the %2B the signer may have signed', () => {
  assert.equal(canonical('prefix=a+b%2F'), 'prefix=a%20b%2F');
  assert.notEqual(canonical('prefix=a+b%2F'), canonical('prefix=a%2Bb%2F'));
  assert.equal(canonical('prefix=a+b'), canonical('prefix=a%20b'));
});

test('a stray % in the query or path is InvalidURI, exactly as the request parser answers', () => {
  assert.throws(
    () => canonical('k=%zz'),
    (e) => e instanceof S3Error && e.code === 'InvalidURI',
  );
  assert.throws(
    () => canonicalUriCandidates('/b/100%!'),
    (e) => e instanceof S3Error && e.code === 'InvalidURI',
  );
});

test('URI candidates: the raw path first, the re-encoded form only when it differs', () => {
  assert.deepEqual(canonicalUriCandidates('/b/a%20b'), ['/b/a%20b']);
  assert.deepEqual(canonicalUriCandidates('/b/a!b%7e'), ['/b/a!b%7e', '/b/a%21b~']);
  assert.deepEqual(canonicalUriCandidates('/b/a+b'), ['/b/a+b', '/b/a%2Bb']);
});
