import assert from 'node:assert/strict';
import { test } from 'node:test';
import { malformedVersionId, notFound, requestedVersionId } from './version-id.ts';

test('versionId: null and well-formed ids pass, malformed ones are 400 InvalidArgument', {
  timeout: 5_000,
}, () => {
  assert.equal(malformedVersionId(undefined), undefined);
  assert.equal(malformedVersionId('null'), undefined);
  for (const bad of [
    '',
    'bogus',
    'NULL',
    'a'.repeat(15),
    'a'.repeat(31),
    'a'.repeat(33),
    `${'a'.repeat(15)}/`,
  ]) {
    const e = malformedVersionId(bad);
    assert.equal(e?.code, 'InvalidArgument', bad);
    assert.equal(e?.status, 400);
    assert.equal(e?.details.ArgumentName, 'versionId');
  }
  assert.equal(malformedVersionId('')?.message, 'Version id cannot be the empty string');
  assert.equal(malformedVersionId('x')?.message, 'Invalid version id specified');
  for (const good of ['AAAAAAAAAAEAAAAB', 'v5n1PPUjOCMHLyyfq0ayjoZ5RZLfVQKA', `${'A+/='.repeat(16)}`])
    assert.equal(malformedVersionId(good), undefined, good);
  assert.equal(malformedVersionId('x', 'x-amz-copy-source')?.details.ArgumentName, 'x-amz-copy-source');
  assert.throws(() => requestedVersionId(new Map([['versionId', 'x']])), { code: 'InvalidArgument' });
  assert.deepEqual(notFound('k', 'AAAAAAAAAAEAAAAB').details, { Key: 'k', VersionId: 'AAAAAAAAAAEAAAAB' });
  assert.equal(notFound('k', undefined).code, 'NoSuchKey');
});
