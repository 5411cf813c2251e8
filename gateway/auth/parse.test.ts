// parseAuthorizationHeader: the fast path for the layout SDKs send and the general parser agree.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { S3Error } from '../errors.ts';
import { parseAuthorizationHeader } from './parse.ts';

const sig = 'ab'.repeat(32);
const cred = 'AKID/20261121/us-east-1/s3/aws4_request';
const expected = {
  credential: {
    accessKeyId: 'AKID',
    date: '20261121',
    region: 'us-east-1',
    service: 's3',
    scope: '20261121/us-east-1/s3/aws4_request',
  },
  signedHeaders: ['host', 'x-amz-date'],
  signature: sig,
};

const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('Authorization header', () => {
  test('the SDK layout and its variants parse to the same fields', () => {
    for (const value of [
      `AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host;x-amz-date, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${cred},SignedHeaders=host;x-amz-date,Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${cred} , SignedHeaders=host;x-amz-date , Signature=${sig} `,
      `AWS4-HMAC-SHA256 Signature=${sig}, SignedHeaders=host;x-amz-date, Credential=${cred}`,
    ]) {
      assert.deepEqual(plain(parseAuthorizationHeader(value)), expected, value);
    }
  });

  test('malformed values are rejected on either path', () => {
    const malformed = (value: string) =>
      assert.throws(
        () => parseAuthorizationHeader(value),
        (e) => e instanceof S3Error && e.code === 'AuthorizationHeaderMalformed',
        value,
      );
    malformed(`AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host;X-Amz-Date, Signature=${sig}`);
    malformed(`AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host;;x, Signature=${sig}`);
    malformed(`AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host, Signature=${sig.slice(1)}g`);
    malformed(`AWS4-HMAC-SHA256 Credential=${cred}, SignedHeaders=host, Signature=${sig}, Signature=${sig}`);
    malformed(`AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/s3/aws4_request, Signature=${sig}`);
  });
});
