import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionIdError } from './version-id.ts';

test('versionId on a never-versioned bucket: null is current, malformed 400, well-formed 404', {
  timeout: 5_000,
}, () => {
  assert.equal(versionIdError(undefined, 'k'), undefined);
  assert.equal(versionIdError('null', 'k'), undefined);
  for (const bad of ['', 'bogus', 'NULL', 'a'.repeat(31), 'a'.repeat(33), `${'a'.repeat(31)}/`]) {
    const e = versionIdError(bad, 'k');
    assert.equal(e?.code, 'InvalidArgument', bad);
    assert.equal(e?.status, 400);
    assert.equal(e?.details.ArgumentName, 'versionId');
  }
  assert.equal(versionIdError('', 'k')?.message, 'Version id cannot be the empty string');
  assert.equal(versionIdError('x', 'k')?.message, 'Invalid version id specified');
  for (const good of ['v5n1PPUjOCMHLyyfq0ayjoZ5RZLfVQKA', `${'A+/='.repeat(16)}`]) {
    const e = versionIdError(good, 'k');
    assert.equal(e?.code, 'NoSuchVersion', good);
    assert.equal(e?.status, 404);
    assert.deepEqual(e?.details, { Key: 'k', VersionId: good });
  }
  assert.equal(versionIdError('x', 'k', 'x-amz-copy-source')?.details.ArgumentName, 'x-amz-copy-source');
});
