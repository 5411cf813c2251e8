// verifyRequest against AWS's documented SigV4 examples, real aws-cli requests, and the ways to get it wrong.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { S3Error } from '../errors.ts';
import { sha256Hex } from './crypto.ts';
import { parseAmzDate } from './parse.ts';
import type { Credentials, RawRequest } from './types.ts';
import { verifyRequest } from './verify.ts';

// The example credentials and time AWS uses throughout its S3 SigV4 documentation.
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_TIME = Date.UTC(2013, 4, 24);
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const keys = new Map<string, Credentials>([
  [AWS_KEY, { accessKeyId: AWS_KEY, secretAccessKey: AWS_SECRET }],
  ['AK', { accessKeyId: 'AK', secretAccessKey: 'SK' }],
]);
const lookup = (id: string) => keys.get(id);

function headerAuth(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${AWS_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

const docGet: RawRequest = {
  method: 'GET',
  rawTarget: '/test.txt',
  headers: {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY,
    'x-amz-date': '20130524T000000Z',
    authorization: headerAuth(
      'host;range;x-amz-content-sha256;x-amz-date',
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    ),
  },
};

const presignedTarget =
  '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
  '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
  '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
const docPresigned: RawRequest = {
  method: 'GET',
  rawTarget: presignedTarget,
  headers: { host: 'examplebucket.s3.amazonaws.com' },
};

function withHeaders(req: RawRequest, headers: RawRequest['headers']): RawRequest {
  return { ...req, headers: { ...req.headers, ...headers } };
}

function rejects(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('AWS documentation examples (sig-v4-header-based-auth, sigv4-query-string-auth, sigv4-streaming)', () => {
  test('GET Object with a Range header', () => {
    const v = verifyRequest(docGet, lookup, DOC_TIME);
    assert.equal(v.accessKeyId, AWS_KEY);
    assert.deepEqual(v.payload, { kind: 'sha256', hex: EMPTY });
  });

  test('PUT Object with a Date header, a $ in the key and a storage class', () => {
    const payload = sha256Hex('Welcome to Amazon S3.');
    const v = verifyRequest(
      {
        method: 'PUT',
        rawTarget: '/test%24file.text',
        headers: {
          host: 'examplebucket.s3.amazonaws.com',
          date: 'Fri, 24 May 2013 00:00:00 GMT',
          'x-amz-date': '20130524T000000Z',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': payload,
          authorization: headerAuth(
            'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
            '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
          ),
        },
      },
      lookup,
      DOC_TIME,
    );
    assert.deepEqual(v.payload, { kind: 'sha256', hex: payload });
  });

  for (const [target, signature] of [
    ['/?lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
    ['/?max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
    ['/?prefix=J&max-keys=2', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
  ] as const) {
    test(`GET ${target} (query canonicalised: sorted, 'name=' for a bare name)`, () => {
      const req = {
        method: 'GET',
        rawTarget: target,
        headers: {
          host: 'examplebucket.s3.amazonaws.com',
          'x-amz-content-sha256': EMPTY,
          'x-amz-date': '20130524T000000Z',
          authorization: headerAuth('host;x-amz-content-sha256;x-amz-date', signature),
        },
      };
      assert.equal(verifyRequest(req, lookup, DOC_TIME).accessKeyId, AWS_KEY);
    });
  }

  test('presigned GET, within its 86400 s', () => {
    const v = verifyRequest(docPresigned, lookup, DOC_TIME + 86_000_000);
    assert.deepEqual(v.payload, { kind: 'unsigned' });
  });

  test('streaming PUT seed signature yields the signing context for the chunks', () => {
    const v = verifyRequest(
      {
        method: 'PUT',
        rawTarget: '/examplebucket/chunkObject.txt',
        headers: {
          host: 's3.amazonaws.com',
          'x-amz-date': '20130524T000000Z',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': '66560',
          'content-length': '66824',
          authorization: headerAuth(
            'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
            '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
          ),
        },
      },
      lookup,
      DOC_TIME,
    );
    assert.deepEqual(v.payload, { kind: 'streaming-signed', trailer: false });
    assert.equal(v.decodedContentLength, 66560);
    assert.equal(
      v.streaming?.seedSignature,
      '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    );
    assert.equal(v.streaming?.scope, '20130524/us-east-1/s3/aws4_request');
  });
});

describe('requests captured from aws-cli', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures-aws-cli.json', import.meta.url), 'utf8')) as {
    requests: Array<RawRequest & { headers: Record<string, string> }>;
  };
  for (const req of fixture.requests) {
    test(`${req.method} ${req.rawTarget} verifies as sent (//, .., %, +, unicode kept)`, () => {
      const now = parseAmzDate(req.headers['x-amz-date'] as string);
      assert.equal(verifyRequest(req, lookup, now).accessKeyId, 'AK');
      // The same request with the path normalised the WHATWG way no longer verifies.
      const normalised = new URL(req.rawTarget, 'http://h').pathname;
      if (normalised !== req.rawTarget) {
        rejects(() => verifyRequest({ ...req, rawTarget: normalised }, lookup, now), 'SignatureDoesNotMatch');
      }
    });
  }
});

describe('rejections', () => {
  test('an unsigned request is anonymous (authorization decides it, gateway/authz)', () => {
    const v = verifyRequest({ method: 'GET', rawTarget: '/b/k', headers: { host: 'h' } }, lookup, DOC_TIME);
    assert.equal(v.accessKeyId, undefined);
    assert.deepEqual(v.payload, { kind: 'unsigned' });
  });
  test('unknown access key → InvalidAccessKeyId', () => {
    rejects(() => verifyRequest(docGet, () => undefined, DOC_TIME), 'InvalidAccessKeyId');
  });
  test('wrong secret → SignatureDoesNotMatch, with the canonical request for debugging', () => {
    const wrong = () => ({ accessKeyId: AWS_KEY, secretAccessKey: 'not-the-secret' });
    assert.throws(
      () => verifyRequest(docGet, wrong, DOC_TIME),
      (e: unknown) =>
        e instanceof S3Error &&
        e.code === 'SignatureDoesNotMatch' &&
        e.details.CanonicalRequest?.startsWith('GET\n/test.txt\n') === true,
    );
  });
  test('tampered signed header, method, path or query → SignatureDoesNotMatch', () => {
    rejects(
      () => verifyRequest(withHeaders(docGet, { range: 'bytes=0-99' }), lookup, DOC_TIME),
      'SignatureDoesNotMatch',
    );
    rejects(() => verifyRequest({ ...docGet, method: 'DELETE' }, lookup, DOC_TIME), 'SignatureDoesNotMatch');
    rejects(
      () => verifyRequest({ ...docGet, rawTarget: '/test.txu' }, lookup, DOC_TIME),
      'SignatureDoesNotMatch',
    );
    rejects(
      () => verifyRequest({ ...docGet, rawTarget: '/test.txt?acl' }, lookup, DOC_TIME),
      'SignatureDoesNotMatch',
    );
  });
  test('tampered payload hash → SignatureDoesNotMatch (it is part of the canonical request)', () => {
    rejects(
      () =>
        verifyRequest(withHeaders(docGet, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), lookup, DOC_TIME),
      'SignatureDoesNotMatch',
    );
  });
  test('an unsigned header may change freely', () => {
    assert.equal(
      verifyRequest(withHeaders(docGet, { 'user-agent': 'x' }), lookup, DOC_TIME).accessKeyId,
      AWS_KEY,
    );
  });
  test('clock skew beyond 15 minutes → RequestTimeTooSkewed, either direction', () => {
    assert.ok(verifyRequest(docGet, lookup, DOC_TIME + 14 * 60_000));
    rejects(() => verifyRequest(docGet, lookup, DOC_TIME + 16 * 60_000), 'RequestTimeTooSkewed');
    rejects(() => verifyRequest(docGet, lookup, DOC_TIME - 16 * 60_000), 'RequestTimeTooSkewed');
    assert.ok(verifyRequest(docGet, lookup, DOC_TIME + 16 * 60_000, { maxSkewMs: 20 * 60_000 }));
  });
  test('expired presigned URL → AccessDenied "Request has expired"', () => {
    rejects(
      () => verifyRequest(docPresigned, lookup, DOC_TIME + 86_401_000),
      'AccessDenied',
      /Request has expired/,
    );
  });
  test('presigned X-Amz-Expires outside 1..604800 → AuthorizationQueryParametersError', () => {
    for (const expires of ['0', '604801', 'abc']) {
      const req = {
        ...docPresigned,
        rawTarget: presignedTarget.replace('X-Amz-Expires=86400', `X-Amz-Expires=${expires}`),
      };
      rejects(() => verifyRequest(req, lookup, DOC_TIME), 'AuthorizationQueryParametersError');
    }
  });
  test('presigned with a tampered query or missing parameter', () => {
    rejects(
      () => verifyRequest({ ...docPresigned, rawTarget: `${presignedTarget}&x=1` }, lookup, DOC_TIME),
      'SignatureDoesNotMatch',
    );
    const missing = presignedTarget.replace('&X-Amz-SignedHeaders=host', '');
    rejects(
      () => verifyRequest({ ...docPresigned, rawTarget: missing }, lookup, DOC_TIME),
      'AuthorizationQueryParametersError',
    );
  });
  test('header and query auth together → InvalidArgument', () => {
    rejects(
      () => verifyRequest({ ...docGet, rawTarget: presignedTarget }, lookup, DOC_TIME),
      'InvalidArgument',
    );
  });
  test('malformed Authorization headers → AuthorizationHeaderMalformed', () => {
    for (const authorization of [
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request',
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=host, Signature=' +
        'a'.repeat(64),
      `AWS4-HMAC-SHA256 Credential=${AWS_KEY}/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=xyz`,
      `AWS4-HMAC-SHA256 Credential=${AWS_KEY}/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=${'a'.repeat(64)}`,
    ]) {
      rejects(
        () => verifyRequest(withHeaders(docGet, { authorization }), lookup, DOC_TIME),
        'AuthorizationHeaderMalformed',
      );
    }
  });
  test('SigV2 with --no-sigv2 → InvalidRequest (sigv2.test.ts verifies it otherwise); SigV4a → NotImplemented', () => {
    rejects(
      () =>
        verifyRequest(withHeaders(docGet, { authorization: 'AWS AK:c2lnbmF0dXJl' }), lookup, DOC_TIME, {
          sigV2: false,
        }),
      'InvalidRequest',
    );
    rejects(
      () =>
        verifyRequest(
          withHeaders(docGet, { authorization: 'AWS4-ECDSA-P256-SHA256 Credential=x' }),
          lookup,
          DOC_TIME,
        ),
      'NotImplemented',
    );
  });
  test('credential date differing from x-amz-date → AuthorizationHeaderMalformed', () => {
    rejects(
      () =>
        verifyRequest(
          withHeaders(docGet, { 'x-amz-date': '20130525T000000Z' }),
          lookup,
          DOC_TIME + 86_400_000,
        ),
      'AuthorizationHeaderMalformed',
    );
  });
  test('a region other than the configured one → AuthorizationHeaderMalformed', () => {
    rejects(
      () => verifyRequest(docGet, lookup, DOC_TIME, { region: 'eu-west-1' }),
      'AuthorizationHeaderMalformed',
    );
    assert.ok(verifyRequest(docGet, lookup, DOC_TIME, { region: 'us-east-1' }));
  });
  test('missing x-amz-content-sha256 → InvalidRequest; a bogus one → InvalidArgument', () => {
    rejects(
      () => verifyRequest(withHeaders(docGet, { 'x-amz-content-sha256': undefined }), lookup, DOC_TIME),
      'InvalidRequest',
    );
    rejects(
      () => verifyRequest(withHeaders(docGet, { 'x-amz-content-sha256': 'abc' }), lookup, DOC_TIME),
      'InvalidArgument',
    );
  });
  test('host not signed → AccessDenied', () => {
    const authorization = headerAuth('range;x-amz-content-sha256;x-amz-date', 'a'.repeat(64));
    rejects(() => verifyRequest(withHeaders(docGet, { authorization }), lookup, DOC_TIME), 'AccessDenied');
  });
  test('several access keys: each verifies with its own secret', () => {
    const other = new Map(keys);
    other.set('SECOND', { accessKeyId: 'SECOND', secretAccessKey: AWS_SECRET });
    assert.equal(verifyRequest(docGet, (id) => other.get(id), DOC_TIME).accessKeyId, AWS_KEY);
  });
});
