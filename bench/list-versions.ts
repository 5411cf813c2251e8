// ListObjectsV2 on a versioned bucket with many old versions against the same keys unversioned (issue 7):
// fills one node with N keys in bucket `plain` (one version each) and the same N keys × V versions in
// bucket `versioned` (durability 'none': the fill is not what is measured), then lists each bucket whole,
// 1,000 keys a page, the way the gateway does: the storage call alone, and the gateway's list algorithm plus
// its XML (everything of ListObjectsV2 but HTTP, which is the same for both). Reports keys/s, best of 3.
//
//   node --import tsx bench/list-versions.ts [--keys 100000] [--versions 5] [--dir /path]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listPage } from '../gateway/s3/listing.ts';
import { listObjectsV2Xml } from '../gateway/s3/xml.ts';
import type { PutObjectInput, VersioningMode } from '../storage/api.ts';
import { StorageNode } from '../storage/node.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    versions: { type: 'string', default: '5' },
    dir: { type: 'string' },
  },
});
const N = Number(values.keys);
const V = Number(values.versions);
const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'quire-listv-')));
const node = await StorageNode.open({
  dataDir: dir,
  nodeId: 1,
  volumes: [{ dir: join(dir, 'vol1'), volumeId: 'v1', maxBytes: 64 * 2 ** 30, reservedFreeBytes: 0 }],
  durability: 'none',
  indexSync: 'background',
});
const data = Buffer.alloc(100, 7);
const fin = { etag: '0123456789abcdef0123456789abcdef', checksums: {} };
const key = (i: number) => Buffer.from(`data/${String(i).padStart(8, '0')}.bin`);

async function fill(bucket: string, rounds: number, versioning: VersioningMode): Promise<number> {
  const start = performance.now();
  for (let r = 0; r < rounds; r++) {
    let next = 0;
    const writer = async () => {
      for (let i = next++; i < N; i = next++) {
        const input: PutObjectInput = {
          bucket,
          key: key(i),
          size: data.length,
          body: [data] as unknown as AsyncIterable<Buffer>,
          headers: { userMeta: {} },
          nowMs: 1_700_000_000_000 + r,
          finish: async () => fin,
          versioning,
        };
        await node.putObject(input);
      }
    };
    await Promise.all(Array.from({ length: 64 }, writer));
  }
  return (performance.now() - start) / 1000;
}

/** Lists the whole bucket a page of 1,000 at a time; returns keys/s. */
async function listStorage(bucket: string): Promise<number> {
  const start = performance.now();
  let after: Buffer | undefined;
  let n = 0;
  for (;;) {
    const page = await node.listObjects(bucket, {
      prefix: Buffer.alloc(0),
      ...(after ? { after } : {}),
      limit: 1000,
    });
    n += page.length;
    if (page.length < 1000) break;
    after = page[page.length - 1]!.key;
  }
  if (n !== N) throw new Error(`listed ${n} keys of ${N}`);
  return n / ((performance.now() - start) / 1000);
}

/** The gateway's ListObjectsV2 minus HTTP: the list algorithm over the storage call, then the XML. */
async function listGateway(bucket: string): Promise<number> {
  const start = performance.now();
  let after: Buffer | undefined;
  let n = 0;
  let bytes = 0;
  for (;;) {
    const page = await listPage(
      async (a, prefix, limit) =>
        (await node.listObjects(bucket, { prefix, ...(a ? { after: a } : {}), limit })).map((row) => ({
          key: row.key,
          value: row,
        })),
      { prefix: Buffer.alloc(0), ...(after ? { startAfter: after } : {}), maxKeys: 1000 },
    );
    bytes += listObjectsV2Xml({
      bucket,
      prefix: '',
      maxKeys: 1000,
      isTruncated: page.isTruncated,
      contents: page.contents.map(({ value }) => ({
        key: value.key,
        lastModified: new Date(value.lastModifiedMs),
        etag: value.etag,
        size: value.size,
      })),
      commonPrefixes: page.commonPrefixes,
    }).length;
    n += page.contents.length;
    if (!page.isTruncated) break;
    after = page.nextAfter;
  }
  if (n !== N || bytes === 0) throw new Error(`listed ${n} keys of ${N}`);
  return n / ((performance.now() - start) / 1000);
}

const best = async (f: () => Promise<number>) => {
  let b = 0;
  for (let i = 0; i < 3; i++) b = Math.max(b, await f());
  return b;
};

try {
  const plainFill = await fill('plain', 1, 'unversioned');
  const versionedFill = await fill('versioned', V, 'enabled');
  console.log(
    `fill: ${N} keys unversioned in ${plainFill.toFixed(1)} s; ${N} x ${V} versions in ${versionedFill.toFixed(1)} s`,
  );
  await node.rows.settle();
  const stats = await node.stats();
  console.log(`index: ${stats.objects} current rows, ${node.index.versions.getCount()} noncurrent versions`);
  const rows: Array<[string, number, number]> = [];
  for (const bucket of ['plain', 'versioned'])
    rows.push([bucket, await best(() => listStorage(bucket)), await best(() => listGateway(bucket))]);
  console.log('bucket      storage listObjects keys/s   ListObjectsV2 (algorithm + XML) keys/s');
  for (const [b, s, g] of rows)
    console.log(
      `${b.padEnd(11)} ${Math.round(s).toString().padStart(28)}   ${Math.round(g).toString().padStart(38)}`,
    );
  console.log(
    `versioned / plain: storage ${(rows[1]![1] / rows[0]![1]).toFixed(2)}, ListObjectsV2 ${(rows[1]![2] / rows[0]![2]).toFixed(2)}`,
  );
} finally {
  await node.close();
  if (!values.dir) await rm(dir, { recursive: true, force: true });
}
