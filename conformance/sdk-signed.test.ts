// A request does only what its signer signed: unsigned x-amz-* headers are refused (presigned URLs and header
// auth alike), and the query the signature covers is the query the server acts on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  encodeQuery,
  errorCode,
  keyPath,
  presignRaw,
  sendRaw,
  signedRaw,
  signerFor,
  signRaw,
} from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const NOT_SIGNED = 'There were headers present in the request which were not signed';

describe('only what was signed', { timeout: 60_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  let other: string;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('signed');
    other = uniqueBucket('signed-other');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new CreateBucketCommand({ Bucket: other }));
    await s3.send(new PutObjectCommand({ Bucket: other, Key: 'secret', Body: 'the other bucket’s secret' }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  async function expectNotSigned(res: Response, names: string): Promise<void> {
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assert.equal(errorCode(Buffer.from(text)), 'AccessDenied', text);
    assert.ok(text.includes(`<Message>${NOT_SIGNED}</Message>`), text);
    assert.ok(text.includes(`<HeadersNotSigned>${names}</HeadersNotSigned>`), text);
  }

  test('presigned PUT + unsigned x-amz-copy-source → 403, nothing copied', async () => {
    const url = await presignRaw(target, 'PUT', keyPath(bucket, 'copied'), 300);
    const res = await fetch(`${target.endpoint}${url}`, {
      method: 'PUT',
      headers: { 'x-amz-copy-source': `/${other}/secret` },
      body: '',
    });
    await expectNotSigned(res, 'x-amz-copy-source');
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' })), {
      code: 'NotFound',
      status: 404,
    });
  });

  test('presigned PUT + unsigned x-amz-meta-* → 403, nothing stored; the same URL alone works', async () => {
    const url = await presignRaw(target, 'PUT', keyPath(bucket, 'meta'), 300);
    const res = await fetch(`${target.endpoint}${url}`, {
      method: 'PUT',
      headers: { 'x-amz-meta-owner': 'mallory' },
      body: 'planted',
    });
    await expectNotSigned(res, 'x-amz-meta-owner');
    const plain = await fetch(`${target.endpoint}${url}`, { method: 'PUT', body: 'honest' });
    assert.equal(plain.status, 200, await plain.text());
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'meta' }));
    assert.equal((await readBody(got.Body)).toString(), 'honest');
    assert.deepEqual(got.Metadata, {});
  });

  test('header auth + an x-amz-meta-* added after signing → 403 naming it', async () => {
    const body = Buffer.from('signed body');
    const signed = await signRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'hdr'),
      headers: { 'x-amz-meta-signed': 'yes' },
      body,
    });
    const res = await sendRaw(target, {
      ...signed,
      headers: { ...signed.headers, 'x-amz-meta-added': 'no' },
    });
    assert.equal(res.status, 403, res.body.toString());
    assert.equal(errorCode(res.body), 'AccessDenied');
    assert.ok(res.body.toString().includes('<HeadersNotSigned>x-amz-meta-added</HeadersNotSigned>'));
    const ok = await sendRaw(target, signed);
    assert.equal(ok.status, 200, ok.body.toString());
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hdr' }));
    assert.deepEqual(head.Metadata, { signed: 'yes' });
  });

  test('presigned ListObjectsV2 for prefix a+b/ rewritten to prefix=a+b%2F → 403, never a listing of "a b/"', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a+b/plus', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a b/space', Body: '2' }));
    const url = await presignRaw(target, 'GET', `/${bucket}`, 300, new Date(), {
      'list-type': '2',
      prefix: 'a+b/',
    });
    assert.match(url, /prefix=a%2Bb%2F/);
    const listed = await fetch(`${target.endpoint}${url}`);
    const xml = await listed.text();
    assert.equal(listed.status, 200, xml);
    assert.ok(xml.includes('<Key>a+b/plus</Key>') && !xml.includes('a b/space'), xml);
    const rewritten = await fetch(`${target.endpoint}${url.replace('prefix=a%2Bb%2F', 'prefix=a+b%2F')}`);
    const text = await rewritten.text();
    assert.equal(rewritten.status, 403, text);
    assert.equal(errorCode(Buffer.from(text)), 'SignatureDoesNotMatch', text);
  });

  test('headers a presigner hoisted into the signed query act as headers (metadata stored, checksum checked)', async () => {
    const presign = async (key: string, hoist: Record<string, string>) => {
      const path = keyPath(bucket, key);
      const signed = await signerFor(target).presign(
        {
          method: 'PUT',
          protocol: 'http:',
          hostname: target.host,
          port: target.port,
          path,
          query: {},
          headers: {
            host: `${target.host}:${target.port}`,
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
            ...hoist,
          },
        },
        {
          expiresIn: 300,
          unsignableHeaders: new Set(['x-amz-content-sha256']),
          unhoistableHeaders: new Set(['x-amz-content-sha256']),
        },
      );
      const query = signed.query as Record<string, string>;
      for (const name of Object.keys(hoist)) assert.ok(name in query, `${name} was not hoisted`);
      return `${path}?${encodeQuery(query)}`;
    };
    const url = await presign('hoisted', { 'x-amz-meta-color': 'blue', 'x-amz-meta-word': 'Grüße 報告' });
    const put = await fetch(`${target.endpoint}${url}`, { method: 'PUT', body: 'with metadata' });
    assert.equal(put.status, 200, await put.text());
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hoisted' }));
    assert.equal(head.Metadata?.color, 'blue');
    const raw = await signedRaw(target, { method: 'HEAD', path: keyPath(bucket, 'hoisted') });
    assert.deepEqual(
      Buffer.from(String(raw.headers['x-amz-meta-word']), 'latin1'),
      Buffer.from('Grüße 報告', 'utf8'),
    );
    // A hoisted checksum is checked like the header: a wrong one stores nothing.
    const bad = await presign('hoisted-bad', { 'x-amz-checksum-crc32': 'AAAAAA==' });
    const refused = await fetch(`${target.endpoint}${bad}`, { method: 'PUT', body: 'not empty' });
    assert.equal(refused.status, 400, await refused.text());
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hoisted-bad' })), {
      code: 'NotFound',
      status: 404,
    });
    // The same name as a header too: which one was signed for? Refused.
    const both = await presign('hoisted-both', { 'x-amz-meta-color': 'blue' });
    const twice = await fetch(`${target.endpoint}${both}`, {
      method: 'PUT',
      headers: { 'x-amz-meta-color': 'red' },
      body: 'x',
    });
    assert.equal(twice.status, 400);
  });
});
