// Versioning with the real SDK: Put/GetBucketVersioning, versions on PUT/copy/multipart, GET/HEAD/DELETE by
// version id, delete markers (404/405 with x-amz-delete-marker), suspended null versions, DeleteObjects with
// VersionId, ListObjectVersions (order, IsLatest, paging, delimiter, encoding-type=url), and every version
// coming back after a SIGKILL and after `quire rebuild-index`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { errorCode, keyPath, signedRaw } from './raw.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { REPO_ROOT, startTarget, type Target } from './target.ts';
import { run } from './tree.ts';

describe('versioning', { timeout: 120_000 }, () => {
  let target: Target;
  let s3: S3Client;
  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  async function versionedBucket(
    prefix: string,
    status: 'Enabled' | 'Suspended' = 'Enabled',
  ): Promise<string> {
    const b = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    if (status === 'Suspended')
      await s3.send(
        new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: status } }),
      );
    return b;
  }
  const put = (Bucket: string, Key: string, Body: string) =>
    s3.send(new PutObjectCommand({ Bucket, Key, Body }));
  const get = async (Bucket: string, Key: string, VersionId?: string) =>
    (await readBody((await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body)).toString();
  const listVersions = (
    Bucket: string,
    extra: Partial<{ Prefix: string; Delimiter: string; MaxKeys: number }> = {},
  ) => s3.send(new ListObjectVersionsCommand({ Bucket, ...extra }));
  /** Versions and delete markers in the order the XML gave them (the SDK splits them; key, then newest). */
  const ordered = (r: ListObjectVersionsCommandOutput) => [
    ...(r.Versions ?? []).map((v) => ({
      k: v.Key!,
      id: v.VersionId!,
      latest: v.IsLatest!,
      dm: false,
      t: v.LastModified!,
    })),
    ...(r.DeleteMarkers ?? []).map((v) => ({
      k: v.Key!,
      id: v.VersionId!,
      latest: v.IsLatest!,
      dm: true,
      t: v.LastModified!,
    })),
  ];

  test('Put/GetBucketVersioning: unset, Enabled, Suspended; bad configurations are refused as AWS does', async () => {
    const b = uniqueBucket('vcfg');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, undefined);
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Enabled');
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }),
    );
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    const raw = (body: string) =>
      signedRaw(target, { method: 'PUT', path: `/${b}`, query: { versioning: '' }, body: Buffer.from(body) });
    const bad = await raw('<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>');
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'MalformedXML');
    const none = await raw('<VersioningConfiguration></VersioningConfiguration>');
    assert.equal(none.status, 400);
    assert.equal(errorCode(none.body), 'IllegalVersioningConfigurationException');
    const notXml = await raw('<Versioning');
    assert.equal(errorCode(notXml.body), 'MalformedXML');
    // Never back to unversioned: still Suspended.
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: b }))).Status, 'Suspended');
    await expectS3Error(s3.send(new GetBucketVersioningCommand({ Bucket: uniqueBucket('nosuch') })), {
      code: 'NoSuchBucket',
      status: 404,
    });
  });

  test('PUT makes versions; GET/HEAD by id; a delete marker hides the key (404), by id it is 405', async () => {
    const b = await versionedBucket('vobj');
    const v1 = (await put(b, 'k', 'one')).VersionId!;
    const v2 = (await put(b, 'k', 'two')).VersionId!;
    assert.ok(v1 && v2 && v1 !== v2);
    assert.equal(await get(b, 'k'), 'two');
    assert.equal(await get(b, 'k', v1), 'one');
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'k', VersionId: v1 }));
    assert.equal(head.VersionId, v1);
    assert.equal(head.ContentLength, 3);
    assert.equal((await s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' }))).VersionId, v2);

    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.ok(del.VersionId && del.VersionId !== v2);
    const e404 = await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k' })), {
      code: 'NoSuchKey',
      status: 404,
    });
    assert.equal(e404.$response?.headers['x-amz-delete-marker'], 'true');
    assert.equal(e404.$response?.headers['x-amz-version-id'], del.VersionId);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId })), {
      code: 'MethodNotAllowed',
      status: 405,
    });
    const headDm = await signedRaw(target, {
      method: 'HEAD',
      path: keyPath(b, 'k'),
      query: { versionId: del.VersionId! },
    });
    assert.equal(headDm.status, 405);
    assert.equal(headDm.body.length, 0);
    assert.equal(headDm.headers['x-amz-delete-marker'], 'true');
    const headCur = await signedRaw(target, { method: 'HEAD', path: keyPath(b, 'k') });
    assert.equal(headCur.status, 404);
    assert.equal(headCur.headers['x-amz-delete-marker'], 'true');
    // The old versions are still there and readable by id; LIST skips the key.
    assert.equal(await get(b, 'k', v2), 'two');
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: b }))).KeyCount, 0);
    // Removing the marker by id brings v2 back.
    const undel = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: del.VersionId }));
    assert.equal(undel.DeleteMarker, true);
    assert.equal(undel.VersionId, del.VersionId);
    assert.equal(await get(b, 'k'), 'two');
    // Removing a version by id: gone for good; the next newest becomes current.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 }));
    assert.equal(await get(b, 'k'), 'one');
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 })), {
      code: 'NoSuchVersion',
      status: 404,
    });
    // Idempotent: a version id that is not there is 204, naming it.
    const again = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: v2 }));
    assert.equal(again.VersionId, v2);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: b, Key: 'k', VersionId: 'bogus' })), {
      code: 'InvalidArgument',
      status: 400,
    });
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k', VersionId: 'bogus' })), {
      code: 'InvalidArgument',
      status: 400,
    });
    // A bucket holding only versions is not empty.
    await expectS3Error(s3.send(new DeleteBucketCommand({ Bucket: b })), {
      code: 'BucketNotEmpty',
      status: 409,
    });
  });

  test('suspended: the null version is replaced, older versions stay; a suspended DELETE is a null marker', async () => {
    const b = await versionedBucket('vsusp');
    const v1 = (await put(b, 'k', 'one')).VersionId!;
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }),
    );
    assert.equal((await put(b, 'k', 'n1')).VersionId, 'null');
    assert.equal((await put(b, 'k', 'n2')).VersionId, 'null');
    let r = ordered(await listVersions(b));
    assert.deepEqual(
      r.map((v) => [v.id, v.latest, v.dm]),
      [
        ['null', true, false],
        [v1, false, false],
      ],
    );
    assert.equal(await get(b, 'k', 'null'), 'n2');
    const del = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'k' }));
    assert.equal(del.DeleteMarker, true);
    assert.equal(del.VersionId, 'null');
    r = ordered(await listVersions(b));
    assert.deepEqual(
      r.map((v) => [v.id, v.latest, v.dm]).sort(),
      [
        ['null', true, true],
        [v1, false, false],
      ].sort(),
    );
    assert.equal(await get(b, 'k', v1), 'one');
  });

  test('CopyObject and multipart: versions, x-amz-copy-source versionId, UploadPartCopy from a version', async () => {
    const b = await versionedBucket('vcopy');
    const v1 = (await put(b, 'src', 'first source')).VersionId!;
    await put(b, 'src', 'second source');
    const copied = await s3.send(
      new CopyObjectCommand({ Bucket: b, Key: 'dst', CopySource: `${b}/src?versionId=${v1}` }),
    );
    assert.equal(copied.CopySourceVersionId, v1);
    assert.ok(copied.VersionId);
    assert.equal(await get(b, 'dst'), 'first source');
    // Copying an object onto itself from an older version is allowed (it restores that version).
    const restored = await s3.send(
      new CopyObjectCommand({ Bucket: b, Key: 'src', CopySource: `${b}/src?versionId=${v1}` }),
    );
    assert.equal(await get(b, 'src'), 'first source');
    assert.notEqual(restored.VersionId, v1);
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/src?versionId=AAAAAAAAAAAAAAAA` }),
      ),
      { code: 'NoSuchVersion', status: 404 },
    );
    const dm = await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'src' }));
    await expectS3Error(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/src` })), {
      code: 'NoSuchKey',
      status: 404,
    });
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/src?versionId=${dm.VersionId}` }),
      ),
      { code: 'InvalidRequest', status: 400 },
    );

    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp' }));
    const p1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: b,
        Key: 'mp',
        UploadId: up.UploadId,
        PartNumber: 1,
        CopySource: `${b}/src?versionId=${v1}`,
      }),
    );
    assert.equal(p1.CopySourceVersionId, v1);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'mp',
        UploadId: up.UploadId,
        MultipartUpload: {
          Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult!.ETag }],
        },
      }),
    );
    assert.ok(done.VersionId);
    assert.equal(await get(b, 'mp', done.VersionId), 'first source');
  });

  test('DeleteObjects with VersionId per key; markers reported as DeleteMarker/DeleteMarkerVersionId', async () => {
    const b = await versionedBucket('vmulti');
    const a1 = (await put(b, 'a', 'a1')).VersionId!;
    const a2 = (await put(b, 'a', 'a2')).VersionId!;
    await put(b, 'c', 'c1');
    const res = await s3.send(
      new DeleteObjectsCommand({
        Bucket: b,
        Delete: {
          Objects: [{ Key: 'a', VersionId: a1 }, { Key: 'c' }, { Key: 'a', VersionId: 'bogus' }],
        },
      }),
    );
    const deleted = (res.Deleted ?? []).map((d) => ({
      k: d.Key,
      v: d.VersionId,
      dm: d.DeleteMarker,
      dmv: d.DeleteMarkerVersionId,
    }));
    assert.deepEqual(deleted[0], { k: 'a', v: a1, dm: undefined, dmv: undefined });
    assert.equal(deleted[1]!.k, 'c');
    assert.equal(deleted[1]!.dm, true);
    assert.ok(deleted[1]!.dmv);
    assert.deepEqual(
      (res.Errors ?? []).map((e) => [e.Key, e.VersionId, e.Code]),
      [['a', 'bogus', 'NoSuchVersion']],
    );
    const r = ordered(await listVersions(b));
    assert.deepEqual(
      r.map((v) => [v.k, v.id, v.dm]).sort(),
      [
        ['a', a2, false],
        ['c', deleted[1]!.dmv, true],
        ['c', r.find((v) => v.k === 'c' && !v.dm)!.id, false],
      ].sort(),
    );
  });

  test('ListObjectVersions: key order then newest first, IsLatest, paging markers, delimiter, encoding-type=url', async () => {
    const b = await versionedBucket('vlist');
    const ids: Record<string, string[]> = {};
    for (const k of ['b/x', 'a', 'b/y', 'c']) {
      ids[k] = [];
      for (let i = 0; i < 3; i++) ids[k]!.unshift((await put(b, k, `${k}${i}`)).VersionId!);
    }
    const dm = (await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'c' }))).VersionId!;
    ids.c!.unshift(dm);
    // Raw XML: Version and DeleteMarker interleaved in AWS's order.
    const raw = await signedRaw(target, { method: 'GET', path: `/${b}`, query: { versions: '' } });
    const text = raw.body.toString();
    const seq = [
      ...text.matchAll(
        /<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId><IsLatest>(true|false)/g,
      ),
    ].map((m) => [m[2], m[3], m[4] === 'true', m[1] === 'DeleteMarker']);
    const want: unknown[] = [];
    for (const k of ['a', 'b/x', 'b/y', 'c'])
      for (const [i, id] of ids[k]!.entries()) want.push([k, id, i === 0, k === 'c' && i === 0]);
    assert.deepEqual(seq, want);
    // Paging two at a time walks the same sequence.
    const paged: unknown[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (let guard = 0; guard < 20; guard++) {
      const p = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: b,
          MaxKeys: 2,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
        }),
      );
      const items = ordered(p).sort((x, y) => (x.k === y.k ? 0 : x.k < y.k ? -1 : 1));
      for (const v of items) paged.push(v.id);
      if (!p.IsTruncated) break;
      keyMarker = p.NextKeyMarker;
      versionMarker = p.NextVersionIdMarker;
    }
    assert.deepEqual(paged.sort(), want.map((w) => (w as unknown[])[1]).sort());
    assert.equal(paged.length, want.length);
    // Delimiter: b/ is one common prefix.
    const d = await listVersions(b, { Delimiter: '/' });
    assert.deepEqual(
      d.CommonPrefixes?.map((c) => c.Prefix),
      ['b/'],
    );
    assert.equal((d.Versions ?? []).filter((v) => v.Key!.startsWith('b/')).length, 0);
    // Prefix, max-keys 0, a version-id-marker alone is InvalidArgument.
    assert.equal((await listVersions(b, { Prefix: 'b/y' })).Versions?.length, 3);
    const bad = await signedRaw(target, {
      method: 'GET',
      path: `/${b}`,
      query: { versions: '', 'version-id-marker': ids.a![0]! },
    });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad.body), 'InvalidArgument');
    await put(b, 'e sp\u00e9', 'x');
    const enc = await signedRaw(target, {
      method: 'GET',
      path: `/${b}`,
      query: { versions: '', 'encoding-type': 'url', prefix: 'e' },
    });
    assert.match(enc.body.toString(), /<Key>e\+sp%C3%A9<\/Key>/);
    assert.match(enc.body.toString(), /<EncodingType>url<\/EncodingType>/);
  });

  test('unversioned buckets: no x-amz-version-id, ListObjectVersions shows null versions', async () => {
    const b = uniqueBucket('vnone');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const r = await put(b, 'k', 'x');
    assert.equal(r.VersionId, undefined);
    const l = await listVersions(b);
    assert.deepEqual(
      (l.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]),
      [['k', 'null', true]],
    );
  });

  test('every version and delete marker survives a SIGKILL, and `quire rebuild-index`', {
    timeout: 120_000,
  }, async (t) => {
    if (!target.embedded) return t.skip('needs the embedded server');
    const b = await versionedBucket('vcrash');
    for (let i = 0; i < 4; i++) await put(b, 'k', `k${i}`);
    await put(b, 'big', 'x'.repeat(2 * 1024 * 1024));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'big' }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Suspended' } }),
    );
    await put(b, 's', 'null one');
    const snapshot = async () => {
      const r = ordered(await listVersions(b));
      const out = [];
      for (const v of r) out.push([v.k, v.id, v.latest, v.dm, v.dm ? '' : await get(b, v.k, v.id)]);
      return out.sort();
    };
    const want = await snapshot();
    assert.equal(want.length, 4 + 2 + 1);
    await target.kill();
    await target.start();
    assert.deepEqual(await snapshot(), want);
    await target.stop();
    const res = await run(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'quire.mjs'), 'rebuild-index', '--data', target.dataDir!],
      process.env,
    );
    assert.equal(res.code, 0, res.stderr);
    await target.start();
    assert.deepEqual(await snapshot(), want);
  });
});
