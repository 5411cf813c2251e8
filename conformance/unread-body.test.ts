// A body announced on an operation that takes none (Expect: 100-continue, a Content-Length or chunked
// Transfer-Encoding, and the body never sent) is answered, the connection is closed or stays usable, and the
// server keeps serving and stops cleanly on SIGTERM. Today's failure: one such signed request made the
// server answer 200 and die (ERR_HTTP_HEADERS_SENT as an unhandled rejection), or hang until kill -9.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorCode, keyPath, signRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { requestHead, WireConnection } from './wire.ts';

const TIMEOUT = { timeout: 60_000 };

/** How the body is announced and then not sent. */
const ANNOUNCE: Record<string, Record<string, string>> = {
  'Expect: 100-continue': { expect: '100-continue', 'content-length': '1000' },
  'Content-Length, body never sent': { 'content-length': '1000' },
  'Content-Length of 20 MiB, body never sent': { 'content-length': String(20 * 1024 * 1024) },
  'Transfer-Encoding: chunked, body never sent': { 'transfer-encoding': 'chunked' },
};

describe('a body announced on an operation that takes none', () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('unread');
  let uploadId = '';

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hello' }));
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    uploadId = up.UploadId ?? '';
  }, TIMEOUT);

  after(async () => {
    s3?.destroy();
    await target?.close();
  }, TIMEOUT);

  const operations = (): Array<{
    name: string;
    method: string;
    path: string;
    query: Record<string, string>;
    status: number;
  }> => [
    { name: 'GetObject', method: 'GET', path: keyPath(bucket, 'k'), query: {}, status: 200 },
    { name: 'GetObject (missing)', method: 'GET', path: keyPath(bucket, 'nope'), query: {}, status: 404 },
    { name: 'HeadObject', method: 'HEAD', path: keyPath(bucket, 'k'), query: {}, status: 200 },
    { name: 'DeleteObject', method: 'DELETE', path: keyPath(bucket, 'gone'), query: {}, status: 204 },
    { name: 'ListObjectsV2', method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' }, status: 200 },
    { name: 'ListBuckets', method: 'GET', path: '/', query: {}, status: 200 },
    { name: 'HeadBucket', method: 'HEAD', path: `/${bucket}`, query: {}, status: 200 },
    {
      name: 'CreateMultipartUpload',
      method: 'POST',
      path: keyPath(bucket, 'mp2'),
      query: { uploads: '' },
      status: 200,
    },
    { name: 'ListMultipartUploads', method: 'GET', path: `/${bucket}`, query: { uploads: '' }, status: 200 },
    { name: 'ListParts', method: 'GET', path: keyPath(bucket, 'mp'), query: { uploadId }, status: 200 },
  ];

  for (const [announce, extra] of Object.entries(ANNOUNCE)) {
    test(
      `${announce}: every body-less operation is answered, the connection closed, the server serves on`,
      TIMEOUT,
      async () => {
        // All at once: each waits out the server's grace time for a body that never comes.
        await Promise.all(
          operations().map(async (op) => {
            const signed = await signRaw(target, {
              method: op.method,
              path: op.path,
              query: op.query,
              headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
            });
            const conn = await WireConnection.open(target);
            try {
              await conn.write(requestHead(signed, extra));
              const res = await conn.readResponse({ head: op.method === 'HEAD', timeoutMs: 10_000 });
              assert.equal(res.status, op.status, `${op.name}: ${res.body.toString()}`);
              assert.ok(res.headers['x-amz-request-id'], `${op.name}: no request id`);
              // The body never comes: the server must not keep the connection (and with it a request) open.
              assert.equal(await conn.closesWithin(10_000), true, `${op.name}: connection left open`);
            } finally {
              conn.destroy();
            }
          }),
        );
        const health = await fetch(`${target.endpoint}/health`);
        assert.equal(health.status, 200, 'server not healthy afterwards');
        await health.arrayBuffer();
      },
    );
  }

  test(
    'a body that does arrive on a GET is read and ignored; the connection stays usable',
    TIMEOUT,
    async () => {
      const conn = await WireConnection.open(target);
      try {
        for (let i = 0; i < 3; i++) {
          const signed = await signRaw(target, {
            method: 'GET',
            path: keyPath(bucket, 'k'),
            headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
          });
          await conn.write(requestHead(signed, { 'content-length': '5' }));
          await conn.write('abcde');
          const res = await conn.readResponse({ timeoutMs: 10_000 });
          assert.equal(res.status, 200, errorCode(res.body));
          assert.equal(res.body.toString(), 'hello');
        }
        assert.equal(conn.isClosed, false);
      } finally {
        conn.destroy();
      }
    },
  );

  test('the server stops cleanly (exit 0) after all of that', TIMEOUT, async () => {
    assert.equal(await target.stop(), 0);
    await target.start();
  });
});
