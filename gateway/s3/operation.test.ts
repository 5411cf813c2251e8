import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isS3Error } from '../errors.ts';
import { parseCopySource } from './copy-source.ts';
import { type Headers, type Operation, parseOperation, parseTarget } from './operation.ts';

const opts = { baseDomains: ['s3.amazonaws.com', 's3.us-west-2.amazonaws.com', 'quire.local'] };

function parse(line: string, host = 's3.amazonaws.com', headers: Headers = {}): Operation {
  const [method, target] = line.split(' ') as [string, string];
  return parseOperation(method, parseTarget(target, host, opts), headers);
}

function s3Code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isS3Error(err)) return err.code;
    throw err;
  }
  return 'no error';
}

const VH = 'amzn-s3-demo-bucket.s3.amazonaws.com';
const UPLOAD = 'VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA';

describe('parseOperation: request lines from the AWS API reference examples', () => {
  const b = { bucket: 'amzn-s3-demo-bucket' };
  const cases: Array<[string, string, Operation, Headers?]> = [
    ['GET /', 's3.amazonaws.com', { op: 'ListBuckets' }],
    ['PUT /', 'amzn-s3-demo-bucket.s3.us-west-2.amazonaws.com', { op: 'CreateBucket', ...b }],
    ['HEAD /', VH, { op: 'HeadBucket', ...b }],
    ['DELETE /', VH, { op: 'DeleteBucket', ...b }],
    ['GET /?location', VH, { op: 'GetBucketLocation', ...b }],
    ['GET /?versioning', VH, { op: 'GetBucketVersioning', ...b }],
    ['GET /?list-type=2&max-keys=3&prefix=E&start-after=ExampleGuide.pdf', VH, { op: 'ListObjectsV2', ...b }],
    ['GET /?prefix=N&marker=Ned&max-keys=40', VH, { op: 'ListObjects', ...b }],
    ['GET /?uploads&max-uploads=3', VH, { op: 'ListMultipartUploads', ...b }],
    ['POST /?delete', VH, { op: 'DeleteObjects', ...b }],
    ['PUT /my-image.jpg', VH, { op: 'PutObject', ...b, key: 'my-image.jpg' }],
    [
      'PUT /my-second-image.jpg',
      VH,
      { op: 'CopyObject', ...b, key: 'my-second-image.jpg' },
      { 'x-amz-copy-source': '/amzn-s3-demo-bucket/my-image.jpg' },
    ],
    ['GET /my-image.jpg', VH, { op: 'GetObject', ...b, key: 'my-image.jpg' }],
    ['GET /myObject?versionId=3/L4kqtJlcpXroDTDmpUMLUo', VH, { op: 'GetObject', ...b, key: 'myObject' }],
    ['HEAD /my-image.jpg', VH, { op: 'HeadObject', ...b, key: 'my-image.jpg' }],
    ['DELETE /my-second-image.jpg', VH, { op: 'DeleteObject', ...b, key: 'my-second-image.jpg' }],
    ['POST /example-object?uploads', VH, { op: 'CreateMultipartUpload', ...b, key: 'example-object' }],
    [
      `PUT /my-movie.m2ts?partNumber=1&uploadId=${UPLOAD}`,
      VH,
      { op: 'UploadPart', ...b, key: 'my-movie.m2ts', uploadId: UPLOAD, partNumber: 1 },
    ],
    [
      `PUT /newobject?partNumber=2&uploadId=${UPLOAD}`,
      VH,
      { op: 'UploadPartCopy', ...b, key: 'newobject', uploadId: UPLOAD, partNumber: 2 },
      { 'x-amz-copy-source': '/source-bucket/sourceobject' },
    ],
    [
      `POST /example-object?uploadId=${UPLOAD}`,
      VH,
      { op: 'CompleteMultipartUpload', ...b, key: 'example-object', uploadId: UPLOAD },
    ],
    [
      `DELETE /example-object?uploadId=${UPLOAD}`,
      VH,
      { op: 'AbortMultipartUpload', ...b, key: 'example-object', uploadId: UPLOAD },
    ],
    [
      `GET /example-object?uploadId=${UPLOAD}&max-parts=2&part-number-marker=1`,
      VH,
      { op: 'ListParts', ...b, key: 'example-object', uploadId: UPLOAD },
    ],
    ['GET /?acl', VH, { op: 'GetBucketAcl', bucket: 'amzn-s3-demo-bucket' }],
    ['PUT /?policy', VH, { op: 'PutBucketPolicy', bucket: 'amzn-s3-demo-bucket' }],
    ['GET /?policyStatus', VH, { op: 'GetBucketPolicyStatus', bucket: 'amzn-s3-demo-bucket' }],
    ['DELETE /?publicAccessBlock', VH, { op: 'DeletePublicAccessBlock', bucket: 'amzn-s3-demo-bucket' }],
    ['PUT /?ownershipControls', VH, { op: 'PutBucketOwnershipControls', bucket: 'amzn-s3-demo-bucket' }],
    ['DELETE /?cors', VH, { op: 'DeleteBucketCors', ...b }],
    ['PUT /?cors', VH, { op: 'PutBucketCors', ...b }],
    ['GET /?cors', VH, { op: 'GetBucketCors', ...b }],
    ['GET /?website', VH, { op: 'GetBucketWebsite', ...b }],
    ['PUT /?website', VH, { op: 'PutBucketWebsite', ...b }],
    ['DELETE /?website', VH, { op: 'DeleteBucketWebsite', ...b }],
    ['OPTIONS /', VH, { op: 'OptionsObject', ...b }],
    ['OPTIONS /example-object', VH, { op: 'OptionsObject', ...b, key: 'example-object' }],
    ['GET /?lifecycle', VH, { op: 'GetBucketLifecycleConfiguration', ...b }],
    ['PUT /?lifecycle', VH, { op: 'PutBucketLifecycleConfiguration', ...b }],
    ['DELETE /?lifecycle', VH, { op: 'DeleteBucketLifecycleConfiguration', ...b }],
    ['GET /?tagging', VH, { op: 'GetBucketTagging', ...b }],
    ['PUT /?tagging', VH, { op: 'PutBucketTagging', ...b }],
    ['DELETE /?tagging', VH, { op: 'DeleteBucketTagging', ...b }],
    ['PUT /example-object?tagging', VH, { op: 'PutObjectTagging', ...b, key: 'example-object' }],
    ['DELETE /example-object?tagging', VH, { op: 'DeleteObjectTagging', ...b, key: 'example-object' }],
    ['GET /example-object?attributes', VH, { op: 'GetObjectAttributes', ...b, key: 'example-object' }],
    ['GET /example-object?tagging', VH, { op: 'GetObjectTagging', ...b, key: 'example-object' }],
    ['PUT /?versioning', VH, { op: 'PutBucketVersioning', ...b }],
    ['GET /?versions', VH, { op: 'ListObjectVersions', ...b }],
    ['GET /?versions&prefix=a&key-marker=b', VH, { op: 'ListObjectVersions', ...b }],
    [
      'PUT /example-object?acl',
      VH,
      { op: 'PutObjectAcl', bucket: 'amzn-s3-demo-bucket', key: 'example-object' },
    ],
    [
      'GET /example-object?acl',
      VH,
      { op: 'GetObjectAcl', bucket: 'amzn-s3-demo-bucket', key: 'example-object' },
    ],
    ['POST /example-object?restore', VH, { op: 'NotImplemented', name: 'RestoreObject' }],
    ['POST /', VH, { op: 'PostObject', ...b }],
  ];
  for (const [line, host, expected, headers] of cases) {
    test(`${line} (Host: ${host})`, () => assert.deepEqual(parse(line, host, headers), expected));
  }

  test('the same lines path-style', () => {
    assert.deepEqual(parse('GET /amzn-s3-demo-bucket?location'), { op: 'GetBucketLocation', ...b });
    assert.deepEqual(parse('GET /amzn-s3-demo-bucket/?list-type=2'), { op: 'ListObjectsV2', ...b });
    assert.deepEqual(parse(`POST /amzn-s3-demo-bucket/photos/2006/x.jpg?uploadId=${UPLOAD}`), {
      op: 'CompleteMultipartUpload',
      ...b,
      key: 'photos/2006/x.jpg',
      uploadId: UPLOAD,
    });
  });
});

describe('parseTarget', () => {
  test('keys come from the raw target, never resolved or normalised', () => {
    const t = (target: string) => parseTarget(target, 'localhost:9000', opts);
    assert.equal(t('/b/a/../c').key, 'a/../c');
    assert.equal(t('/b/%2e%2e/%2E%2E').key, '../..');
    assert.equal(t('/b/a+b').key, 'a+b');
    assert.equal(t('/b/a%20b%2Bc').key, 'a b+c');
    assert.equal(t('/b//').key, '/');
    assert.equal(t('/b///x//').key, '//x//');
    assert.equal(t('/b/%00%01').key, '\x00\x01');
    assert.equal(t('/b/%F0%9F%98%80').key, '😀');
    assert.equal(t('/b/a%3Fb?x=1').key, 'a?b');
    assert.equal(t('/b/').key, undefined);
    assert.equal(t('/b').bucket, 'b');
  });

  test('invalid UTF-8 and broken escapes are InvalidURI', () => {
    const t = (target: string) => () => parseTarget(target, 'localhost', opts);
    assert.equal(s3Code(t('/b/%FF')), 'InvalidURI');
    assert.equal(s3Code(t('/b/%C0%AF')), 'InvalidURI'); // overlong '/'
    assert.equal(s3Code(t('/b/%ED%A0%80')), 'InvalidURI'); // a surrogate half
    assert.equal(s3Code(t('/b/%4')), 'InvalidURI');
    assert.equal(s3Code(t('/b/%zz')), 'InvalidURI');
    assert.equal(s3Code(t('/b/x?prefix=%FF')), 'InvalidURI');
    assert.equal(s3Code(t('*')), 'InvalidURI');
  });

  test('query: + is a space, first occurrence wins, bare names map to empty', () => {
    const q = parseTarget('/b?prefix=a+b%2Bc&uploads&prefix=zzz&&delimiter=%2F', undefined, opts).query;
    assert.equal(q.get('prefix'), 'a b+c');
    assert.equal(q.get('uploads'), '');
    assert.equal(q.get('delimiter'), '/');
  });

  test('virtual-hosted style: port ignored, case-insensitive, bucket may contain dots', () => {
    const t = parseTarget('/k', 'My.Bucket.quire.local:9000', opts);
    assert.equal(t.bucket, 'my.bucket');
    assert.equal(t.key, 'k');
    assert.equal(parseTarget('//k', 'b.quire.local', opts).key, '/k');
    assert.equal(parseTarget('/b/k', 'quire.local', opts).bucket, 'b');
    assert.equal(parseTarget('/b/k', '[::1]:9000', opts).bucket, 'b');
    assert.equal(parseTarget('http://b.quire.local/k?x', undefined, opts).key, 'k');
  });

  test('property: any UTF-8 key encoded the way the JS SDK encodes it parses back byte-identical', () => {
    // The SDK encodes each path segment with encodeURIComponent plus !'()* and keeps '/'.
    const sdkEncode = (key: string) =>
      key
        .split('/')
        .map((s) =>
          encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
        )
        .join('/');
    const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).filter(wellFormed), (key) => {
        const path = parseTarget(`/bucket/${sdkEncode(key)}`, undefined, opts);
        assert.equal(path.key, key);
        const vhost = parseTarget(`/${sdkEncode(key)}`, 'bucket.quire.local', opts);
        assert.equal(vhost.key, key);
      }),
      { numRuns: 500 },
    );
  });

  test('property: arbitrary escaped bytes decode exactly or fail with InvalidURI', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), (bytes) => {
        const raw = [...bytes].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
        let key: string | undefined;
        try {
          key = parseTarget(`/b/${raw}`, undefined, opts).key;
        } catch (err) {
          assert.ok(isS3Error(err) && err.code === 'InvalidURI');
          return;
        }
        assert.deepEqual(Buffer.from(key!, 'utf8'), Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseOperation: rejections', () => {
  test('part numbers outside 1..10000 are InvalidArgument', () => {
    for (const n of ['0', '10001', '-1', '1.5', 'x', '']) {
      assert.equal(
        s3Code(() => parse(`PUT /b/k?partNumber=${n}&uploadId=u`)),
        'InvalidArgument',
        n,
      );
    }
    assert.equal(
      s3Code(() => parse('PUT /b/k?partNumber=1')),
      'InvalidRequest',
    );
    assert.deepEqual(parse('PUT /b/k?partNumber=10000&uploadId=u'), {
      op: 'UploadPart',
      bucket: 'b',
      key: 'k',
      uploadId: 'u',
      partNumber: 10000,
    });
  });

  test('keys over 1024 bytes are KeyTooLongError; exactly 1024 is fine', () => {
    assert.equal(
      s3Code(() => parse(`PUT /b/${'a'.repeat(1025)}`)),
      'KeyTooLongError',
    );
    assert.equal(
      s3Code(() => parse(`PUT /b/${'%C3%A9'.repeat(513)}`)),
      'KeyTooLongError',
    );
    assert.equal(parse(`PUT /b/${'a'.repeat(1024)}`).op, 'PutObject');
  });

  test('methods S3 does not know are MethodNotAllowed', () => {
    assert.equal(
      s3Code(() => parse('DELETE /')),
      'MethodNotAllowed',
    );
    assert.equal(
      s3Code(() => parse('PATCH /b/k')),
      'MethodNotAllowed',
    );
    assert.equal(
      s3Code(() => parse('POST /b/k')),
      'MethodNotAllowed',
    );
    assert.equal(
      s3Code(() => parse('GET /b?list-type=3')),
      'InvalidArgument',
    );
  });
});

describe('parseCopySource', () => {
  test('with and without a leading slash, encoded keys and versionId', () => {
    assert.deepEqual(parseCopySource('/src/a%20b/c%3Fd'), { bucket: 'src', key: 'a b/c?d' });
    assert.deepEqual(parseCopySource('src/k?versionId=v1'), { bucket: 'src', key: 'k', versionId: 'v1' });
    assert.deepEqual(parseCopySource('src/a+b'), { bucket: 'src', key: 'a+b' });
  });
  test('malformed sources are InvalidArgument', () => {
    for (const h of ['src', '/src/', '/k', 'src/%FF', 'src/k?x=1']) {
      assert.equal(
        s3Code(() => parseCopySource(h)),
        'InvalidArgument',
        h,
      );
    }
  });
});
