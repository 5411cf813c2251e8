// User input that becomes an index key: the worst valid 1,024-byte keys work on every path (object, copy,
// listing and its markers, multipart and its listings), and over-long parameters get AWS's answer instead of a
// 500 — after which the server still serves every kind of request. Today's failures: CreateMultipartUpload of a
// 1,024-byte key of U+0001 (escaped to twice its length), a 5,000-byte uploadId, a 1,990-byte prefix and long
// uploads-listing markers answered 500, and a 4,000-byte prefix broke every later listing until restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { errorCode, signedRaw } from './raw.ts';
import { decodeListedKey, expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const TIMEOUT = { timeout: 120_000 };

/** Every byte a key may hold that an escaping encoding would double, 1,024 of them. */
const WORST_KEYS: Array<[string, string]> = [
  ['1,024 × U+0001', '\x01'.repeat(1024)],
  ['1,024 × U+0000', '\x00'.repeat(1024)],
  ['1,023 × U+0001 then U+0000', `${'\x01'.repeat(1023)}\x00`],
  ['512 × U+0000 U+0001', '\x00\x01'.repeat(512)],
];

/** A request of every family that touches the index, on ordinary keys: proves the process is still sound. */
async function assertStillServing(s3: S3Client, what: string): Promise<void> {
  const bucket = uniqueBucket('alive');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b', Body: 'x' }));
  const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'a/' }));
  assert.equal(list.KeyCount, 1, `${what}: listing after`);
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
  await s3.send(
    new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: 'p' }),
  );
  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId }));
  assert.equal(parts.Parts?.length, 1, `${what}: ListParts after`);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.equal(uploads.Uploads?.length, 1, `${what}: ListMultipartUploads after`);
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId: up.UploadId }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a/b' }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

describe('index keys: worst valid keys and over-long parameters', () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('keybounds');

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }, TIMEOUT);

  after(async () => {
    s3?.destroy();
    await target?.close();
  }, TIMEOUT);

  for (const [label, key] of WORST_KEYS) {
    test(`worst key ${label}: object, copy, listings, multipart all work`, TIMEOUT, async () => {
      const body = seededBytes(key.length + key.charCodeAt(0) + 1, 2000);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual(await readBody(got.Body), body);
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

      // A copy to a sibling of the same worst shape (last byte changed), and back over itself.
      const sibling = `${key.slice(0, -1)}\x02`;
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: sibling,
          CopySource: `${bucket}/${encodeURIComponent(key)}`,
        }),
      );
      const copied = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: sibling }));
      assert.deepEqual(await readBody(copied.Body), body);

      // Listings with the key as prefix and as markers (url-encoded answers: the key is not valid XML text).
      const listed = async (params: { Prefix?: string; StartAfter?: string }) => {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url', ...params }));
        return (r.Contents ?? []).map((c) => decodeListedKey(c.Key ?? ''));
      };
      assert.deepEqual(await listed({ Prefix: key }), [key]);
      assert.ok((await listed({ StartAfter: key.slice(0, -1) })).includes(key));
      assert.ok(!(await listed({ StartAfter: key })).includes(key));
      assert.ok((await listed({ StartAfter: key })).includes(sibling));
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Marker: key, EncodingType: 'url' }));
      assert.deepEqual(
        (v1.Contents ?? [])
          .map((c) => decodeListedKey(c.Key ?? ''))
          .filter((k) => k === key || k === sibling),
        [sibling],
      );

      // Multipart: create, a part and a part copied from the object, list, list uploads with markers, complete.
      const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploadId = up.UploadId ?? '';
      const p1 = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: body }),
      );
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      assert.deepEqual(
        parts.Parts?.map((p) => p.PartNumber),
        [1],
      );
      const uploads = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, EncodingType: 'url' }),
      );
      assert.deepEqual(
        uploads.Uploads?.map((u) => [decodeListedKey(u.Key ?? ''), u.UploadId]),
        [[key, uploadId]],
      );
      const before = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: key.slice(0, -1), EncodingType: 'url' }),
      );
      assert.ok(before.Uploads?.some((u) => u.UploadId === uploadId));
      const pastId = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: key, UploadIdMarker: uploadId }),
      );
      assert.ok(!pastId.Uploads?.some((u) => u.UploadId === uploadId));
      const atId = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: key, UploadIdMarker: '0' }),
      );
      assert.ok(atId.Uploads?.some((u) => u.UploadId === uploadId));
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] },
        }),
      );
      const completed = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual(await readBody(completed.Body), body);

      // Another upload of the same key: a part copied from the sibling, then aborted.
      const up2 = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      await s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: up2.UploadId,
          PartNumber: 1,
          CopySource: `${bucket}/${encodeURIComponent(sibling)}`,
        }),
      );
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: up2.UploadId }));
      await expectS3Error(
        s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: up2.UploadId })),
        {
          code: 'NoSuchUpload',
          status: 404,
        },
      );

      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: sibling }));
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), {
        code: 'NotFound',
        status: 404,
      });
      await assertStillServing(s3, label);
    });
  }

  test('a 1,025-byte key → 400 KeyTooLongError on every object operation', TIMEOUT, async () => {
    const key = '\x01'.repeat(1025);
    const tooLong = { code: 'KeyTooLongError', status: 400 };
    await expectS3Error(s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' })), tooLong);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })), tooLong);
    await expectS3Error(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })), tooLong);
    await expectS3Error(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })), tooLong);
    await expectS3Error(
      s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'dst',
          CopySource: `${bucket}/${encodeURIComponent(key)}`,
        }),
      ),
      tooLong,
    );
    await assertStillServing(s3, '1,025-byte key');
  });

  test(
    'a 3,000-byte bucket name → 4xx on bucket and object operations, and the server serves on',
    TIMEOUT,
    async () => {
      const name = 'b'.repeat(3000);
      for (const [method, path, query] of [
        ['GET', `/${name}`, { 'list-type': '2' }],
        ['PUT', `/${name}`, {}],
        ['DELETE', `/${name}`, {}],
        ['GET', `/${name}/k`, {}],
        ['PUT', `/${name}/k`, {}],
        ['POST', `/${name}/k`, { uploads: '' }],
      ] as const) {
        const res = await signedRaw(target, { method, path, query });
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${method} ${path.slice(0, 20)}…: ${res.status} ${errorCode(res.body)}`,
        );
      }
      await assertStillServing(s3, '3,000-byte bucket name');
    },
  );

  for (const bytes of [5000]) {
    test(
      `an uploadId of ${bytes} bytes → 404 NoSuchUpload on UploadPart, ListParts, Complete, Abort`,
      TIMEOUT,
      async () => {
        const uploadId = 'u'.repeat(bytes);
        const none = { code: 'NoSuchUpload', status: 404 };
        await expectS3Error(
          s3.send(
            new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 1, Body: 'x' }),
          ),
          none,
        );
        await expectS3Error(
          s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId })),
          none,
        );
        await expectS3Error(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: 'k',
              UploadId: uploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
            }),
          ),
          none,
        );
        await expectS3Error(
          s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId })),
          none,
        );
        await assertStillServing(s3, `${bytes}-byte uploadId`);
      },
    );
  }

  for (const bytes of [1025, 1990, 4000]) {
    test(
      `a ${bytes}-byte prefix matches nothing: empty listings (V2, V1, uploads), and the server serves on`,
      TIMEOUT,
      async () => {
        const prefix = 'p'.repeat(bytes);
        const v2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
        assert.equal(v2.KeyCount, 0);
        assert.equal(v2.IsTruncated, false);
        const v1 = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix }));
        assert.equal(v1.Contents, undefined);
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
        assert.equal(uploads.Uploads, undefined);
        await assertStillServing(s3, `${bytes}-byte prefix`);
      },
    );
  }

  test(
    'markers of 4,000 bytes keep their meaning (keys strictly after them), and the server serves on',
    TIMEOUT,
    async () => {
      const b = uniqueBucket('markers');
      await s3.send(new CreateBucketCommand({ Bucket: b }));
      const atLimit = 'm'.repeat(1024);
      for (const key of [atLimit, 'm', 'n'])
        await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: 'x' }));
      const upM = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: atLimit }));
      const upN = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'n' }));
      const marker = 'm'.repeat(4000); // after every 'm…' key up to 1,024 bytes, before 'n'
      const v2 = await s3.send(new ListObjectsV2Command({ Bucket: b, StartAfter: marker }));
      assert.deepEqual(
        v2.Contents?.map((c) => c.Key),
        ['n'],
      );
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: b, Marker: marker }));
      assert.deepEqual(
        v1.Contents?.map((c) => c.Key),
        ['n'],
      );
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: b, KeyMarker: marker }));
      assert.deepEqual(
        uploads.Uploads?.map((u) => u.UploadId),
        [upN.UploadId],
      );
      const withId = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: b, KeyMarker: atLimit, UploadIdMarker: 'f'.repeat(5000) }),
      );
      assert.deepEqual(
        withId.Uploads?.map((u) => u.UploadId),
        [upN.UploadId],
      );
      const fromId = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: b, KeyMarker: atLimit, UploadIdMarker: '0'.repeat(5000) }),
      );
      assert.deepEqual(
        fromId.Uploads?.map((u) => u.UploadId),
        [upM.UploadId, upN.UploadId],
      );
      await assertStillServing(s3, '4,000-byte markers');
    },
  );
});
