// @aws-sdk/client-s3 over a real socket against a tiny server that authenticates with verifyRequest and
// reads bodies with decodeBody: what the SDK really sends (header checksums for buffers, aws-chunked with
// an unsigned trailer for streams, awkward keys) must verify end to end.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { type ChecksumAlgorithm, parseChecksumAlgorithm } from '../checksums/index.ts';
import { isS3Error } from '../errors.ts';
import { decodeBody } from './body.ts';
import { parseAmzDate } from './parse.ts';
import { verifyRequest } from './verify.ts';

const creds = { accessKeyId: 'SDKKEY', secretAccessKey: 'sdk/secret' };
const stored = new Map<string, Buffer>();

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const rawTarget = req.url ?? '/';
    // The SDK signs with the wall clock; take "now" from the request so the test needs no clock of its own.
    const now = parseAmzDate(String(req.headers['x-amz-date']));
    const verified = verifyRequest(
      { method: req.method ?? 'GET', rawTarget, headers: req.headers },
      (id) => (id === creds.accessKeyId ? creds : undefined),
      now,
    );
    const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      const algo = name.startsWith('x-amz-checksum-') ? parseChecksumAlgorithm(name.slice(15)) : undefined;
      if (algo && typeof value === 'string') checksums[algo] = value;
    }
    const named = req.headers['x-amz-sdk-checksum-algorithm'];
    const algo = typeof named === 'string' ? parseChecksumAlgorithm(named) : undefined;
    const length = req.headers['content-length'];
    const body = decodeBody(req, verified, {
      contentLength: length === undefined ? undefined : Number(length),
      expected: { checksums },
      ...(algo ? { checksumAlgorithm: algo } : {}),
    });
    const parts: Buffer[] = [];
    for await (const b of body) parts.push(b);
    const digests = await body.digests;
    stored.set(rawTarget.split('?')[0] as string, Buffer.concat(parts));
    res.writeHead(200, { ETag: `"${digests.md5Hex}"` }).end();
  } catch (err) {
    const code = isS3Error(err) ? err.code : 'InternalError';
    const status = isS3Error(err) ? err.status : 500;
    res.writeHead(status, { 'content-type': 'application/xml', connection: 'close' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>x</Message></Error>`);
  }
}

describe('@aws-sdk/client-s3 against verifyRequest + decodeBody', () => {
  const server = createServer((req, res) => void handle(req, res));
  let endpoint = '';
  const client = (secretAccessKey = creds.secretAccessKey) =>
    new S3Client({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { ...creds, secretAccessKey },
    });

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const key of ['plain', 'a b+c%d/é//../x!(*)~', '%2e%2e/./日本', 'emoji😀 ']) {
    test(`buffer body (x-amz-checksum-crc32 header), key ${JSON.stringify(key)}`, async () => {
      const out = await client().send(
        new PutObjectCommand({ Bucket: 'b', Key: key, Body: Buffer.from(`data of ${key}`) }),
      );
      assert.ok(out.ETag);
      const stored1 = [...stored.values()].at(-1);
      assert.equal(stored1?.toString(), `data of ${key}`);
    });
  }

  test('stream body (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer)', async () => {
    const data = Buffer.alloc(300_000, 'z');
    const Body = Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]);
    await client().send(
      new PutObjectCommand({ Bucket: 'b', Key: 'streamed', Body, ContentLength: data.length }),
    );
    assert.ok(stored.get('/b/streamed')?.equals(data));
  });

  test('SHA256 checksum algorithm requested by the client', async () => {
    await client().send(
      new PutObjectCommand({ Bucket: 'b', Key: 'sha', Body: Buffer.from('x'), ChecksumAlgorithm: 'SHA256' }),
    );
    assert.equal(stored.get('/b/sha')?.toString(), 'x');
  });

  test('a wrong secret → SignatureDoesNotMatch', async () => {
    await assert.rejects(
      client('wrong').send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Buffer.from('x') })),
      (e: unknown) => e instanceof S3ServiceException && e.name === 'SignatureDoesNotMatch',
    );
  });

  test('a checksum that does not match the body → BadDigest', async () => {
    await assert.rejects(
      client().send(
        new PutObjectCommand({ Bucket: 'b', Key: 'k2', Body: Buffer.from('x'), ChecksumCRC32: 'AAAAAA==' }),
      ),
      (e: unknown) => e instanceof S3ServiceException && e.name === 'BadDigest',
    );
    assert.equal(stored.has('/b/k2'), false);
  });
});
