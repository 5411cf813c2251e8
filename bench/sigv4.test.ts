// The benchmark's signer must produce exactly what the AWS SDK's own SigV4 signer produces,
// or a server that verifies signatures would reject every request it sends.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalQuery, EMPTY_SHA256, encodeKeyPath, SigV4Signer, UNSIGNED_PAYLOAD } from './sigv4.ts';

// The SDK signer takes a hash constructor; this one is node:crypto underneath.
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (d: SourceData): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : ArrayBuffer.isView(d)
      ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
      : new Uint8Array(d);

class NodeSha256 {
  readonly #hash;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

const creds = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench/secret+key' };

async function sdkAuthorization(
  method: string,
  path: string,
  query: Record<string, string>,
  payloadHash: string,
  at: Date,
): Promise<string> {
  const sdk = new SignatureV4({
    credentials: creds,
    region: 'us-east-1',
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const signed = await sdk.sign(
    {
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path,
      query,
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': payloadHash },
    },
    { signingDate: at },
  );
  return String(signed.headers.authorization);
}

describe('SigV4Signer', () => {
  const signer = new SigV4Signer({ accessKey: creds.accessKeyId, secretKey: creds.secretAccessKey });
  const cases: Array<[string, string, string | undefined, Record<string, string>, string]> = [
    ['PUT', 'bench', 'small/00ab12cd', {}, UNSIGNED_PAYLOAD],
    ['GET', 'bench', 'dir/with space/é+ü*(x)', {}, EMPTY_SHA256],
    ['PUT', 'bench', undefined, {}, EMPTY_SHA256],
    [
      'GET',
      'bench',
      undefined,
      { 'list-type': '2', 'max-keys': '1000', 'start-after': 'fill/0a 1' },
      EMPTY_SHA256,
    ],
    ['GET', 'bench', undefined, { 'continuation-token': 'abc/+=', 'list-type': '2' }, EMPTY_SHA256],
  ];
  for (const [method, bucket, key, query, payloadHash] of cases) {
    test(`${method} ${bucket}/${key ?? ''} ${JSON.stringify(query)} matches the SDK`, async () => {
      const at = new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 500));
      const path = encodeKeyPath(bucket, key);
      const ours = signer.sign(
        {
          method,
          canonicalUri: path,
          canonicalQuery: canonicalQuery(query),
          host: '127.0.0.1:9000',
          payloadHash,
        },
        at.getTime(),
      );
      assert.equal(ours.amzDate, '20240506T070809Z');
      assert.equal(ours.authorization, await sdkAuthorization(method, path, query, payloadHash, at));
    });
  }

  test('a new day derives a new signing key and scope', () => {
    const day1 = signer.sign(
      { method: 'GET', canonicalUri: '/b/k', canonicalQuery: '', host: 'h', payloadHash: EMPTY_SHA256 },
      Date.UTC(2024, 0, 1, 23, 59, 59),
    );
    const day2 = signer.sign(
      { method: 'GET', canonicalUri: '/b/k', canonicalQuery: '', host: 'h', payloadHash: EMPTY_SHA256 },
      Date.UTC(2024, 0, 2, 0, 0, 0),
    );
    assert.match(day1.authorization, /\/20240101\/us-east-1\/s3\/aws4_request/);
    assert.match(day2.authorization, /\/20240102\/us-east-1\/s3\/aws4_request/);
  });
});
