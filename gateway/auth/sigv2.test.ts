// Signature version 2 against AWS's documented examples, and the ways to get it wrong.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { S3Error } from '../errors.ts';
import type { Credentials, RawRequest } from './types.ts';
import { type VerifyOptions, verifyRequest } from './verify.ts';

// The example credentials of AWS's SigV2 documentation (the johnsmith bucket).
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const keys = new Map<string, Credentials>([[AWS_KEY, { accessKeyId: AWS_KEY, secretAccessKey: AWS_SECRET }]]);
const lookup = (id: string) => keys.get(id);
const GET_TIME = Date.parse('Tue, 27 Mar 2007 19:36:42 +0000');

function rejects(fn: () => unknown, code: string): S3Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof S3Error, `expected S3Error ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

const vhost = (bucket: string): VerifyOptions => ({ hostBucket: () => bucket });

const docGet: RawRequest = {
  method: 'GET',
  rawTarget: '/photos/puppy.jpg',
  headers: {
    host: 'johnsmith.s3.amazonaws.com',
    date: 'Tue, 27 Mar 2007 19:36:42 +0000',
    authorization: `AWS ${AWS_KEY}:bWq2s1WEIj+Ydj0vQ697zp+IXMU=`,
  },
};

describe('SigV2 header: AWS documentation examples', () => {
  test('GET object (virtual-hosted: the bucket is signed as /johnsmith)', () => {
    const v = verifyRequest(docGet, lookup, GET_TIME, vhost('johnsmith'));
    assert.equal(v.accessKeyId, AWS_KEY);
    assert.deepEqual(v.payload, { kind: 'unsigned' });
  });

  test('PUT object with Content-Type', () => {
    const put: RawRequest = {
      method: 'PUT',
      rawTarget: '/photos/puppy.jpg',
      headers: {
        host: 'johnsmith.s3.amazonaws.com',
        'content-type': 'image/jpeg',
        'content-length': '94328',
        date: 'Tue, 27 Mar 2007 21:15:45 +0000',
        authorization: `AWS ${AWS_KEY}:MyyxeRY7whkBe+bq8fHCL/2kKUg=`,
      },
    };
    verifyRequest(put, lookup, Date.parse('Tue, 27 Mar 2007 21:15:45 +0000'), vhost('johnsmith'));
  });

  test('upload with Content-MD5 and x-amz-* headers (repeated ones joined, names folded)', () => {
    const upload: RawRequest = {
      method: 'PUT',
      rawTarget: '/db-backup.dat.gz',
      headers: {
        host: 'static.johnsmith.net:8080',
        date: 'Tue, 27 Mar 2007 21:06:08 +0000',
        'x-amz-acl': 'public-read',
        'content-type': 'application/x-download',
        'content-md5': '4gJE4saaMU4BqNR0kLY+lw==',
        'x-amz-meta-reviewedby': ['joe@johnsmith.net', 'jane@johnsmith.net'],
        'x-amz-meta-filechecksum': '0x02661779',
        'x-amz-meta-checksumalgorithm': 'crc32',
        'content-disposition': 'attachment; filename=database.dat',
        'content-encoding': 'gzip',
        'content-length': '5913339',
        authorization: `AWS ${AWS_KEY}:ilyl83RwaSoYIEdixDQcA4OnAnc=`,
      },
    };
    verifyRequest(
      upload,
      lookup,
      Date.parse('Tue, 27 Mar 2007 21:06:08 +0000'),
      vhost('static.johnsmith.net'),
    );
  });

  test('path style: the path as sent is the resource', () => {
    verifyRequest({ ...docGet, rawTarget: '/johnsmith/photos/puppy.jpg' }, lookup, GET_TIME);
  });
});

describe('SigV2: what is signed', () => {
  const secret = AWS_SECRET;
  const sign = (s: string) => createHmac('sha1', secret).update(s).digest('base64');
  const at = Date.UTC(2026, 0, 1);
  const date = new Date(at).toUTCString();

  test('sub-resources are signed, sorted, with their decoded values; other parameters are not', () => {
    const toSign = `GET\n\n\n${date}\n/b/k?partNumber=2&response-content-type=text/plain x&uploadId=u1`;
    const req: RawRequest = {
      method: 'GET',
      rawTarget: '/b/k?uploadId=u1&max-parts=5&response-content-type=text%2Fplain%20x&partNumber=2',
      headers: { host: 'h', date, authorization: `AWS ${AWS_KEY}:${sign(toSign)}` },
    };
    verifyRequest(req, lookup, at);
    // A different sub-resource value (another upload) is not what was signed.
    rejects(
      () => verifyRequest({ ...req, rawTarget: req.rawTarget.replace('u1', 'u2') }, lookup, at),
      'SignatureDoesNotMatch',
    );
    // An unsigned parameter may change (it is not part of V2's resource).
    verifyRequest({ ...req, rawTarget: req.rawTarget.replace('max-parts=5', 'max-parts=6') }, lookup, at);
    const acl = `PUT\n\n\n${date}\n/b?acl`;
    verifyRequest(
      {
        method: 'PUT',
        rawTarget: '/b?acl',
        headers: { host: 'h', date, authorization: `AWS ${AWS_KEY}:${sign(acl)}` },
      },
      lookup,
      at,
    );
  });

  test('x-amz-date replaces Date (the Date line is empty); every x-amz-* header is covered', () => {
    const amzDate = date;
    const toSign = `DELETE\n\n\n\nx-amz-date:${amzDate}\nx-amz-meta-a:1\n/b/k`;
    const headers = {
      host: 'h',
      'x-amz-date': amzDate,
      'x-amz-meta-a': ' 1 ',
      date: 'garbage',
      authorization: `AWS ${AWS_KEY}:${sign(toSign)}`,
    };
    verifyRequest({ method: 'DELETE', rawTarget: '/b/k', headers }, lookup, at);
    rejects(
      () =>
        verifyRequest(
          { method: 'DELETE', rawTarget: '/b/k', headers: { ...headers, 'x-amz-meta-b': '2' } },
          lookup,
          at,
        ),
      'SignatureDoesNotMatch',
    );
    rejects(
      () => verifyRequest({ method: 'GET', rawTarget: '/b/k', headers }, lookup, at),
      'SignatureDoesNotMatch',
    );
  });

  test('clock skew, missing date, bad header, unknown key, wrong secret', () => {
    const toSign = `GET\n\n\n${date}\n/b/k`;
    const headers = { host: 'h', date, authorization: `AWS ${AWS_KEY}:${sign(toSign)}` };
    const req = { method: 'GET', rawTarget: '/b/k', headers };
    rejects(() => verifyRequest(req, lookup, at + 16 * 60_000), 'RequestTimeTooSkewed');
    rejects(
      () =>
        verifyRequest({ ...req, headers: { host: 'h', authorization: headers.authorization } }, lookup, at),
      'AccessDenied',
    );
    rejects(
      () => verifyRequest({ ...req, headers: { ...headers, authorization: 'AWS nocolon' } }, lookup, at),
      'InvalidArgument',
    );
    rejects(
      () =>
        verifyRequest(
          { ...req, headers: { ...headers, authorization: `AWS NOBODY:${sign(toSign)}` } },
          lookup,
          at,
        ),
      'InvalidAccessKeyId',
    );
    const wrong = createHmac('sha1', 'other').update(toSign).digest('base64');
    const e = rejects(
      () =>
        verifyRequest(
          { ...req, headers: { ...headers, authorization: `AWS ${AWS_KEY}:${wrong}` } },
          lookup,
          at,
        ),
      'SignatureDoesNotMatch',
    );
    assert.equal(e.details.StringToSign, toSign);
    // Trailing bytes after a valid base64 signature are not ignored.
    rejects(
      () =>
        verifyRequest(
          { ...req, headers: { ...headers, authorization: `${headers.authorization}x` } },
          lookup,
          at,
        ),
      'SignatureDoesNotMatch',
    );
  });

  test('presigned: Expires is the date line; expired and incomplete URLs are refused', () => {
    const expires = String(at / 1000 + 60);
    const sig = sign(`GET\n\n\n${expires}\n/b/k`);
    const target = `/b/k?AWSAccessKeyId=${AWS_KEY}&Expires=${expires}&Signature=${encodeURIComponent(sig)}`;
    const v = verifyRequest({ method: 'GET', rawTarget: target, headers: { host: 'h' } }, lookup, at);
    assert.equal(v.accessKeyId, AWS_KEY);
    const expired = rejects(
      () => verifyRequest({ method: 'GET', rawTarget: target, headers: { host: 'h' } }, lookup, at + 61_000),
      'AccessDenied',
    );
    assert.match(expired.message, /expired/);
    rejects(
      () => verifyRequest({ method: 'PUT', rawTarget: target, headers: { host: 'h' } }, lookup, at),
      'SignatureDoesNotMatch',
    );
    rejects(
      () =>
        verifyRequest(
          { method: 'GET', rawTarget: target.replace(/&Expires=\d+/, ''), headers: { host: 'h' } },
          lookup,
          at,
        ),
      'AccessDenied',
    );
    rejects(
      () =>
        verifyRequest(
          { method: 'GET', rawTarget: target.replace(/Expires=\d+/, 'Expires=61'), headers: { host: 'h' } },
          lookup,
          at,
        ),
      'AccessDenied',
    );
    // Both mechanisms at once is ambiguous.
    rejects(
      () =>
        verifyRequest(
          {
            method: 'GET',
            rawTarget: target,
            headers: { host: 'h', authorization: docGet.headers.authorization as string },
          },
          lookup,
          at,
        ),
      'InvalidArgument',
    );
  });

  test('--no-sigv2: both forms are refused with InvalidRequest', () => {
    rejects(
      () => verifyRequest(docGet, lookup, GET_TIME, { ...vhost('johnsmith'), sigV2: false }),
      'InvalidRequest',
    );
    rejects(
      () =>
        verifyRequest(
          { method: 'GET', rawTarget: '/b/k?AWSAccessKeyId=A&Expires=1&Signature=x', headers: { host: 'h' } },
          lookup,
          GET_TIME,
          { sigV2: false },
        ),
      'InvalidRequest',
    );
  });
});
