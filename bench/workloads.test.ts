// The benchmark's moving parts against an in-process ceiling: every workload completes without a
// failed request, list paging walks forward, and the figures come out positive. Short runs only.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCeilingServer, listPageXml } from './ceiling.ts';
import { measureDisk } from './disk.ts';
import { quantile } from './load.ts';
import { markdownTable, ratioRow } from './report.ts';
import { BenchS3Client, parseListPage } from './s3client.ts';
import type { HttpTarget } from './workloads.ts';
import {
  BUCKET,
  fillCurve,
  getLatencyUnderLargePuts,
  getSmall,
  listPages,
  putLarge,
  putSmall,
  spreadKey,
} from './workloads.ts';

describe('against an in-process ceiling', () => {
  const server = createCeilingServer();
  let target: HttpTarget;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new BenchS3Client(
      { url: `http://127.0.0.1:${port}`, accessKey: 'ak', secretKey: 'sk' },
      { connections: 8 },
    );
    target = { name: 'ceiling', client, smallWritten: 0, mediumWritten: 0 };
    assert.equal((await client.createBucket(BUCKET)).status, 200);
  });

  after(async () => {
    await target.client.close();
    server.closeAllConnections();
    server.close();
  });

  test('PUT then GET 4 KiB: every request succeeds and GETs find what PUT wrote', async () => {
    const put = await putSmall(target, 8, 200);
    assert.equal(put.result.errors, 0);
    assert.ok(put.opsPerSec > 0);
    assert.equal(target.smallWritten, put.result.ops);
    const get = await getSmall(target, 8, 200);
    assert.equal(get.result.errors, 0, get.result.firstError ?? '');
    assert.equal(get.result.units, get.result.ops * 4096);
  });

  test('a 64 MiB PUT streams the whole object', async () => {
    const r = await putLarge(target, 1, 1, 30_000);
    assert.equal(r.result.ops, 1);
    assert.equal(r.result.units, 64 << 20);
  });

  test('list cursors page forward through 1,000-key pages', async () => {
    const r = await listPages(target, 4, 200);
    assert.equal(r.result.errors, 0);
    assert.ok(r.result.ops > 0);
    assert.equal(r.result.units, r.result.ops * 1000);
  });

  test('the fill curve reports one rate per completed step', async () => {
    const steps = await fillCurve(target, 200, 4, 8, 10_000);
    assert.deepEqual(
      steps.map((s) => s.level),
      [0, 50, 100, 150],
    );
    assert.ok(steps.every((s) => s.putsPerSec > 0));
  });

  test('latency probe gives idle and loaded quantiles', async () => {
    const l = await getLatencyUnderLargePuts(target, 2, 1, 300);
    assert.ok(l.idleP99Ms > 0 && l.loadedP99Ms > 0 && l.largeMbPerSec > 0);
  });
});

test('the client reads what the ceiling writes: key count, truncation, next token', () => {
  const xml = listPageXml('b', new URLSearchParams({ 'start-after': 'fill/000000ff', 'max-keys': '1000' }));
  const page = parseListPage({ status: 200, bytes: xml.length, body: Buffer.from(xml) });
  assert.equal(page.keys, 1000);
  assert.equal(page.truncated, true);
  assert.equal(page.nextToken, 'fill/000004e7'); // 0xff + 1000
  const next = listPageXml('b', new URLSearchParams({ 'continuation-token': page.nextToken! }));
  assert.match(next, /<Contents><Key>fill\/000004e8<\/Key>/);
});

test('list pages unescape XML entities in tokens', () => {
  const body = Buffer.from(
    '<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>a&amp;b&lt;c&#x41;</NextContinuationToken></ListBucketResult>',
  );
  const page = parseListPage({ status: 200, bytes: body.length, body });
  assert.equal(page.keys, 0);
  assert.equal(page.truncated, false);
  assert.equal(page.nextToken, 'a&b<cA');
});

test('spreadKey gives distinct fixed-width keys out of insertion order', () => {
  const keys = Array.from({ length: 10_000 }, (_v, i) => spreadKey('f/', i));
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(keys.every((k) => k.length === 10));
  assert.notDeepEqual([...keys].sort(), keys);
});

test('quantile is nearest-rank', () => {
  const values = Array.from({ length: 100 }, (_v, i) => 100 - i);
  assert.equal(quantile(values, 0.99), 99);
  assert.equal(quantile(values, 0.5), 50);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('ratio rows carry the goal and whether it is met; the table has one line per row', () => {
  const row = ratioRow(
    { section: 'http', figure: 'x', unit: 'ops/s', value: 60, versus: 'c', baseline: 100 },
    0.5,
  );
  assert.equal(row.ratio, 0.6);
  assert.equal(row.met, true);
  assert.equal(row.goal, '≥ 50 %');
  const table = markdownTable([row]).split('\n');
  assert.equal(table.length, 3);
  assert.match(table[2]!, /\| 60\.0 \| ops\/s \| c \| 100 \| 60 % \| ≥ 50 % \| yes \|/);
});

test('the disk ceiling measures and removes its files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-bench-disk-'));
  try {
    const d = await measureDisk({ dir, sequentialBytes: 8 << 20, syncDurationMs: 50 });
    assert.ok(d.sequentialMiBps > 0 && d.syncOpsPerSec > 0 && d.syncInPlaceOpsPerSec > 0);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
