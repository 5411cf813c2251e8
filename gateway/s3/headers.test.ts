import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ObjectRecord } from '../../storage/api.ts';
import { isS3Error, S3Error } from '../errors.ts';
import { httpDate, objectResponseHeaders, responseOverrides, storedHeadersFromRequest } from './headers.ts';

function record(over: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    bucket: 'b',
    key: Buffer.from('k'),
    size: 100,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    lastModifiedMs: Date.parse('2024-05-01T12:00:00.700Z'),
    headers: { userMeta: {} },
    checksums: { CRC32: 'AAAAAA==' },
    checksumType: 'FULL_OBJECT',
    opver: { counter: 1n, nodeId: 1 },
    versionId: 'null',
    ...over,
  };
}

describe('storedHeadersFromRequest', () => {
  test('collects the standard headers and x-amz-meta-* (names lower-cased, values as sent)', () => {
    const stored = storedHeadersFromRequest({
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'max-age=60',
      'content-disposition': 'attachment; filename="a b.txt"',
      'content-encoding': 'gzip',
      'content-language': 'en',
      expires: 'Thu, 01 Dec 2094 16:00:00 GMT',
      'x-amz-meta-Project': 'Quire',
      'x-amz-meta-utf8': 'caf\u00c3\u00a9', // "café" as Node's latin1 view of the UTF-8 bytes
      'x-amz-meta-': 'ignored',
      'x-amz-acl': 'private',
      host: 'h',
    });
    assert.deepEqual(stored, {
      contentType: 'text/plain; charset=utf-8',
      cacheControl: 'max-age=60',
      contentDisposition: 'attachment; filename="a b.txt"',
      contentEncoding: 'gzip',
      contentLanguage: 'en',
      expires: 'Thu, 01 Dec 2094 16:00:00 GMT',
      userMeta: { project: 'Quire', utf8: 'caf\u00c3\u00a9' },
    });
  });
  test('user metadata over 2 KiB is MetadataTooLarge', () => {
    assert.throws(
      () => storedHeadersFromRequest({ 'x-amz-meta-big': 'x'.repeat(2046) }),
      (err: unknown) => isS3Error(err) && err.code === 'MetadataTooLarge',
    );
    assert.ok(storedHeadersFromRequest({ 'x-amz-meta-big': 'x'.repeat(2045) }));
  });
});

describe('objectResponseHeaders', () => {
  test('full object: quoted ETag, HTTP date, default type, metadata, Accept-Ranges', () => {
    const h = objectResponseHeaders(
      record({ headers: { cacheControl: 'no-cache', userMeta: { project: 'Quire' } } }),
    );
    assert.deepEqual(h, {
      'last-modified': 'Wed, 01 May 2024 12:00:00 GMT',
      etag: '"d41d8cd98f00b204e9800998ecf8427e"',
      'accept-ranges': 'bytes',
      'content-type': 'binary/octet-stream',
      'cache-control': 'no-cache',
      'x-amz-meta-project': 'Quire',
      'content-length': '100',
    });
  });
  test('checksums only with checksum mode and only for a full-object answer', () => {
    assert.equal(objectResponseHeaders(record())['x-amz-checksum-crc32'], undefined);
    const full = objectResponseHeaders(record(), { checksumMode: true });
    assert.equal(full['x-amz-checksum-crc32'], 'AAAAAA==');
    assert.equal(full['x-amz-checksum-type'], 'FULL_OBJECT');
    const ranged = objectResponseHeaders(record(), {
      checksumMode: true,
      range: { start: 0, end: 9, partial: true },
    });
    assert.equal(ranged['x-amz-checksum-crc32'], undefined);
    assert.equal(ranged['content-range'], 'bytes 0-9/100');
    assert.equal(ranged['content-length'], '10');
  });
  test('composite checksums carry the part count', () => {
    const mp = record({
      checksumType: 'COMPOSITE',
      parts: [
        { partNumber: 1, size: 60, etag: 'a' },
        { partNumber: 2, size: 40, etag: 'b' },
      ],
    });
    const h = objectResponseHeaders(mp, {
      checksumMode: true,
      range: { start: 0, end: 99, partial: false, partsCount: 2 },
    });
    assert.equal(h['x-amz-checksum-crc32'], 'AAAAAA==-2');
    assert.equal(h['x-amz-mp-parts-count'], '2');
  });
  test('response-* query parameters override the stored values', () => {
    const query = new Map([
      ['response-content-type', 'image/png'],
      ['response-content-disposition', 'inline'],
      ['response-cache-control', 'no-store'],
      ['response-content-language', 'fr'],
      ['response-expires', 'Thu, 01 Dec 1994 16:00:00 GMT'],
      ['response-content-encoding', 'identity'],
      ['prefix', 'ignored'],
    ]);
    const h = objectResponseHeaders(record({ headers: { contentType: 'text/plain', userMeta: {} } }), {
      overrides: responseOverrides(query),
    });
    assert.equal(h['content-type'], 'image/png');
    assert.equal(h['content-disposition'], 'inline');
    assert.equal(h['cache-control'], 'no-store');
    assert.equal(h['content-language'], 'fr');
    assert.equal(h.expires, 'Thu, 01 Dec 1994 16:00:00 GMT');
    assert.equal(h['content-encoding'], 'identity');
  });
});

test('response-* overrides go out as their UTF-8 bytes; a value that cannot be a header is InvalidArgument', () => {
  const [[name, wire]] = responseOverrides(
    new Map([['response-content-disposition', 'attachment; filename="報告.txt"']]),
  ) as [[string, string]];
  assert.equal(name, 'content-disposition');
  assert.deepEqual(Buffer.from(wire, 'latin1'), Buffer.from('attachment; filename="報告.txt"', 'utf8'));
  assert.deepEqual(responseOverrides(new Map([['response-cache-control', 'a\tb']])), [
    ['cache-control', 'a\tb'],
  ]);
  for (const bad of ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'nul\0', 'bell\x07', 'del\x7f']) {
    assert.throws(
      () => responseOverrides(new Map([['response-content-type', bad]])),
      (e: unknown) =>
        e instanceof S3Error &&
        e.code === 'InvalidArgument' &&
        e.status === 400 &&
        e.details.ArgumentName === 'response-content-type',
      JSON.stringify(bad),
    );
  }
});

test('aws-chunked is a transfer framing, never stored as the object Content-Encoding', () => {
  assert.equal(storedHeadersFromRequest({ 'content-encoding': 'aws-chunked' }).contentEncoding, undefined);
  assert.equal(storedHeadersFromRequest({ 'content-encoding': 'aws-chunked,gzip' }).contentEncoding, 'gzip');
  assert.equal(storedHeadersFromRequest({ 'content-encoding': 'gzip' }).contentEncoding, 'gzip');
});

describe('httpDate', () => {
  test('is toUTCString of the time, also when the remembered second is reused', () => {
    for (const ms of [
      0, 999, 1000, 1_700_000_000_123, 1_700_000_000_999, 1_700_000_001_000, 1_700_000_000_500,
    ]) {
      assert.equal(httpDate(ms), new Date(ms).toUTCString());
    }
  });
});
