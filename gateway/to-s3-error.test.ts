// Every storage error code is an S3 code with its AWS status: a new storage code cannot silently become a 500.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorFromWire, STORAGE_ERROR_CODES, StorageError } from '../storage/errors.ts';
import { S3_ERRORS, S3Error } from './errors.ts';
import { toS3Error } from './to-s3-error.ts';

test('each storage error code is in the S3 error catalogue and maps to itself', { timeout: 5_000 }, () => {
  for (const code of STORAGE_ERROR_CODES) {
    assert.ok(Object.hasOwn(S3_ERRORS, code), `storage code ${code} is not an S3 error code`);
    if (code === 'InternalError') continue;
    const local = toS3Error(new StorageError(code, 'detail'));
    assert.equal(local.code, code);
    assert.equal(local.status, S3_ERRORS[code][0]);
    // The same after crossing the internal HTTP API.
    assert.equal(toS3Error(errorFromWire(code, 'detail')).code, code);
  }
});

test('an internal failure says nothing of itself; unknown or inherited codes are InternalError', {
  timeout: 5_000,
}, () => {
  const internal = toS3Error(new StorageError('InternalError', 'lmdb: /data/index is on fire'));
  assert.equal(internal.code, 'InternalError');
  assert.equal(internal.message, S3_ERRORS.InternalError[1]);
  assert.equal(toS3Error(Object.assign(new Error('x'), { code: 'ENOSPC' })).code, 'InternalError');
  assert.equal(toS3Error({ code: 'toString' }).code, 'InternalError');
  assert.equal(toS3Error(new TypeError('boom')).code, 'InternalError');
  const s3 = new S3Error('NoSuchKey');
  assert.equal(toS3Error(s3), s3);
});
