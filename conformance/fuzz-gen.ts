// The request generator of the HTTP fuzz test (fuzz.test.ts): every case is built from one seeded PRNG, so a
// seed reproduces the sequence. Four families: validly signed requests with mutated parameters, headers, keys
// and XML bodies; aws-chunked bodies (signed and unsigned-with-trailer) with corrupted framing; malformed HTTP
// on a raw socket; requests whose signature no longer matches what is sent.
import { createHash, createHmac } from 'node:crypto';
import { makeRandom } from './bytes.ts';
import { checksumB64 } from './checksums.ts';
import { encodeQuery, keyPath, presignRaw, signRaw } from './raw.ts';
import type { Target } from './target.ts';

export interface FuzzFixtures {
  bucket: string;
  /** Existing small objects. */
  keys: string[];
  /** An upload in progress on `uploadKey` (may be completed or aborted by a case: later ones then get 404s). */
  uploadKey: string;
  uploadId: string;
}

export interface FuzzCase {
  family: 'signed' | 'chunked' | 'malformed' | 'bad-signature';
  /** What was generated, for the failure report. */
  what: string;
  /** The request bytes, written in order (a pause is never needed: stalls are the server's timeouts' job). */
  wire: Buffer[];
  /** Method on the wire (HEAD answers have no body). */
  method: string;
  /** The request must not succeed (no 2xx/3xx): its signature or its body's integrity is broken. */
  mustFail: boolean;
  /** The server may close the connection without an answer (garbage it cannot frame an answer to). */
  mayClose: boolean;
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = makeRandom(seed);
  }
  /** 0 <= n < max */
  int(max: number): number {
    return this.next() % Math.max(1, max);
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

// ---- values ----

const CHAR_CLASSES = [
  'abcxyz',
  '0123456789',
  '/',
  '..',
  '%',
  '+',
  ' ',
  '?#&=;',
  '\x00\x01\x1f\x7f',
  'ß日本🙂',
  '\u2028\ufeff',
  '<>&"\'',
];

function randomText(r: Rng, maxLen: number): string {
  const len = r.chance(0.1) ? r.int(maxLen) : r.int(Math.min(maxLen, 24));
  let s = '';
  while (s.length < len) s += r.pick([...r.pick(CHAR_CLASSES)]);
  return s;
}

function randomKey(r: Rng): string {
  if (r.chance(0.1))
    return r.pick(['\x01'.repeat(1024), '\x00'.repeat(1024), 'k'.repeat(1024), 'k'.repeat(1025)]);
  if (r.chance(0.05)) return 'x'.repeat(1000 + r.int(4000));
  return randomText(r, 1100) || 'k';
}

const NUMBERS = [
  '-1',
  '0',
  '1',
  '2',
  '1000',
  '1001',
  '10000',
  '10001',
  '2147483647',
  '2147483648',
  '9007199254740993',
  '1e3',
  '0x10',
  ' 5',
  '5 ',
  'NaN',
  '',
  '１',
];

function randomValue(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(NUMBERS);
    case 1:
      return randomText(r, 64);
    case 2:
      return 'v'.repeat(r.pick([1023, 1024, 1025, 1990, 4000, 9000]));
    case 3:
      return r.pick([
        'true',
        'false',
        'url',
        'URL',
        'null',
        '*',
        '"',
        '""',
        'bytes=0-0',
        'bytes=-1',
        'bytes=5-1',
      ]);
    case 4:
      return Buffer.from(r.bytes(r.int(32))).toString('base64');
    default:
      return randomText(r, 2000);
  }
}

const QUERY_NAMES = [
  'prefix',
  'delimiter',
  'marker',
  'start-after',
  'continuation-token',
  'max-keys',
  'max-uploads',
  'max-parts',
  'list-type',
  'encoding-type',
  'fetch-owner',
  'key-marker',
  'upload-id-marker',
  'part-number-marker',
  'uploadId',
  'partNumber',
  'versionId',
  'uploads',
  'delete',
  'location',
  'versioning',
  'acl',
  'tagging',
  'response-content-type',
  'response-content-disposition',
  'response-cache-control',
  'response-expires',
  'x-id',
  'X-Amz-Expires',
];

const HEADER_NAMES = [
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'content-md5',
  'content-type',
  'content-encoding',
  'content-disposition',
  'cache-control',
  'expires',
  'x-amz-copy-source',
  'x-amz-copy-source-range',
  'x-amz-copy-source-if-match',
  'x-amz-metadata-directive',
  'x-amz-meta-a',
  'x-amz-meta-long',
  'x-amz-checksum-crc32',
  'x-amz-checksum-sha256',
  'x-amz-checksum-crc64nvme',
  'x-amz-sdk-checksum-algorithm',
  'x-amz-checksum-algorithm',
  'x-amz-trailer',
  'x-amz-decoded-content-length',
  'x-amz-storage-class',
  'x-amz-tagging',
  'x-amz-acl',
  'x-amz-expected-bucket-owner',
  'x-amz-checksum-mode',
  'x-amz-server-side-encryption',
  'x-amz-object-lock-mode',
];

/** Header values must survive the signer and HTTP framing: printable latin1, no CR/LF. */
function headerSafe(v: string): string {
  return Buffer.from(v, 'utf8')
    .toString('latin1')
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '');
}

// ---- templates: one per operation, on the fixtures ----

interface Template {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  /** True if a body is the operation's input (PUT object / part, XML documents). */
  takesBody: boolean;
}

function completeXml(parts: number[]): string {
  return `<CompleteMultipartUpload>${parts.map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>"${'0'.repeat(32)}"</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

function deleteXml(keys: string[]): string {
  return `<Delete><Quiet>false</Quiet>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`;
}

function template(r: Rng, f: FuzzFixtures): Template {
  // Writes go to the fixtures half the time, so reads race overwrites and deletes of their own key (a read
  // gets one whole version or a clean error, never a cut answer).
  const k = r.chance(0.7) ? r.pick(f.keys) : randomKey(r);
  const obj = keyPath(f.bucket, k);
  const writable = keyPath(
    f.bucket,
    r.chance(0.5) ? r.pick(f.keys) : r.chance(0.7) ? `w-${r.int(20)}` : randomKey(r),
  );
  const b = `/${f.bucket}`;
  const small = () => r.bytes(r.pick([0, 1, 100, 4096]));
  const t = (method: string, path: string, query: Record<string, string> = {}, body?: Buffer): Template => ({
    method,
    path,
    query,
    headers: {},
    body: body ?? Buffer.alloc(0),
    takesBody: body !== undefined,
  });
  switch (r.int(22)) {
    case 0:
      return t('GET', obj);
    case 1:
      return t('HEAD', obj);
    case 2:
      return t('PUT', writable, {}, small());
    case 3:
      return t('DELETE', keyPath(f.bucket, `gone-${r.int(100)}`));
    case 4:
      return t('GET', b, { 'list-type': '2' });
    case 5:
      return t('GET', b);
    case 6:
      return t('GET', b, { uploads: '' });
    case 7:
      return t('POST', writable, { uploads: '' });
    case 8:
      return t(
        'PUT',
        keyPath(f.bucket, f.uploadKey),
        { partNumber: String(1 + r.int(3)), uploadId: f.uploadId },
        small(),
      );
    case 9:
      return t('GET', keyPath(f.bucket, f.uploadKey), { uploadId: f.uploadId });
    case 10:
      return t(
        'POST',
        keyPath(f.bucket, f.uploadKey),
        { uploadId: f.uploadId },
        Buffer.from(completeXml([1, 2])),
      );
    case 11:
      return t(
        'POST',
        b,
        { delete: '' },
        Buffer.from(deleteXml([`gone-${r.int(100)}`, r.chance(0.3) ? k : `w-${r.int(20)}`])),
      );
    case 12: {
      const x = t('PUT', keyPath(f.bucket, `copy-${r.int(20)}`));
      x.headers['x-amz-copy-source'] = `/${f.bucket}/${encodeURIComponent(r.pick(f.keys))}`;
      return x;
    }
    case 13: {
      const x = t('PUT', keyPath(f.bucket, f.uploadKey), { partNumber: '3', uploadId: f.uploadId });
      x.headers['x-amz-copy-source'] = `/${f.bucket}/${encodeURIComponent(r.pick(f.keys))}`;
      return x;
    }
    case 14:
      return t('GET', '/');
    case 15:
      return t('HEAD', b);
    case 16:
      return t('GET', b, { location: '' });
    case 17:
      return t('GET', b, { versioning: '' });
    case 18:
      return t(
        'PUT',
        `/fz-${r.int(1000)}-${randomText(r, 8).replace(/[^a-z0-9]/g, '')}`,
        {},
        r.chance(0.5)
          ? Buffer.from(
              '<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>',
            )
          : undefined,
      );
    case 19:
      return t('DELETE', `/fz-${r.int(1000)}`);
    case 20:
      return t('GET', obj, { versionId: r.pick(['null', 'bogus', '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY']) });
    default:
      return t('DELETE', keyPath(f.bucket, f.uploadKey), { uploadId: f.uploadId });
  }
}

// ---- XML mutations ----

function mutateXml(r: Rng, xml: Buffer): Buffer {
  const s = xml.toString('utf8');
  switch (r.int(8)) {
    case 0:
      return xml.subarray(0, r.int(xml.length));
    case 1: {
      const at = r.int(xml.length);
      return Buffer.concat([xml.subarray(0, at), r.bytes(1 + r.int(16)), xml.subarray(at)]);
    }
    case 2:
      return Buffer.from(s.replace(/\d+/g, () => r.pick(NUMBERS)));
    case 3:
      return Buffer.from(`${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`);
    case 4:
      return Buffer.from(
        s.replace(
          /<Key>[^<]*<\/Key>/g,
          () => `<Key>${r.pick(['', 'k'.repeat(1025), '&#x0;', '&lt;&amp;', ']]>', '<![CDATA[x]]>'])}</Key>`,
        ),
      );
    case 5:
      return Buffer.from(
        `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "${'x'.repeat(100)}"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><d>&b;&b;&b;</d>`,
      );
    case 6:
      return Buffer.from(
        s.replace(/(<Part>.*?<\/Part>|<Object>.*?<\/Object>)/, (m) => m.repeat(1 + r.int(1200))),
      );
    default:
      return Buffer.from(s.replace(/>[^<]*</, `>${randomText(r, 300)}<`));
  }
}

// ---- signing helpers ----

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const EMPTY_SHA256 = sha256('');

function serialize(
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  body?: Buffer,
): Buffer[] {
  const q = Object.keys(query).length > 0 ? `?${encodeQuery(query)}` : '';
  const lines = [`${method} ${path}${q} HTTP/1.1`, ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`)];
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body && body.length > 0 ? [head, body] : [head];
}

async function signedWire(
  target: Target,
  t: { method: string; path: string; query: Record<string, string>; headers: Record<string, string> },
  body: Buffer,
  payloadHash: string,
): Promise<{ headers: Record<string, string>; wire: Buffer[] }> {
  const signed = await signRaw(target, {
    method: t.method,
    path: t.path,
    query: t.query,
    headers: { ...t.headers, 'x-amz-content-sha256': payloadHash },
  });
  const headers = { ...signed.headers, 'content-length': String(body.length) };
  return { headers, wire: serialize(t.method, t.path, t.query, headers, body) };
}

// ---- families ----

async function signedCase(r: Rng, target: Target, f: FuzzFixtures): Promise<FuzzCase> {
  const t = template(r, f);
  const notes: string[] = [`${t.method} ${t.path.slice(0, 80)}`];
  const mutations = r.int(4);
  for (let i = 0; i < mutations; i++) {
    switch (r.int(5)) {
      case 0: {
        const name = r.pick(QUERY_NAMES);
        t.query[name] = randomValue(r);
        notes.push(`query ${name}`);
        break;
      }
      case 1: {
        const name = r.pick(HEADER_NAMES);
        t.headers[name] = headerSafe(randomValue(r));
        notes.push(`header ${name}`);
        break;
      }
      case 2:
        if (t.takesBody && t.body.length > 0 && t.body[0] === 0x3c) {
          t.body = mutateXml(r, t.body);
          notes.push('xml');
        } else {
          t.body = r.bytes(r.int(5000));
          notes.push('body');
        }
        break;
      case 3:
        t.method = r.pick(['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']);
        notes.push(`method ${t.method}`);
        break;
      default:
        t.path = r.chance(0.5)
          ? keyPath(f.bucket, randomKey(r))
          : `/${randomText(r, 80).replace(/[^a-z0-9.-]/g, 'b')}/${encodeURIComponent(randomKey(r))}`;
        notes.push('path');
    }
  }
  const hashKind = r.int(10);
  const payloadHash =
    hashKind === 0 ? 'UNSIGNED-PAYLOAD' : hashKind === 1 ? sha256(r.bytes(8)) : sha256(t.body);
  if (hashKind === 1) notes.push('wrong payload hash');
  const { headers } = await signedWire(target, t, t.body, payloadHash);
  // Sometimes the body is announced and not (all) sent: the server must answer anyway, at the latest when its
  // body timeout fires, whatever the operation.
  let body = t.body;
  let short = false;
  switch (r.int(12)) {
    case 0:
      headers['content-length'] = String(t.body.length + 1 + r.int(20_000_000));
      notes.push(`Content-Length ${headers['content-length']}, ${t.body.length} sent`);
      short = true;
      break;
    case 1:
      headers.expect = '100-continue';
      headers['content-length'] = String(t.body.length + 1 + r.int(1000));
      body = Buffer.alloc(0);
      notes.push('Expect: 100-continue, body never sent');
      short = true;
      break;
    case 2:
      delete headers['content-length'];
      headers['transfer-encoding'] = 'chunked';
      body = r.chance(0.5) ? Buffer.alloc(0) : Buffer.from(`${t.body.length.toString(16)}\r\n`);
      notes.push('Transfer-Encoding: chunked, body not finished');
      short = true;
      break;
  }
  return {
    family: 'signed',
    what: notes.join(', '),
    wire: serialize(t.method, t.path, t.query, headers, body),
    method: t.method,
    // A body whose signed hash does not match (or that never fully came) must never be stored (or used).
    mustFail:
      (hashKind === 1 || short) && t.body.length > 0 && t.method === 'PUT' && !t.headers['x-amz-copy-source'],
    mayClose: false,
  };
}

function signingKey(secret: string, date: string, region: string): Buffer {
  const h = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  return h(h(h(h(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

async function chunkedCase(r: Rng, target: Target, f: FuzzFixtures): Promise<FuzzCase> {
  const signedChunks = r.chance(0.5);
  const trailer = !signedChunks || r.chance(0.5);
  const data = r.bytes(r.pick([0, 1, 1000, 70_000, 300_000]));
  // 1-byte chunks only for small bodies: every chunk costs the generator an HMAC.
  const chunkBytes = data.length <= 2000 ? r.pick([1, 8192, 65536]) : r.pick([8192, 65536]);
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkBytes) pieces.push(data.subarray(at, at + chunkBytes));
  pieces.push(Buffer.alloc(0));
  const crc = checksumB64('CRC32', data);
  const part = r.chance(0.3);
  const path = part ? keyPath(f.bucket, f.uploadKey) : keyPath(f.bucket, `chunked-${r.int(50)}`);
  const query: Record<string, string> = part ? { partNumber: '4', uploadId: f.uploadId } : {};
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(r.chance(0.1) ? data.length + r.int(3) - 1 : data.length),
  };
  if (trailer) {
    headers['x-amz-trailer'] = 'x-amz-checksum-crc32';
    headers['x-amz-sdk-checksum-algorithm'] = 'CRC32';
  }
  const payload = signedChunks
    ? trailer
      ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
      : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
    : 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
  const signed = await signRaw(target, {
    method: 'PUT',
    path,
    query,
    headers: { ...headers, 'x-amz-content-sha256': payload },
  });
  const auth = signed.headers.authorization ?? signed.headers.Authorization ?? '';
  const seed = /Signature=([0-9a-f]{64})/.exec(auth)?.[1] ?? '';
  const amzDate = signed.headers['x-amz-date'] ?? '';
  const scope = `${amzDate.slice(0, 8)}/${target.region}/s3/aws4_request`;
  const key = signingKey(target.creds.secretAccessKey, amzDate.slice(0, 8), target.region);
  let prev = seed;
  const parts: Buffer[] = [];
  for (const p of pieces) {
    let ext = '';
    if (signedChunks) {
      const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${sha256(p)}`;
      prev = createHmac('sha256', key).update(sts).digest('hex');
      ext = `;chunk-signature=${prev}`;
    }
    parts.push(Buffer.from(`${p.length.toString(16)}${ext}\r\n`), p);
    if (p.length > 0) parts.push(Buffer.from('\r\n'));
  }
  if (trailer) {
    const line = `x-amz-checksum-crc32:${crc}`;
    parts.push(Buffer.from(`${line}\r\n`));
    if (signedChunks) {
      const sts = `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${prev}\n${sha256(`${line}\n`)}`;
      parts.push(
        Buffer.from(`x-amz-trailer-signature:${createHmac('sha256', key).update(sts).digest('hex')}\r\n`),
      );
    }
  }
  parts.push(Buffer.from('\r\n'));
  let body = Buffer.concat(parts);
  const notes = [`${payload} ${data.length} bytes in ${chunkBytes}-byte chunks${part ? ' (part)' : ''}`];
  let broken = headers['x-amz-decoded-content-length'] !== String(data.length);
  if (broken) notes.push('wrong decoded length');
  let declared = body.length;
  switch (r.int(7)) {
    case 0: {
      const at = r.int(body.length);
      body = Buffer.from(body);
      body[at] = (body[at] as number) ^ (0x80 | r.int(0x80));
      notes.push(`byte ${at} flipped`);
      broken = true;
      break;
    }
    case 1: {
      const full = body.length;
      const cut = r.int(full);
      body = body.subarray(0, cut);
      if (r.chance(0.5)) declared = cut;
      notes.push(`cut at ${cut} of ${full}${declared === cut ? '' : ' (Content-Length says more)'}`);
      // Only the final CRLF may go missing (a body may end after its last line); the server must not wait for
      // bytes Content-Length promised and never came.
      broken = broken || declared !== cut || cut < full - 2;
      break;
    }
    case 2: {
      const at = r.int(body.length);
      const extra = r.bytes(1 + r.int(20));
      // Only blanks inserted after a trailer's colon leave a valid body (its value is trimmed, as AWS does):
      // one byte that is no blank keeps every insertion a real corruption.
      if (extra.every((b) => b === 0x20 || b === 0x09)) extra[0] = 0x7a;
      body = Buffer.concat([body.subarray(0, at), extra, body.subarray(at)]);
      declared = body.length;
      notes.push(`${extra.length} bytes inserted at ${at}`);
      broken = true;
      break;
    }
    case 3: {
      body = Buffer.from(
        body
          .toString('latin1')
          .replace(/^[0-9a-f]+/, () => r.pick(['fffffffffffff', '-1', 'zz', '10000000000000000', ''])),
        'latin1',
      );
      declared = body.length;
      notes.push('first size line replaced');
      broken = true;
      break;
    }
    case 4:
      body = Buffer.concat([body, Buffer.from('5\r\nhello\r\n')]);
      declared = body.length;
      notes.push('bytes after the final chunk');
      broken = true;
      break;
    default:
      notes.push('intact');
  }
  const wireHeaders = { ...signed.headers, 'content-length': String(declared) };
  return {
    family: 'chunked',
    what: notes.join(', '),
    wire: serialize('PUT', path, query, wireHeaders, body),
    method: 'PUT',
    mustFail: broken,
    mayClose: true,
  };
}

function malformedCase(r: Rng, target: Target, f: FuzzFixtures): FuzzCase {
  const host = `host: ${target.host}:${target.port}`;
  const p = `/${f.bucket}/${f.keys[0]}`;
  const variants: Array<[string, () => string | Buffer]> = [
    ['random bytes', () => r.bytes(1 + r.int(2000))],
    [
      'random bytes after a request line',
      () => Buffer.concat([Buffer.from(`GET ${p} HTTP/1.1\r\n`), r.bytes(1 + r.int(500))]),
    ],
    ['bad method', () => `${randomText(r, 12).replace(/\s/g, '') || 'X'} ${p} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['space in target', () => `GET /a b/c HTTP/1.1\r\n${host}\r\n\r\n`],
    ['NUL in target', () => `GET /${f.bucket}/a\x00b HTTP/1.1\r\n${host}\r\n\r\n`],
    ['20 KiB target', () => `GET /${f.bucket}/${'a'.repeat(20_000)} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['HTTP/2.0 line', () => `GET ${p} HTTP/2.0\r\n${host}\r\n\r\n`],
    ['no version', () => `GET ${p}\r\n\r\n`],
    ['HTTP/1.0 no host', () => `GET ${p} HTTP/1.0\r\n\r\n`],
    ['header without colon', () => `GET ${p} HTTP/1.1\r\n${host}\r\nbroken header\r\n\r\n`],
    ['obs-fold', () => `GET ${p} HTTP/1.1\r\n${host}\r\nx-a: 1\r\n  folded\r\n\r\n`],
    [
      '300 headers',
      () =>
        `GET ${p} HTTP/1.1\r\n${host}\r\n${Array.from({ length: 300 }, (_, i) => `x-h${i}: v`).join('\r\n')}\r\n\r\n`,
    ],
    [
      'CL and TE',
      () =>
        `PUT ${p} HTTP/1.1\r\n${host}\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    ],
    [
      'two Content-Lengths',
      () => `PUT ${p} HTTP/1.1\r\n${host}\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!`,
    ],
    ['negative Content-Length', () => `PUT ${p} HTTP/1.1\r\n${host}\r\ncontent-length: -5\r\n\r\n`],
    [
      'huge Content-Length',
      () => `PUT ${p} HTTP/1.1\r\n${host}\r\ncontent-length: 18446744073709551617\r\n\r\n`,
    ],
    [
      'bad chunk size',
      () => `PUT ${p} HTTP/1.1\r\n${host}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    ],
    [
      'absolute-form target',
      () => `GET http://${target.host}:${target.port}${p} HTTP/1.1\r\n${host}\r\n\r\n`,
    ],
    ['lower-case method', () => `get ${p} HTTP/1.1\r\n${host}\r\n\r\n`],
    ['CONNECT', () => `CONNECT ${target.host}:${target.port} HTTP/1.1\r\n${host}\r\n\r\n`],
    [
      'Upgrade h2c',
      () =>
        `GET ${p} HTTP/1.1\r\n${host}\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
    ],
    ['pipelined garbage', () => `GET /health HTTP/1.1\r\n${host}\r\n\r\n${r.bytes(100).toString('latin1')}`],
    ['unsigned PUT', () => `PUT ${p}-anon HTTP/1.1\r\n${host}\r\ncontent-length: 5\r\n\r\nhello`],
    ['anonymous GET', () => `GET ${p} HTTP/1.1\r\n${host}\r\n\r\n`],
    [
      'garbage Authorization',
      () =>
        `GET ${p} HTTP/1.1\r\n${host}\r\nauthorization: ${randomText(r, 300).replace(/[\r\n]/g, '')}\r\nx-amz-date: 20200101T000000Z\r\n\r\n`,
    ],
    ['partial headers', () => `GET ${p} HTTP/1.1\r\n${host}\r\nx-amz-date: 2020`],
  ];
  const [name, make] = r.pick(variants);
  const bytes = make();
  const anonymousWrite =
    name === 'unsigned PUT' || name === 'anonymous GET' || name === 'garbage Authorization';
  return {
    family: 'malformed',
    what: name,
    wire: [typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes],
    method: 'GET',
    mustFail: anonymousWrite,
    mayClose: true,
  };
}

async function badSignatureCase(r: Rng, target: Target, f: FuzzFixtures): Promise<FuzzCase> {
  const t = template(r, f);
  const { headers } = await signedWire(target, t, t.body, sha256(t.body));
  let { method, path } = t;
  const query = { ...t.query };
  let what: string;
  switch (r.int(8)) {
    case 0: {
      const auth = headers.authorization ?? '';
      const at = auth.lastIndexOf('Signature=') + 10 + r.int(64);
      const c = auth[at] === '0' ? '1' : '0';
      headers.authorization = auth.slice(0, at) + c + auth.slice(at + 1);
      what = 'one signature digit changed';
      break;
    }
    case 1:
      headers.authorization = (headers.authorization ?? '').replace(
        /Credential=[^/]+/,
        'Credential=AKIANOSUCHKEY',
      );
      what = 'unknown access key';
      break;
    case 2: {
      const d = headers['x-amz-date'] ?? '';
      const s = Number(d.slice(13, 15));
      headers['x-amz-date'] = `${d.slice(0, 13)}${String((s + 1) % 60).padStart(2, '0')}Z`;
      what = 'x-amz-date moved by a second';
      break;
    }
    case 3:
      path = `${path}${path.endsWith('/') ? '' : '/'}x`;
      what = 'path extended after signing';
      break;
    case 4:
      query.prefix = `${query.prefix ?? ''}z`;
      what = 'query changed after signing';
      break;
    case 5:
      headers['x-amz-content-sha256'] =
        headers['x-amz-content-sha256'] === 'UNSIGNED-PAYLOAD' ? EMPTY_SHA256 : 'UNSIGNED-PAYLOAD';
      what = 'signed payload hash changed';
      break;
    case 7: {
      // A header the request already signs would not be unsigned (and may get its own value back).
      const [name, value] = unsignedAmzHeader(r, f, headers);
      headers[name] = value;
      what = `unsigned ${name} added`;
      break;
    }
    default:
      delete headers.authorization;
      what = 'Authorization removed (x-amz-* headers kept)';
      if (r.chance(0.5)) method = 'PUT';
  }
  return {
    family: 'bad-signature',
    what: `${what}: ${t.method} ${t.path.slice(0, 60)}`,
    wire: serialize(method, path, query, headers, t.body),
    method,
    mustFail: true,
    mayClose: false,
  };
}

/** An x-amz-* header the signer did not sign: the request must be refused (it could do what was not signed). */
function unsignedAmzHeader(r: Rng, f: FuzzFixtures, present: Record<string, string> = {}): [string, string] {
  const all: Array<[string, string]> = [
    ['x-amz-copy-source', `/${f.bucket}/${encodeURIComponent(r.pick(f.keys))}`],
    ['x-amz-meta-unsigned', 'yes'],
    ['x-amz-tagging', 'a=b'],
    ['x-amz-metadata-directive', 'REPLACE'],
    ['x-amz-acl', 'public-read'],
    ['x-amz-checksum-crc32', 'AAAAAA=='],
  ];
  return r.pick(all.filter(([name]) => present[name] === undefined));
}

/** A presigned URL (query-string SigV4) tampered with after signing: it must not work. */
export async function badPresignedCase(
  r: Rng,
  target: Target,
  f: FuzzFixtures,
  control?: { method: string },
): Promise<FuzzCase> {
  const method = control?.method ?? r.pick(['GET', 'PUT', 'HEAD', 'DELETE']);
  const path =
    method === 'GET' || method === 'HEAD'
      ? keyPath(f.bucket, r.pick(f.keys))
      : keyPath(f.bucket, `w-${r.int(20)}`);
  const url = await presignRaw(target, method, path, 60 + r.int(3600));
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  let what = 'untampered (control)';
  const extra: Record<string, string> = {};
  switch (control ? -1 : r.int(6)) {
    case -1:
      break;
    case 0: {
      const sig = query.get('X-Amz-Signature') ?? '';
      const at = r.int(sig.length);
      query.set('X-Amz-Signature', sig.slice(0, at) + (sig[at] === '0' ? '1' : '0') + sig.slice(at + 1));
      what = 'signature digit changed';
      break;
    }
    case 1:
      query.set('X-Amz-Expires', String(Number(query.get('X-Amz-Expires')) + 1));
      what = 'expiry extended';
      break;
    case 2:
      query.set('X-Amz-Credential', (query.get('X-Amz-Credential') ?? '').replace(/^[^/]+/, 'AKIANOSUCHKEY'));
      what = 'unknown access key';
      break;
    case 3:
      query.set(
        r.pick(['prefix', 'versionId', 'partNumber', 'response-content-type']),
        randomValue(r) || 'x',
      );
      what = 'parameter added';
      break;
    case 5: {
      const [name, value] = unsignedAmzHeader(r, f);
      extra[name] = value;
      what = `unsigned ${name} added`;
      break;
    }
    default:
      query.set('X-Amz-Date', '20200101T000000Z');
      what = 'date moved';
  }
  const body = method === 'PUT' ? r.bytes(r.int(100)) : Buffer.alloc(0);
  const head = [
    `${method} ${path}?${query.toString().replace(/\+/g, '%20')} HTTP/1.1`,
    `host: ${target.host}:${target.port}`,
    `content-length: ${body.length}`,
    ...Object.entries(extra).map(([n, v]) => `${n}: ${v}`),
  ];
  return {
    family: 'bad-signature',
    what: `presigned ${method} ${path.slice(0, 60)}: ${what}`,
    wire: [Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body],
    method,
    mustFail: !control,
    mayClose: false,
  };
}

/** The next case of the sequence fixed by `r`. */
export async function nextCase(r: Rng, target: Target, f: FuzzFixtures): Promise<FuzzCase> {
  const roll = r.int(100);
  if (roll < 45) return signedCase(r, target, f);
  if (roll < 65) return chunkedCase(r, target, f);
  if (roll < 82) return malformedCase(r, target, f);
  return r.chance(0.25) ? badPresignedCase(r, target, f) : badSignatureCase(r, target, f);
}
