// UTF-8 in headers, byte for byte: response-* overrides and headers stored at PUT time come back as the exact
// UTF-8 bytes sent; an override that cannot be a header value (CR, LF, controls) is 400 InvalidArgument.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorCode, fullPath, keyPath, type SignedRequest, signedRaw, signRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

/** A header value as Node sends and receives it: one latin1 char per byte. */
const wire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
const bytesOf = (value: string | string[] | undefined) => Buffer.from(String(value), 'latin1');

describe('UTF-8 header values, byte for byte', { timeout: 60_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('overrides');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'report body' }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('response-content-disposition with filename="報告.txt" comes back as its UTF-8 bytes (GET and HEAD)', async () => {
    const disposition = 'attachment; filename="報告.txt"';
    for (const method of ['GET', 'HEAD']) {
      const res = await signedRaw(target, {
        method,
        path: keyPath(bucket, 'doc'),
        query: {
          'response-content-disposition': disposition,
          'response-content-type': 'text/plain; charset=utf-8',
          'response-cache-control': 'max-age=60, élan',
        },
      });
      assert.equal(res.status, 200, res.body.toString());
      assert.deepEqual(bytesOf(res.headers['content-disposition']), Buffer.from(disposition, 'utf8'), method);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
      assert.deepEqual(bytesOf(res.headers['cache-control']), Buffer.from('max-age=60, élan', 'utf8'));
    }
  });

  test('an override with CR/LF or another control character → 400 InvalidArgument, never 500', async () => {
    for (const value of ['inline\r\nSet-Cookie: a=1', 'a\nb', 'a\rb', 'nul\u0000', 'bell\u0007']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await signedRaw(target, {
          method,
          path: keyPath(bucket, 'doc'),
          query: { 'response-content-disposition': value },
        });
        assert.equal(res.status, 400, `${method} ${JSON.stringify(value)}: ${res.body.toString()}`);
        assert.equal(res.headers['set-cookie'], undefined);
        if (method === 'GET') assert.equal(errorCode(res.body), 'InvalidArgument');
      }
    }
  });

  test('UTF-8 x-amz-meta-* and Content-Disposition stored at PUT come back byte for byte', async () => {
    const disposition = 'attachment; filename="報告 ü.txt"';
    const title = 'Résumé — 日本語 🙂';
    // Over a raw socket: Node's own HTTP client re-encodes a Content-Disposition (nodejs/node#46528).
    const put = await sendOverSocket(
      await signRaw(target, {
        method: 'PUT',
        path: keyPath(bucket, 'meta'),
        headers: {
          'x-amz-meta-title': wire(title),
          'content-disposition': wire(disposition),
          'content-type': 'text/plain',
          'content-length': '1',
        },
        body: Buffer.from('x'),
      }),
    );
    assert.match(put, /^HTTP\/1\.1 200 /, put);
    for (const method of ['GET', 'HEAD']) {
      const got = await signedRaw(target, { method, path: keyPath(bucket, 'meta') });
      assert.equal(got.status, 200);
      assert.deepEqual(bytesOf(got.headers['x-amz-meta-title']), Buffer.from(title, 'utf8'));
      assert.deepEqual(bytesOf(got.headers['content-disposition']), Buffer.from(disposition, 'utf8'));
    }
  });

  /** Writes the signed request byte for byte (headers as latin1) and returns the answer as latin1 text. */
  function sendOverSocket(req: SignedRequest): Promise<string> {
    const head = [
      `${req.method} ${fullPath(req)} HTTP/1.1`,
      ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`),
      'connection: close',
    ];
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sock = connect(target.port, target.host, () => {
        sock.write(Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'));
        sock.write(req.body ?? Buffer.alloc(0));
      });
      sock.setTimeout(15_000, () => sock.destroy(new Error('no answer')));
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
  }
});
