// ListObjectsV2 and ListObjects (v1) through the SDK: paging, prefixes, delimiters, markers, encoding,
// UTF-8 byte order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { byteOrder, decodeListedKey, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const PAGED_KEYS = 2_500;

async function putAll(s3: S3Client, bucket: string, keys: string[], concurrency = 32): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const TREE = [
  'a.txt',
  'dir1/x',
  'dir1/y',
  'dir1/sub/z',
  'dir2/w',
  'e\uFF21', // fullwidth A: sorts before the emoji in UTF-8, after it in UTF-16
  'e\u{1F642}',
  'sp ace+plus%25',
  'zz',
];

describe('sdk: listing', () => {
  let target: Target;
  let s3: S3Client;
  let paged: string;
  let tree: string;
  const pagedKeys = Array.from({ length: PAGED_KEYS }, (_, i) => `page/${String(i).padStart(5, '0')}`);

  const v2 = (extra: Partial<ListObjectsV2CommandInput>) =>
    s3.send(new ListObjectsV2Command({ Bucket: tree, ...extra }));

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    paged = uniqueBucket('paged');
    tree = uniqueBucket('tree');
    await s3.send(new CreateBucketCommand({ Bucket: paged }));
    await s3.send(new CreateBucketCommand({ Bucket: tree }));
    await putAll(s3, paged, pagedKeys);
    await putAll(s3, tree, TREE);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test(`ListObjectsV2 pages through ${PAGED_KEYS} keys with ContinuationToken`, async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: paged, ContinuationToken: token }));
      pages += 1;
      const keys = res.Contents?.map((c) => c.Key!) ?? [];
      assert.equal(res.KeyCount, keys.length);
      assert.ok(keys.length <= 1000);
      assert.equal(res.MaxKeys, 1000);
      if (token) assert.equal(res.ContinuationToken, token);
      assert.equal(Boolean(res.NextContinuationToken), Boolean(res.IsTruncated));
      seen.push(...keys);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
      assert.ok(pages < 10, 'listing does not end');
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, pagedKeys);
  });

  test('ListObjectsV2 MaxKeys=300 pages, entries carry ETag, Size, LastModified, StorageClass', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const res = await s3.send(
        new ListObjectsV2Command({ Bucket: paged, MaxKeys: 300, ContinuationToken: token }),
      );
      for (const c of res.Contents ?? []) {
        assert.match(c.ETag ?? '', /^"[0-9a-f]{32}"$/);
        assert.equal(c.Size, c.Key!.length);
        assert.ok(c.LastModified instanceof Date);
        assert.equal(c.StorageClass, 'STANDARD');
        seen.push(c.Key!);
      }
      token = res.NextContinuationToken;
    } while (token);
    assert.deepEqual(seen, pagedKeys);
  });

  test('StartAfter skips to the next key', async () => {
    const res = await s3.send(
      new ListObjectsV2Command({ Bucket: paged, StartAfter: 'page/01000', MaxKeys: 2 }),
    );
    assert.deepEqual(
      res.Contents?.map((c) => c.Key),
      ['page/01001', 'page/01002'],
    );
    assert.equal(res.StartAfter, 'page/01000');
  });

  test('whole tree in UTF-8 byte order', async () => {
    const res = await v2({});
    assert.deepEqual(
      res.Contents?.map((c) => c.Key),
      byteOrder(TREE),
    );
    assert.equal(res.KeyCount, TREE.length);
    assert.equal(res.IsTruncated, false);
  });

  test('Delimiter / at the root: CommonPrefixes and top-level keys', async () => {
    const res = await v2({ Delimiter: '/' });
    assert.deepEqual(
      res.CommonPrefixes?.map((p) => p.Prefix),
      ['dir1/', 'dir2/'],
    );
    assert.deepEqual(
      res.Contents?.map((c) => c.Key),
      byteOrder(TREE.filter((k) => !k.includes('/'))),
    );
    assert.equal(res.KeyCount, TREE.filter((k) => !k.includes('/')).length + 2);
    assert.equal(res.Delimiter, '/');
  });

  test('Prefix dir1/ with Delimiter /', async () => {
    const res = await v2({ Prefix: 'dir1/', Delimiter: '/' });
    assert.deepEqual(
      res.Contents?.map((c) => c.Key),
      ['dir1/x', 'dir1/y'],
    );
    assert.deepEqual(
      res.CommonPrefixes?.map((p) => p.Prefix),
      ['dir1/sub/'],
    );
    assert.equal(res.Prefix, 'dir1/');
  });

  test('MaxKeys counts CommonPrefixes; paging with a delimiter returns each prefix once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const res = await v2({ Delimiter: '/', MaxKeys: 2, ContinuationToken: token });
      const items = [
        ...(res.Contents?.map((c) => c.Key!) ?? []),
        ...(res.CommonPrefixes?.map((p) => p.Prefix!) ?? []),
      ];
      assert.ok(items.length <= 2);
      assert.equal(res.KeyCount, items.length);
      seen.push(...items);
      token = res.NextContinuationToken;
    } while (token);
    const want = byteOrder([...TREE.filter((k) => !k.includes('/')), 'dir1/', 'dir2/']);
    assert.deepEqual(byteOrder(seen), want);
    assert.equal(seen.length, want.length);
  });

  test('EncodingType url encodes keys, prefixes and delimiters', async () => {
    const res = await v2({ EncodingType: 'url' });
    assert.equal(res.EncodingType, 'url');
    const keys = res.Contents?.map((c) => c.Key!) ?? [];
    assert.deepEqual(keys.map(decodeListedKey), byteOrder(TREE));
    assert.ok(!keys.some((k) => k.includes(' ') || /[^\x21-\x7e]/.test(k)), `raw keys: ${keys.join(' | ')}`);
  });

  test('FetchOwner adds Owner; without it there is none', async () => {
    const withOwner = await v2({ FetchOwner: true, MaxKeys: 1 });
    assert.ok(withOwner.Contents?.[0]?.Owner?.ID, 'Owner.ID present');
    const without = await v2({ MaxKeys: 1 });
    assert.equal(without.Contents?.[0]?.Owner, undefined);
  });

  test('ListObjects v1: Marker, and NextMarker with a delimiter', async () => {
    const res = await s3.send(new ListObjectsCommand({ Bucket: paged, Marker: 'page/02490' }));
    assert.deepEqual(
      res.Contents?.map((c) => c.Key),
      pagedKeys.slice(2491),
    );
    assert.equal(res.Marker, 'page/02490');
    assert.equal(res.IsTruncated, false);

    const seen: string[] = [];
    let marker: string | undefined;
    for (let round = 0; round < 20; round++) {
      const page = await s3.send(
        new ListObjectsCommand({ Bucket: tree, Delimiter: '/', MaxKeys: 2, Marker: marker }),
      );
      const items = [
        ...(page.Contents?.map((c) => c.Key!) ?? []),
        ...(page.CommonPrefixes?.map((p) => p.Prefix!) ?? []),
      ];
      seen.push(...items);
      if (!page.IsTruncated) break;
      assert.ok(page.NextMarker, 'a truncated v1 listing with a delimiter has NextMarker');
      assert.equal(page.NextMarker, byteOrder(items).at(-1));
      marker = page.NextMarker;
    }
    assert.deepEqual(byteOrder(seen), byteOrder([...TREE.filter((k) => !k.includes('/')), 'dir1/', 'dir2/']));
  });

  test('ListObjects v1 pages 2,500 keys by the last key', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    for (let round = 0; round < 10; round++) {
      const page = await s3.send(new ListObjectsCommand({ Bucket: paged, Marker: marker }));
      const keys = page.Contents?.map((c) => c.Key!) ?? [];
      seen.push(...keys);
      if (!page.IsTruncated) break;
      marker = page.NextMarker ?? keys.at(-1);
    }
    assert.deepEqual(seen, pagedKeys);
  });
});
