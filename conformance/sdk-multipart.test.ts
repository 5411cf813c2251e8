// Multipart uploads through the SDK: ETag arithmetic, part errors, abort, listings, part reads, part copies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { md5hex, multipartEtag, seededBytes } from './bytes.ts';
import { expectS3Error, readBody, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const MiB = 1024 * 1024;

describe('sdk: multipart', () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  const parts = [seededBytes(101, 5 * MiB), seededBytes(102, 5 * MiB + 17), seededBytes(103, 1234)];

  const create = async (key: string) => {
    const res = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: 'application/x-mp',
        Metadata: { m: 'p' },
      }),
    );
    assert.ok(res.UploadId);
    assert.equal(res.Key, key);
    return res.UploadId;
  };
  const upload = async (key: string, uploadId: string, partNumber: number, body: Buffer) => {
    const res = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
      }),
    );
    assert.equal(res.ETag, `"${md5hex(body)}"`);
    return res.ETag!;
  };
  const complete = (key: string, uploadId: string, list: Array<{ PartNumber: number; ETag: string }>) =>
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: list },
      }),
    );

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('mp');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('create, upload 3 parts, list, complete: ETag is md5-of-md5s-N; bytes and part reads exact', async () => {
    const key = 'big/object';
    const id = await create(key);
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) etags.push(await upload(key, id, i + 1, parts[i]!));

    const listedParts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id }));
    assert.deepEqual(
      listedParts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
      parts.map((p, i) => [i + 1, etags[i], p.length]),
    );
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.ok(
      uploads.Uploads?.some((u) => u.Key === key && u.UploadId === id),
      'upload is listed',
    );

    const done = await complete(
      key,
      id,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    const want = multipartEtag(parts);
    assert.equal(done.ETag, want);
    assert.equal(done.Key, key);

    const whole = Buffer.concat(parts);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(got.ETag, want);
    assert.equal(got.ContentType, 'application/x-mp');
    assert.deepEqual(got.Metadata, { m: 'p' });
    assert.ok((await readBody(got.Body)).equals(whole), 'whole object byte-exact');

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: 1 }));
    assert.equal(head.PartsCount, 3);
    assert.equal(head.ContentLength, parts[0]!.length);
    const p2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, PartNumber: 2 }));
    assert.equal(p2.$metadata.httpStatusCode, 206);
    assert.equal(p2.PartsCount, 3);
    const start = parts[0]!.length;
    assert.equal(p2.ContentRange, `bytes ${start}-${start + parts[1]!.length - 1}/${whole.length}`);
    assert.ok((await readBody(p2.Body)).equals(parts[1]!), 'part 2 byte-exact');

    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.ok(!after.Uploads?.some((u) => u.UploadId === id), 'completed upload no longer listed');
  });

  test('Complete with a wrong part ETag → 400 InvalidPart', async () => {
    const key = 'invalid-part';
    const id = await create(key);
    await upload(key, id, 1, parts[2]!);
    await expectS3Error(complete(key, id, [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]), {
      code: 'InvalidPart',
      status: 400,
    });
    await expectS3Error(complete(key, id, [{ PartNumber: 7, ETag: `"${md5hex(parts[2]!)}"` }]), {
      code: 'InvalidPart',
      status: 400,
    });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('Complete with parts out of order → 400 InvalidPartOrder', async () => {
    const key = 'order';
    const id = await create(key);
    const e1 = await upload(key, id, 1, parts[0]!);
    const e2 = await upload(key, id, 2, parts[2]!);
    await expectS3Error(
      complete(key, id, [
        { PartNumber: 2, ETag: e2 },
        { PartNumber: 1, ETag: e1 },
      ]),
      { code: 'InvalidPartOrder', status: 400 },
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('a 1 MiB part that is not the last → 400 EntityTooSmall', async () => {
    const key = 'small-part';
    const id = await create(key);
    const e1 = await upload(key, id, 1, seededBytes(5, MiB));
    const e2 = await upload(key, id, 2, seededBytes(6, 100));
    await expectS3Error(
      complete(key, id, [
        { PartNumber: 1, ETag: e1 },
        { PartNumber: 2, ETag: e2 },
      ]),
      { code: 'EntityTooSmall', status: 400 },
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
  });

  test('Abort, then UploadPart / ListParts / Complete → 404 NoSuchUpload', async () => {
    const key = 'aborted';
    const id = await create(key);
    const e1 = await upload(key, id, 1, parts[2]!);
    const res = await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
    assert.equal(res.$metadata.httpStatusCode, 204);
    const gone = { code: 'NoSuchUpload', status: 404 };
    await expectS3Error(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: id, PartNumber: 2, Body: 'x' })),
      gone,
    );
    await expectS3Error(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })), gone);
    await expectS3Error(complete(key, id, [{ PartNumber: 1, ETag: e1 }]), gone);
    await expectS3Error(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })), {
      code: 'NoSuchKey',
      status: 404,
    });
  });

  test('UploadPartCopy with CopySourceRange builds an object from ranges of another', async () => {
    const src = seededBytes(77, 6 * MiB + 333);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy-src', Body: src }));
    const key = 'from-copies';
    const id = await create(key);
    const cut = 5 * MiB;
    const c1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: key,
        UploadId: id,
        PartNumber: 1,
        CopySource: `${bucket}/copy-src`,
        CopySourceRange: `bytes=0-${cut - 1}`,
      }),
    );
    const c2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: key,
        UploadId: id,
        PartNumber: 2,
        CopySource: `${bucket}/copy-src`,
        CopySourceRange: `bytes=${cut}-${src.length - 1}`,
      }),
    );
    const pieces = [src.subarray(0, cut), src.subarray(cut)];
    assert.equal(c1.CopyPartResult?.ETag, `"${md5hex(pieces[0]!)}"`);
    assert.equal(c2.CopyPartResult?.ETag, `"${md5hex(pieces[1]!)}"`);
    const done = await complete(key, id, [
      { PartNumber: 1, ETag: c1.CopyPartResult!.ETag! },
      { PartNumber: 2, ETag: c2.CopyPartResult!.ETag! },
    ]);
    assert.equal(done.ETag, multipartEtag(pieces));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.ok((await readBody(got.Body)).equals(src));
  });

  test('UploadPartCopy with a range past the source end → 416 InvalidRange', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tiny-src', Body: 'tiny' }));
    const id = await create('bad-range');
    await expectS3Error(
      s3.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: 'bad-range',
          UploadId: id,
          PartNumber: 1,
          CopySource: `${bucket}/tiny-src`,
          CopySourceRange: 'bytes=0-100',
        }),
      ),
      { code: 'InvalidRange', status: 416 },
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'bad-range', UploadId: id }));
  });

  test('ListMultipartUploads pages through uploads and common prefixes with markers', async () => {
    const b = uniqueBucket('mpu-list');
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    const keys = ['a/1', 'a/2', 'b', 'c/x/1', 'd', 'd', 'e/'];
    const ids: string[] = [];
    for (const key of keys) {
      const res = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: key }));
      ids.push(res.UploadId!);
    }
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let page = 0; page < 20; page++) {
      const res = await s3.send(
        new ListMultipartUploadsCommand({
          Bucket: b,
          Delimiter: '/',
          MaxUploads: 2,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
      const items = [
        ...(res.Uploads ?? []).map((u) => ({ at: u.Key!, item: `U:${u.Key}` })),
        ...(res.CommonPrefixes ?? []).map((p) => ({ at: p.Prefix!, item: `P:${p.Prefix}` })),
      ].sort((x, y) => Buffer.compare(Buffer.from(x.at), Buffer.from(y.at)));
      assert.ok(items.length <= 2);
      seen.push(...items.map((i) => i.item));
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    assert.deepEqual(seen, ['P:a/', 'U:b', 'P:c/', 'U:d', 'U:d', 'P:e/']);
    for (let i = 0; i < keys.length; i++) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: b, Key: keys[i]!, UploadId: ids[i]! }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
  });
});
