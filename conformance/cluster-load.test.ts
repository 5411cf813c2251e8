// The fault tests' instrument, checked against a small fake S3 endpoint on 127.0.0.1 that misbehaves on demand: the
// load must see a listing that repeats a key across pages or sorts in JS string order instead of UTF-8 byte order,
// a listing that misses an acknowledged key, a GET with other bytes, and failed calls with their times. Otherwise
// a cluster test could pass because its load generator cannot see the fault.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { LoadGenerator, type ReadBack, readBack } from './cluster-load.ts';

interface Faults {
  duplicateAcrossPages?: boolean;
  jsOrder?: boolean;
  hide?: string;
  corrupt?: string;
  failPutsFor?: number;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Just enough S3 for the load: PUT, multipart, GET, ListObjectsV2 (continuation token = last key returned). */
function fakeS3(faults: Faults): Server {
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, Map<number, Buffer>>();
  let putsFailed = 0;
  let uploadSeq = 0;
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url!, 'http://x');
      const [, , ...rest] = url.pathname.split('/');
      const key = decodeURIComponent(rest.join('/'));
      const q = url.searchParams;
      const data = await body(req);
      if (req.method === 'PUT' && !q.has('uploadId')) {
        if (putsFailed < (faults.failPutsFor ?? 0)) {
          putsFailed++;
          res.writeHead(503, { 'content-type': 'application/xml' });
          return res.end('<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
        }
        objects.set(key, data);
        res.writeHead(200, { etag: '"e"' });
        return res.end();
      }
      if (req.method === 'POST' && q.has('uploads')) {
        const id = `u${++uploadSeq}`;
        uploads.set(id, new Map());
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>${xml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
        );
      }
      if (req.method === 'PUT') {
        uploads.get(q.get('uploadId')!)!.set(Number(q.get('partNumber')), data);
        res.writeHead(200, { etag: `"p${q.get('partNumber')}"` });
        return res.end();
      }
      if (req.method === 'POST') {
        const parts = uploads.get(q.get('uploadId')!)!;
        objects.set(key, Buffer.concat([...parts.keys()].sort((a, b) => a - b).map((n) => parts.get(n)!)));
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<CompleteMultipartUploadResult><Key>${xml(key)}</Key><ETag>"m-2"</ETag></CompleteMultipartUploadResult>`,
        );
      }
      if (req.method === 'GET' && q.get('list-type') === '2') {
        const order = faults.jsOrder
          ? (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
          : (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
        const all = [...objects.keys()].filter((k) => k !== faults.hide).sort(order);
        const after = q.get('continuation-token');
        let start = after === null ? 0 : all.findIndex((k) => order(k, after) > 0);
        if (start < 0) start = all.length;
        if (faults.duplicateAcrossPages && start > 0) start -= 1;
        const max = Number(q.get('max-keys') ?? 1000);
        const page = all.slice(start, start + max);
        const truncated = start + max < all.length;
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<ListBucketResult><Name>b</Name><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
            `<IsTruncated>${truncated}</IsTruncated>` +
            (truncated ? `<NextContinuationToken>${xml(page.at(-1)!)}</NextContinuationToken>` : '') +
            page.map((k) => `<Contents><Key>${xml(k)}</Key><Size>1</Size></Contents>`).join('') +
            '</ListBucketResult>',
        );
      }
      if (req.method === 'GET') {
        const o = objects.get(key);
        if (!o) {
          res.writeHead(404, { 'content-type': 'application/xml' });
          return res.end('<Error><Code>NoSuchKey</Code><Message>no</Message></Error>');
        }
        const out = Buffer.from(o);
        if (key === faults.corrupt) out[0]! ^= 1;
        res.writeHead(200, { 'content-length': out.length });
        return res.end(out);
      }
      res.writeHead(405);
      res.end();
    })();
  });
}

/** Small objects, and one in ten of 1–2 MiB through multipart: every path of the load, cheaply. */
const sizes = (rnd: () => number) =>
  rnd() % 10 === 0 ? 1024 * 1024 + (rnd() % (1024 * 1024)) : 1 + (rnd() % 8192);

async function runAgainst(faults: Faults, objects = 120): Promise<LoadGenerator & { readBack: ReadBack }> {
  const server = await new Promise<Server>((resolve) => {
    const s = fakeS3(faults).listen(0, '127.0.0.1', () => resolve(s));
  });
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    forcePathStyle: true,
    maxAttempts: 1,
  });
  const load = new LoadGenerator({
    s3,
    bucket: 'b',
    objects,
    workers: 4,
    listers: 1,
    multipartShare: 1,
    sizes,
  });
  await load.run();
  // One listing after the load has ended, so every check sees a complete bucket at least once.
  const r = await readBack(load, s3, 'b', 4);
  s3.destroy();
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  return Object.assign(load, { readBack: r });
}

describe('cluster-load: the load generator sees the faults the cluster tests assert on', {
  timeout: 120_000,
}, () => {
  let clean: LoadGenerator;
  before(async () => {
    clean = await runAgainst({});
  });

  test('a correct endpoint: everything acknowledged, listings clean, every read byte-exact', () => {
    assert.equal(clean.acked.size, 120, clean.summary());
    assert.deepEqual(clean.failures, []);
    assert.deepEqual(clean.listingViolations, []);
    assert.deepEqual(clean.listingMisses, []);
    assert.deepEqual(clean.listingStrays, []);
    assert.deepEqual(clean.corrupt, []);
    assert.ok(clean.counts.listings >= 1 && clean.counts.get > 0, clean.summary());
    assert.ok(
      [...clean.acked.values()].some((a) => a.multipart),
      'some objects went through multipart',
    );
  });

  test('a key repeated across pages, and JS string order instead of UTF-8 byte order, are violations', async () => {
    const dup = await runAgainst({ duplicateAcrossPages: true });
    assert.ok(
      dup.listingViolations.some((v) => v.key === v.previous && v.page > 0),
      dup.summary(),
    );
    const js = await runAgainst({ jsOrder: true });
    assert.ok(js.listingViolations.length > 0, js.summary());
    assert.ok(js.listingViolations.every((v) => v.key !== v.previous));
  });

  test('a listing that misses an acknowledged key, and a GET with other bytes, are caught', async () => {
    const keys = [...clean.acked.keys()];
    const hidden = await runAgainst({ hide: keys[7]! });
    assert.ok(
      hidden.listingMisses.some((m) => m.key === keys[7]),
      hidden.summary(),
    );
    const bad = await runAgainst({ corrupt: keys[3]! });
    assert.deepEqual(bad.readBack.wrong, [keys[3]]);
    assert.ok(bad.corrupt.every((k) => k === keys[3]));
  });

  test('failed puts are counted with their times and their keys kept as unsure', async () => {
    const t0 = performance.now();
    const failing = await runAgainst({ failPutsFor: 5 });
    const puts = failing.failuresOf(['put', 'multipart']);
    assert.equal(puts.length, 5, failing.summary());
    assert.ok(puts.every((f) => f.error === 'ServiceUnavailable' && f.status === 503 && f.endMs >= t0));
    assert.equal(failing.unsure.size, 5);
    assert.equal(failing.acked.size, 115);
  });
});
