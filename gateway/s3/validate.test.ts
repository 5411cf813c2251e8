import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isS3Error } from '../errors.ts';
import { validateBucketName, validateKey, validateUserMetadata } from './validate.ts';

function code(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(isS3Error(err));
    return err.code;
  }
}

describe('validateBucketName (AWS rules for new general purpose buckets)', () => {
  test('accepts names AWS lists as valid', () => {
    for (const name of [
      'docexamplebucket1',
      'log-delivery-march-2020',
      'my-hosted-content',
      'a.b-c',
      'abc',
      'x'.repeat(63),
      '1234',
    ]) {
      assert.equal(
        code(() => validateBucketName(name)),
        'ok',
        name,
      );
    }
  });
  test('rejects names AWS lists as invalid', () => {
    const bad = [
      'ab',
      'x'.repeat(64),
      'doc_example_bucket',
      'DocExampleBucket',
      'doc-example-bucket-',
      '-abc',
      '.abc',
      'abc.',
      'a..b',
      '192.168.5.4',
      'xn--abc',
      'sthree-abc',
      'sthree-configurator',
      'amzn-s3-demo-bucket',
      'abc-s3alias',
      'abc--ol-s3',
      'abc.mrap',
      'abc--x-s3',
      'abc--table-s3',
      'a b c',
      'ümlaut',
      'abc\x00',
    ];
    for (const name of bad)
      assert.equal(
        code(() => validateBucketName(name)),
        'InvalidBucketName',
        name,
      );
  });
  test('the error carries the BucketName detail', () => {
    try {
      validateBucketName('Bad');
    } catch (err) {
      assert.ok(isS3Error(err));
      assert.deepEqual(err.details, { BucketName: 'Bad' });
      assert.equal(err.status, 400);
    }
  });
});

describe('validateKey', () => {
  test('1..1024 UTF-8 bytes; 1025 bytes is KeyTooLongError', () => {
    assert.equal(
      code(() => validateKey('a'.repeat(1024))),
      'ok',
    );
    assert.equal(
      code(() => validateKey('a'.repeat(1025))),
      'KeyTooLongError',
    );
    assert.equal(
      code(() => validateKey('é'.repeat(512))),
      'ok',
    );
    assert.equal(
      code(() => validateKey(`${'é'.repeat(512)}a`)),
      'KeyTooLongError',
    );
    assert.equal(
      code(() => validateKey('😀'.repeat(256))),
      'ok',
    );
    assert.equal(
      code(() => validateKey('')),
      'InvalidArgument',
    );
  });
  test('hostile-looking keys are just bytes', () => {
    for (const key of [
      '/',
      '//',
      '../',
      '../../etc/passwd',
      'a b',
      'a+b',
      '%',
      '%2e',
      '\x00\x01',
      '\r\n',
      '😀',
    ]) {
      assert.equal(
        code(() => validateKey(key)),
        'ok',
        JSON.stringify(key),
      );
    }
  });
});

describe('validateUserMetadata', () => {
  test('2 KiB of names and values is the limit', () => {
    assert.equal(
      code(() => validateUserMetadata({ a: 'x'.repeat(2047) })),
      'ok',
    );
    assert.equal(
      code(() => validateUserMetadata({ a: 'x'.repeat(2048) })),
      'MetadataTooLarge',
    );
    assert.equal(
      code(() => validateUserMetadata({ ab: 'x'.repeat(1000), cd: 'y'.repeat(1000) })),
      'ok',
    );
    assert.equal(
      code(() => validateUserMetadata({ ab: 'x'.repeat(1100), cd: 'y'.repeat(1000) })),
      'MetadataTooLarge',
    );
  });
  test('latin1 header strings count one byte per char (the bytes Node received)', () => {
    assert.equal(
      code(() => validateUserMetadata({ a: '\u00e9'.repeat(2047) })),
      'ok',
    );
    assert.equal(
      code(() => validateUserMetadata({ a: '\u20ac'.repeat(683) })),
      'MetadataTooLarge',
    );
  });
});
