// Round trips with the AWS SDK's own signer (@smithy/signature-v4, configured as @aws-sdk/client-s3
// configures it: S3 paths are encoded once, by the client, and signed as sent) and verification with ours.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { escapeUri, escapeUriPath } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { S3Error } from '../errors.ts';
import { parseTarget } from '../s3/target.ts';
import { decodeBody } from './body.ts';
import type { RawRequest, VerifiedRequest } from './types.ts';
import { verifyRequest } from './verify.ts';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The hash constructor smithy wants, over node:crypto. */
class Sha256 {
  private readonly h;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {}
}

const credentials = { accessKeyId: 'QUIREKEY1', secretAccessKey: 'quire/secret+key=1' };
const lookup = (id: string) => (id === credentials.accessKeyId ? credentials : undefined);
const signer = new SignatureV4({
  credentials,
  region: 'us-east-1',
  service: 's3',
  sha256: Sha256,
  uriEscapePath: false,
});
const signingDate = new Date(Date.UTC(2025, 0, 15, 12, 0, 0));
const now = signingDate.getTime();
const host = 'localhost:9000';

const AWKWARD_KEYS = [
  'plain.txt',
  'a b',
  'a+b',
  '100%',
  '%2e%2e',
  'é/ü/日本語',
  'emoji 😀',
  '//double//slash',
  'a/../b',
  './a/./b',
  '..',
  "!'()*$&,;=@:",
  'x~y_z-.',
  'tab\tnl\n',
  '\u0000\u0001',
  'q?uestion#hash',
];

function wireQuery(query: Record<string, string>): string {
  // How @aws-sdk/client-s3 writes a query (a value of '' becomes a bare name).
  return Object.keys(query)
    .sort()
    .map((k) => (query[k] === '' ? escapeUri(k) : `${escapeUri(k)}=${escapeUri(query[k] as string)}`))
    .join('&');
}

async function signed(
  method: string,
  key: string,
  query: Record<string, string>,
  payloadHash: string,
): Promise<RawRequest> {
  const path = `/bucket/${escapeUriPath(key)}`;
  const req = await signer.sign(
    {
      method,
      protocol: 'http:',
      hostname: 'localhost',
      port: 9000,
      path,
      query,
      headers: { host, 'x-amz-content-sha256': payloadHash },
    },
    { signingDate },
  );
  const q = wireQuery(query);
  return { method, rawTarget: q ? `${path}?${q}` : path, headers: lowerCase(req.headers) };
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('header auth signed by @smithy/signature-v4', () => {
  for (const key of AWKWARD_KEYS) {
    test(`key ${JSON.stringify(key)}`, async () => {
      const req = await signed('PUT', key, { 'x-id': 'PutObject' }, 'UNSIGNED-PAYLOAD');
      assert.equal(verifyRequest(req, lookup, now).accessKeyId, credentials.accessKeyId);
      rejects(
        () =>
          verifyRequest({ ...req, rawTarget: req.rawTarget.replace('/bucket/', '/bucket2/') }, lookup, now),
        'SignatureDoesNotMatch',
      );
    });
  }

  test('query values with spaces, +, /, = and unicode; bare names', async () => {
    const query = {
      prefix: 'a b+c/d=e&f',
      delimiter: '/',
      'list-type': '2',
      'start-after': 'ü😀',
      uploads: '',
    };
    const req = await signed('GET', '', query, 'UNSIGNED-PAYLOAD');
    assert.equal(verifyRequest(req, lookup, now).accessKeyId, credentials.accessKeyId);
  });
});

describe('presigned URLs from @smithy/signature-v4', () => {
  for (const key of ['a b', "!'()*", 'é/../x', '//k']) {
    test(`presigned GET of ${JSON.stringify(key)}, then expiry`, async () => {
      const path = `/bucket/${escapeUriPath(key)}`;
      const req = await signer.presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: 'localhost',
          port: 9000,
          path,
          query: {},
          headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
        },
        { signingDate, expiresIn: 600 },
      );
      const raw: RawRequest = {
        method: 'GET',
        rawTarget: `${path}?${wireQuery(req.query as Record<string, string>)}`,
        headers: { host },
      };
      const v = verifyRequest(raw, lookup, now + 599_000);
      assert.deepEqual(v.payload, { kind: 'unsigned' });
      rejects(() => verifyRequest(raw, lookup, now + 601_000), 'AccessDenied');
    });
  }
});

describe('streaming-signed upload chained with the SDK signer', () => {
  async function streamingRequest(data: Buffer, chunkBytes: number, tamper?: (wire: Buffer) => void) {
    const seedReq = await signer.sign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: 'localhost',
        port: 9000,
        path: '/bucket/big',
        query: {},
        headers: {
          host,
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'x-amz-decoded-content-length': String(data.length),
        },
      },
      { signingDate },
    );
    const headers = lowerCase(seedReq.headers);
    let prior = /Signature=([0-9a-f]{64})/.exec(headers.authorization as string)?.[1] as string;
    const parts: Buffer[] = [];
    for (let off = 0; ; off += chunkBytes) {
      const chunk = data.subarray(off, off + chunkBytes);
      // A chunk's string to sign is an event's with no headers: sha256('') stands where the headers' hash goes.
      prior = await signer.sign(
        { headers: new Uint8Array(0), payload: chunk },
        { signingDate, priorSignature: prior },
      );
      parts.push(
        Buffer.from(`${chunk.length.toString(16)};chunk-signature=${prior}\r\n`),
        chunk,
        Buffer.from('\r\n'),
      );
      if (chunk.length === 0) break;
    }
    const wire = Buffer.concat(parts);
    tamper?.(wire);
    const verified = verifyRequest({ method: 'PUT', rawTarget: '/bucket/big', headers }, lookup, now);
    return { verified, wire };
  }

  async function drain(verified: VerifiedRequest, wire: Buffer, pieceBytes: number) {
    const pieces = [];
    for (let i = 0; i < wire.length; i += pieceBytes) pieces.push(wire.subarray(i, i + pieceBytes));
    const body = decodeBody(toAsync(pieces), verified, { contentLength: wire.length, expected: {} });
    const out: Buffer[] = [];
    for await (const b of body) out.push(b);
    return { data: Buffer.concat(out), digests: await body.digests };
  }

  test('every chunk signature verifies and the object bytes come out', async () => {
    const data = Buffer.alloc(200_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const { verified, wire } = await streamingRequest(data, 65_536);
    const { data: out, digests } = await drain(verified, wire, 7_777);
    assert.ok(out.equals(data));
    assert.equal(digests.md5Hex, createHash('md5').update(data).digest('hex'));
  });

  test('one flipped byte in chunk 2 → SignatureDoesNotMatch', async () => {
    const data = Buffer.alloc(150_000, 'q');
    const { verified, wire } = await streamingRequest(data, 65_536, (w) => {
      w[w.length - 30_000] = 'r'.charCodeAt(0);
    });
    await assert.rejects(
      drain(verified, wire, 65_536),
      (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch',
    );
  });
});

async function* toAsync(pieces: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of pieces) yield p;
}

function rejects(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof S3Error && err.code === code);
}

describe('a request does only what its signer signed', () => {
  const T = { timeout: 10_000 };
  async function presigned(method: string, path: string, query: Record<string, string>): Promise<RawRequest> {
    const req = await signer.presign(
      {
        method,
        protocol: 'http:',
        hostname: 'localhost',
        port: 9000,
        path,
        query,
        headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { signingDate, expiresIn: 600 },
    );
    return {
      method,
      rawTarget: `${path}?${wireQuery(req.query as Record<string, string>)}`,
      headers: { host },
    };
  }
  function notSigned(fn: () => unknown, names: string): void {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof S3Error);
      assert.equal(err.code, 'AccessDenied');
      assert.equal(err.status, 403);
      assert.equal(err.message, 'There were headers present in the request which were not signed');
      assert.equal(err.details.HeadersNotSigned, names);
      return true;
    });
  }

  test('presigned PUT plus an unsigned x-amz-copy-source or x-amz-meta-* → 403 AccessDenied', T, async () => {
    const req = await presigned('PUT', '/bucket/target', {});
    assert.ok(verifyRequest(req, lookup, now));
    const add = (h: Record<string, string>) => ({ ...req, headers: { ...req.headers, ...h } });
    notSigned(
      () => verifyRequest(add({ 'x-amz-copy-source': '/other/secret' }), lookup, now),
      'x-amz-copy-source',
    );
    notSigned(
      () => verifyRequest(add({ 'x-amz-meta-a': '1', 'x-amz-tagging': 't=1' }), lookup, now),
      'x-amz-meta-a, x-amz-tagging',
    );
    // Not x-amz-*: free, as AWS treats them. x-amz-content-sha256 is exempt and does not change the payload mode.
    const free = verifyRequest(
      add({ 'x-amzn-trace-id': 'Root=1', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }),
      lookup,
      now,
    );
    assert.deepEqual(free.payload, { kind: 'unsigned' });
  });

  test('presigned PUT that signed its x-amz-meta-* header verifies with it', T, async () => {
    const path = '/bucket/target';
    const req = await signer.presign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: 'localhost',
        port: 9000,
        path,
        query: {},
        headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-color': 'blue' },
      },
      { signingDate, expiresIn: 600, unhoistableHeaders: new Set(['x-amz-meta-color']) },
    );
    const raw: RawRequest = {
      method: 'PUT',
      rawTarget: `${path}?${wireQuery(req.query as Record<string, string>)}`,
      headers: { host, 'x-amz-meta-color': 'blue' },
    };
    assert.ok(verifyRequest(raw, lookup, now));
    rejects(
      () => verifyRequest({ ...raw, headers: { ...raw.headers, 'x-amz-meta-color': 'red' } }, lookup, now),
      'SignatureDoesNotMatch',
    );
  });

  test('header auth: every x-amz-* must be signed except x-amz-content-sha256', T, async () => {
    const req = await signer.sign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: 'localhost',
        port: 9000,
        path: '/bucket/k',
        query: {},
        headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-a': '1' },
      },
      { signingDate, unsignableHeaders: new Set(['x-amz-content-sha256']) },
    );
    const raw: RawRequest = { method: 'PUT', rawTarget: '/bucket/k', headers: lowerCase(req.headers) };
    assert.doesNotMatch(String(raw.headers.authorization), /x-amz-content-sha256/);
    assert.ok(verifyRequest(raw, lookup, now));
    notSigned(
      () => verifyRequest({ ...raw, headers: { ...raw.headers, 'x-amz-meta-b': '2' } }, lookup, now),
      'x-amz-meta-b',
    );
  });

  test(
    'a signed header with UTF-8 bytes (0xA0 inside 報) verifies; its bytes are not spaces',
    T,
    async () => {
      // Node hands header values over as latin1: one char per byte of the UTF-8 the client sent.
      const value = Buffer.from('Résumé 報告 🙂  end', 'utf8').toString('latin1');
      const req = await signer.sign(
        {
          method: 'PUT',
          protocol: 'http:',
          hostname: 'localhost',
          port: 9000,
          path: '/bucket/k',
          query: {},
          headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-title': value },
        },
        { signingDate },
      );
      const raw: RawRequest = { method: 'PUT', rawTarget: '/bucket/k', headers: lowerCase(req.headers) };
      assert.ok(verifyRequest(raw, lookup, now));
    },
  );

  test(
    'presigned listing: prefix=a%2Bb%2F rewritten to a+b%2F no longer verifies (+ is a space)',
    T,
    async () => {
      const req = await presigned('GET', '/bucket', { 'list-type': '2', prefix: 'a+b/' });
      assert.match(req.rawTarget, /prefix=a%2Bb%2F/);
      assert.ok(verifyRequest(req, lookup, now));
      rejects(
        () => verifyRequest({ ...req, rawTarget: req.rawTarget.replace('a%2Bb%2F', 'a+b%2F') }, lookup, now),
        'SignatureDoesNotMatch',
      );
      // A client that signed a space as %20 and sent it as + asked for the same listing: it verifies.
      const spaced = await presigned('GET', '/bucket', { 'list-type': '2', prefix: 'a b/' });
      assert.ok(
        verifyRequest({ ...spaced, rawTarget: spaced.rawTarget.replace('a%20b', 'a+b') }, lookup, now),
      );
    },
  );
});

describe('the signature and the parser read one query', () => {
  const chars = fc.constantFrom('a', 'B', '+', ' ', '/', '=', '&', '%', '~', '*', 'é', '😀', '2', 'F');
  const text = (min: number) => fc.string({ unit: chars, minLength: min, maxLength: 6 });
  // How a man in the middle may re-encode each piece of the signed wire query.
  const rewrite = (wire: string, choices: number[]): string => {
    let out = '';
    let n = 0;
    for (let i = 0; i < wire.length; i++) {
      const pick = choices[n++ % choices.length]!;
      const c = wire[i]!;
      if (c === '%' && i + 2 < wire.length + 1) {
        const hex = wire.slice(i + 1, i + 3);
        const byte = Number.parseInt(hex, 16);
        i += 2;
        if (pick === 1) out += `%${hex.toLowerCase()}`;
        else if (pick === 2 && byte === 0x2b) out += '+';
        else if (pick === 2 && byte === 0x20) out += '+';
        else if (pick === 2 && byte > 0x20 && byte < 0x7f && !'%#+'.includes(String.fromCharCode(byte)))
          out += String.fromCharCode(byte);
        else out += `%${hex}`;
      } else if (pick === 1) {
        out += `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
      } else out += c;
    }
    return out;
  };

  test('whatever re-encoding still verifies is parsed to exactly the signed parameters', {
    timeout: 60_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(text(1), text(0), { minKeys: 1, maxKeys: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 64 }),
        async (params, choices) => {
          const req = await signed('GET', 'k', params, 'UNSIGNED-PAYLOAD');
          const q = req.rawTarget.indexOf('?');
          const rawTarget = req.rawTarget.slice(0, q + 1) + rewrite(req.rawTarget.slice(q + 1), choices);
          let verified = false;
          try {
            verifyRequest({ ...req, rawTarget }, lookup, now);
            verified = true;
          } catch (err) {
            assert.ok(err instanceof S3Error, String(err));
          }
          if (verified) {
            const parsed = parseTarget(rawTarget, host, { baseDomains: [] }).query;
            assert.deepEqual(parsed, new Map(Object.entries(params)), rawTarget);
          }
        },
      ),
      { numRuns: 300, seed: 20261129 },
    );
  });
});
