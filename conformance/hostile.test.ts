// Hostile raw HTTP, signed by hand and then tampered with. Each case asserts AWS's error code and
// status, an x-amz-request-id on the answer, and that the server still serves /health and a normal
// PUT/GET afterwards.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { md5b64, seededBytes } from './bytes.ts';
import {
  errorCode,
  fullPath,
  keyPath,
  presignRaw,
  type RawResponse,
  sendRaw,
  signedRaw,
  signRaw,
} from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { REPO_ROOT, startTarget, type Target } from './target.ts';

interface Expect {
  status: number;
  code: string;
}

/** Sends a signed PUT whose Content-Length promises more than is sent, then closes the socket. */
async function truncatedPut(target: Target, path: string, promised: number, sent: Buffer): Promise<void> {
  const signed = await signRaw(target, {
    method: 'PUT',
    path,
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(promised) },
  });
  const head = [
    `PUT ${fullPath(signed)} HTTP/1.1`,
    ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  await new Promise<void>((resolve) => {
    const sock = connect(target.port, target.host, () => {
      sock.write(`${head.join('\r\n')}\r\n\r\n`);
      sock.write(sent, () => setTimeout(() => sock.destroy(), 100));
    });
    sock.on('error', () => {});
    sock.on('close', () => resolve());
  });
}

/** Requests of `op` the embedded server has finished, from its /metrics (an external target: Infinity). */
async function finishedRequests(target: Target, op: string): Promise<number> {
  if (!target.embedded) return Number.POSITIVE_INFINITY;
  const text = await (await fetch(`${target.endpoint}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(
    new RegExp(`^quire_s3_requests_total\\{[^}]*op="${op}"[^}]*\\} (\\d+)$`, 'gm'),
  ))
    n += Number(m[1]);
  return n;
}

function listNames(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

describe('hostile raw HTTP', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  let uploadId = '';
  const object = seededBytes(3, 1000);

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('hostile');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: object }));
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    uploadId = mp.UploadId!;
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  /** The server is alive and still serves a normal PUT and GET. */
  async function assertHealthy(): Promise<void> {
    const health = await fetch(`${target.endpoint}/health`);
    await health.arrayBuffer();
    if (target.embedded) assert.equal(health.status, 200, 'GET /health after the hostile request');
    const body = Buffer.from(`alive ${performance.now()}`);
    const put = await signedRaw(target, { method: 'PUT', path: keyPath(bucket, 'alive'), body });
    assert.equal(put.status, 200, `normal PUT afterwards: ${put.body}`);
    const get = await signedRaw(target, { method: 'GET', path: keyPath(bucket, 'alive') });
    assert.ok(get.body.equals(body), 'normal GET afterwards');
  }

  function assertS3Error(res: RawResponse, want: Expect, method = 'GET'): void {
    const text = res.body.toString();
    assert.equal(res.status, want.status, text);
    assert.ok(res.headers['x-amz-request-id'], 'x-amz-request-id header');
    if (method === 'HEAD') assert.equal(res.body.length, 0, 'HEAD error has no body');
    else assert.equal(errorCode(res.body), want.code, text);
  }

  const xmlCases: Array<[string, () => { path: string; query: Record<string, string>; body: string }]> = [
    [
      'DeleteObjects with truncated XML',
      () => ({ path: `/${bucket}`, query: { delete: '' }, body: '<Delete><Object><Key>a' }),
    ],
    [
      'DeleteObjects with a non-XML body',
      () => ({ path: `/${bucket}`, query: { delete: '' }, body: '{"json":true}' }),
    ],
    [
      'CompleteMultipartUpload with garbage',
      () => ({ path: `/${bucket}/mp`, query: { uploadId }, body: '<<<CompleteMultipartUpload' }),
    ],
    [
      'CompleteMultipartUpload with the wrong root element',
      () => ({ path: `/${bucket}/mp`, query: { uploadId }, body: '<Nope><Part/></Nope>' }),
    ],
  ];
  for (const [name, make] of xmlCases) {
    test(`${name} → 400 MalformedXML`, async () => {
      const { path, query, body } = make();
      const buf = Buffer.from(body);
      const res = await signedRaw(target, {
        method: 'POST',
        path,
        query,
        headers: { 'content-md5': md5b64(buf) },
        body: buf,
      });
      assertS3Error(res, { status: 400, code: 'MalformedXML' });
      await assertHealthy();
    });
  }

  test('CreateBucket with a malformed configuration body → 400 MalformedXML', async () => {
    const body = Buffer.from('<CreateBucketConfiguration><LocationConstraint>');
    const res = await signedRaw(target, { method: 'PUT', path: `/${uniqueBucket('badxml')}`, body });
    assertS3Error(res, { status: 400, code: 'MalformedXML' });
    await assertHealthy();
  });

  test('tampered signature → 403 SignatureDoesNotMatch (GET and HEAD)', async () => {
    for (const method of ['GET', 'HEAD']) {
      const signed = await signRaw(target, { method, path: keyPath(bucket, 'obj') });
      const auth = signed.headers.authorization!;
      const last = auth.at(-1) === '0' ? '1' : '0';
      signed.headers.authorization = auth.slice(0, -1) + last;
      assertS3Error(await sendRaw(target, signed), { status: 403, code: 'SignatureDoesNotMatch' }, method);
    }
    await assertHealthy();
  });

  test('a signed header changed after signing → 403 SignatureDoesNotMatch', async () => {
    const signed = await signRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'obj'),
      headers: { range: 'bytes=0-1' },
    });
    signed.headers.range = 'bytes=0-2';
    assertS3Error(await sendRaw(target, signed), { status: 403, code: 'SignatureDoesNotMatch' });
    await assertHealthy();
  });

  test('body that does not match x-amz-content-sha256 → 400 XAmzContentSHA256Mismatch, not stored', async () => {
    const signed = await signRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'sha-mismatch'),
      body: Buffer.from('aaaa'),
    });
    signed.body = Buffer.from('bbbb');
    assertS3Error(await sendRaw(target, signed), { status: 400, code: 'XAmzContentSHA256Mismatch' });
    const get = await signedRaw(target, { method: 'GET', path: keyPath(bucket, 'sha-mismatch') });
    assertS3Error(get, { status: 404, code: 'NoSuchKey' });
    await assertHealthy();
  });

  test('no Authorization at all → 403 AccessDenied (GET, PUT, HEAD, ListBuckets)', async () => {
    assertS3Error(await sendRaw(target, { method: 'GET', path: keyPath(bucket, 'obj') }), {
      status: 403,
      code: 'AccessDenied',
    });
    const put = await sendRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'anon'),
      body: Buffer.from('x'),
    });
    assertS3Error(put, { status: 403, code: 'AccessDenied' });
    const head = await sendRaw(target, { method: 'HEAD', path: keyPath(bucket, 'obj') });
    assertS3Error(head, { status: 403, code: 'AccessDenied' }, 'HEAD');
    assertS3Error(await sendRaw(target, { method: 'GET', path: '/' }), { status: 403, code: 'AccessDenied' });
    await assertHealthy();
  });

  test('expired presigned URL → 403 AccessDenied', async () => {
    const url = await presignRaw(target, 'GET', keyPath(bucket, 'obj'), 10, new Date(Date.now() - 600_000));
    const [path, qs] = url.split('?');
    const res = await sendRaw(target, { method: 'GET', path: `${path}?${qs}` });
    assertS3Error(res, { status: 403, code: 'AccessDenied' });
    await assertHealthy();
  });

  test('a 100 KiB header → 400 S3 error, 431, or a closed connection; the server survives', async () => {
    const signed = await signRaw(target, { method: 'GET', path: keyPath(bucket, 'obj') });
    signed.headers['x-huge'] = 'h'.repeat(100 * 1024);
    let outcome: string;
    try {
      const res = await sendRaw(target, signed);
      outcome = `${res.status} ${errorCode(res.body)}`;
      // Node's parser answers 431 by itself before any handler runs; a handler may map it to an S3 400.
      assert.ok(res.status === 431 || (res.status === 400 && errorCode(res.body) !== ''), outcome);
    } catch (err) {
      outcome = `connection closed: ${(err as Error).message}`;
    }
    assert.ok(outcome);
    await assertHealthy();
  });

  test('a 1025-byte key → 400 KeyTooLongError', async () => {
    const res = await signedRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, 'k'.repeat(1025)),
      body: Buffer.from('x'),
    });
    assertS3Error(res, { status: 400, code: 'KeyTooLongError' });
    await assertHealthy();
  });

  test('`../` keys are stored literally and never touch files outside the data dir', async () => {
    const marker = `escape-${process.pid}-${Date.now().toString(36)}`;
    const watched = [tmpdir(), REPO_ROOT];
    if (target.workDir) watched.push(target.workDir, dirname(target.workDir));
    const before = watched.map(listNames);
    const rawPaths = [
      `/${bucket}/../../${marker}-a`,
      `/${bucket}/../../../../../../../../tmp/${marker}-b`,
      `/${bucket}/%2E%2E%2F%2E%2E%2F${marker}-c`,
      `/${bucket}/..%2F..%2F${marker}-d`,
      `/${bucket}/./../${marker}-e`,
    ];
    for (const path of rawPaths) {
      const body = Buffer.from(path);
      const put = await signedRaw(target, { method: 'PUT', path, body });
      assert.equal(put.status, 200, `${path}: ${put.body}`);
      const get = await signedRaw(target, { method: 'GET', path });
      assert.equal(get.status, 200, path);
      assert.ok(get.body.equals(body), `${path} reads back its own bytes`);
    }
    const listed = await signedRaw(target, {
      method: 'GET',
      path: `/${bucket}`,
      query: { 'list-type': '2', prefix: '.' },
    });
    const text = listed.body.toString();
    for (const suffix of ['a', 'b', 'c', 'd', 'e'])
      assert.ok(text.includes(`${marker}-${suffix}`), `listed ${suffix}`);
    assert.ok(text.includes(`<Key>../../${marker}-a</Key>`), 'stored literally as ../../');
    watched.forEach((dir, i) => {
      const fresh = [...listNames(dir)].filter((n) => !before[i]!.has(n) && n.includes(marker));
      assert.deepEqual(fresh, [], `no file appeared in ${dir}`);
    });
    await assertHealthy();
  });

  test('keys with invalid UTF-8 or NUL are rejected or stored, never crash', async () => {
    for (const path of [`/${bucket}/bad-%FF%FE`, `/${bucket}/nul-%00-x`, `/${bucket}/%C0%AF`]) {
      const res = await signedRaw(target, { method: 'PUT', path, body: Buffer.from('x') });
      assert.ok(
        res.status === 200 || (res.status === 400 && errorCode(res.body) !== ''),
        `${path}: ${res.status}`,
      );
      assert.ok(res.headers['x-amz-request-id']);
    }
    await assertHealthy();
  });

  test('a truncated body is not stored (later GET → 404 NoSuchKey)', async () => {
    const path = keyPath(bucket, 'truncated');
    const putsBefore = await finishedRequests(target, 'PutObject');
    await truncatedPut(target, path, 100_000, seededBytes(4, 4000));
    await truncatedPut(
      target,
      keyPath(bucket, 'truncated-big'),
      4 * 1024 * 1024,
      seededBytes(5, 1024 * 1024),
    );
    // The server notices the truncation when the connection closes: wait until it has finished both PUTs.
    while ((await finishedRequests(target, 'PutObject')) < putsBefore + 2) await new Promise(setImmediate);
    for (const p of [path, keyPath(bucket, 'truncated-big')]) {
      assertS3Error(await signedRaw(target, { method: 'GET', path: p }), { status: 404, code: 'NoSuchKey' });
    }
    await assertHealthy();
  });

  const ignoredRanges = ['bytes=-', 'bytes=abc', 'bytes=5-2', 'pages=1-2', 'bytes=1-2,4-5x'];
  for (const range of ignoredRanges) {
    test(`unparseable Range ${JSON.stringify(range)} is ignored → 200 full body`, async () => {
      const res = await signedRaw(target, {
        method: 'GET',
        path: keyPath(bucket, 'obj'),
        headers: { range },
      });
      assert.equal(res.status, 200, res.body.toString().slice(0, 300));
      assert.ok(res.body.equals(object));
      await assertHealthy();
    });
  }

  test('Range starting beyond the size → 416 InvalidRange', async () => {
    const res = await signedRaw(target, {
      method: 'GET',
      path: keyPath(bucket, 'obj'),
      headers: { range: 'bytes=5000-6000' },
    });
    assertS3Error(res, { status: 416, code: 'InvalidRange' });
    assert.equal(res.headers['content-range'], `bytes */${object.length}`);
    await assertHealthy();
  });

  test('aws-chunked framing broken in the first chunk → 400 at once, connection closed, server healthy', async () => {
    const key = 'broken-framing';
    const body = Buffer.concat([Buffer.from('zz;not-hex\r\n'), Buffer.alloc(256 * 1024, 7)]);
    const signed = await signRaw(target, {
      method: 'PUT',
      path: keyPath(bucket, key),
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(256 * 1024),
        'content-length': String(body.length),
      },
    });
    const head = [
      `PUT ${fullPath(signed)} HTTP/1.1`,
      ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`),
    ];
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      const sock = connect(target.port, target.host, () => {
        sock.write(`${head.join('\r\n')}\r\n\r\n`);
        sock.write(body);
      });
      sock.on('data', (d) => {
        text += d.toString('latin1');
      });
      sock.on('error', () => {});
      sock.on('close', () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(
      reply,
      /\r\nconnection: close\r\n/i,
      'the unread rest of the body must not be parsed as a request',
    );
    assert.match(reply, /<Code>(IncompleteBody|InvalidRequest)<\/Code>/);
    assertS3Error(await signedRaw(target, { method: 'GET', path: keyPath(bucket, key) }), {
      status: 404,
      code: 'NoSuchKey',
    });
    await assertHealthy();
  });
});
