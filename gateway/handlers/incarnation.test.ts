// A bucket is its incarnation, not its name: requests admitted for a bucket that is deleted (and recreated by
// another key) while they run can neither land in nor read from the new bucket. Races are driven by pause
// points at the gateway → storage seam; everything else is real: LMDB, volumes, HTTP on 127.0.0.1, the SDK.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import type { StorageApi } from '../../storage/api.ts';
import { StorageNode } from '../../storage/node.ts';
import { tempDir, testOpener, volumeSpecs } from '../../storage/testing/harness.ts';
import { Catalog } from '../../tracker/catalog.ts';
import { createGateway } from '../app.ts';
import { createHashingPool } from '../checksums/index.ts';
import { GatewayMetrics } from '../metrics.ts';

const KEY1 = { accessKeyId: 'AKINCARNATIONONE', secretAccessKey: 'secret-one' };
const KEY2 = { accessKeyId: 'AKINCARNATIONTWO', secretAccessKey: 'secret-two' };
const T = { timeout: 60_000 };

type Phase = 'before' | 'after';
interface Hold {
  /** Resolves when a call reached the pause point. */
  readonly reached: Promise<void>;
  release(): void;
}

/** One-shot pause points on StorageApi methods: before the call goes in, or after it returned. */
class PausePoints {
  private readonly holds = new Map<string, { arrive: () => void; gate: Promise<void> }>();

  hold(method: keyof StorageApi, phase: Phase): Hold {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => {
      arrive = r;
    });
    const gate = new Promise<void>((r) => {
      release = r;
    });
    this.holds.set(`${method}:${phase}`, { arrive, gate });
    return { reached, release };
  }

  private async pass(method: string, phase: Phase): Promise<void> {
    const h = this.holds.get(`${method}:${phase}`);
    if (!h) return;
    this.holds.delete(`${method}:${phase}`);
    h.arrive();
    await h.gate;
  }

  wrap(inner: StorageApi): StorageApi {
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return async (...args: unknown[]) => {
          await this.pass(prop, 'before');
          const result = await value.apply(target, args);
          await this.pass(prop, 'after');
          return result;
        };
      },
    });
  }
}

async function s3Code(op: Promise<unknown>): Promise<string> {
  try {
    await op;
    return 'OK';
  } catch (err) {
    if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
    throw err;
  }
}

describe('bucket incarnations over HTTP with two keys', () => {
  let server: Server;
  let node: StorageNode;
  let catalog: Catalog;
  let remove: () => Promise<void>;
  let hasher: ReturnType<typeof createHashingPool>;
  const pauses = new PausePoints();
  let one: S3Client;
  let two: S3Client;
  let seq = 0;
  const bucketName = () => `incarnation-${process.pid}-${++seq}`;

  before(async () => {
    const t = await tempDir('quire-incarnation-');
    remove = t.remove;
    catalog = Catalog.open(`${t.dir}/tracker`);
    node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 1,
      volumes: volumeSpecs(t.dir),
      volumeOpener: testOpener().opener,
      smallObjectMaxBytes: 64 * 1024,
      minPartBytes: 5 * 1024 * 1024,
    });
    hasher = createHashingPool();
    const keys = new Map([KEY1, KEY2].map((k) => [k.accessKeyId, k]));
    const gateway = createGateway({
      buckets: catalog,
      storage: pauses.wrap(node),
      credentials: (id) => keys.get(id),
      region: 'us-east-1',
      baseDomains: [],
      logger: pino({ level: 'silent' }),
      metrics: new GatewayMetrics(async () => []),
      hasher,
      limits: { maxObjectBytes: 1 << 30, minPartBytes: 5 * 1024 * 1024 },
      clock: () => Date.now(),
      isReady: () => true,
    });
    server = createServer(gateway.listener);
    server.on('checkContinue', gateway.listener);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = (credentials: typeof KEY1) =>
      new S3Client({ endpoint, region: 'us-east-1', credentials, forcePathStyle: true, maxAttempts: 1 });
    one = client(KEY1);
    two = client(KEY2);
  });

  after(async () => {
    one.destroy();
    two.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await node.close();
    await catalog.close();
    await hasher.close();
    await remove();
  });

  /** Key 1 deletes its bucket and key 2 creates one of the same name. */
  async function handOver(name: string): Promise<void> {
    assert.equal(await s3Code(one.send(new DeleteBucketCommand({ Bucket: name }))), 'OK');
    assert.equal(await s3Code(two.send(new CreateBucketCommand({ Bucket: name }))), 'OK');
  }

  async function assertNothingUnder(id: string): Promise<void> {
    assert.equal(await node.hasObjects(id), false, 'objects left under the dead incarnation');
    assert.deepEqual(await node.listUploads(id, { prefix: Buffer.alloc(0), limit: 10 }), []);
  }

  test(
    'a PUT admitted before its bucket was deleted and recreated answers NoSuchBucket and plants nothing',
    T,
    async () => {
      const name = bucketName();
      await one.send(new CreateBucketCommand({ Bucket: name }));
      const old = catalog.getBucket(name)!;
      const hold = pauses.hold('putObject', 'before');
      const put = s3Code(
        one.send(new PutObjectCommand({ Bucket: name, Key: 'planted', Body: 'from key 1' })),
      );
      await hold.reached;
      await handOver(name);
      hold.release();
      assert.equal(await put, '404 NoSuchBucket');
      const listed = await two.send(new ListObjectsV2Command({ Bucket: name }));
      assert.equal(listed.KeyCount, 0);
      assert.equal(
        await s3Code(two.send(new GetObjectCommand({ Bucket: name, Key: 'planted' }))),
        '404 NoSuchKey',
      );
      await assertNothingUnder(old.id);
      await two.send(new DeleteBucketCommand({ Bucket: name }));
    },
  );

  test('a write that storage committed before the delete decided keeps the bucket alive', T, async () => {
    const name = bucketName();
    await one.send(new CreateBucketCommand({ Bucket: name }));
    const hold = pauses.hold('putObject', 'after');
    const put = s3Code(one.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'kept' })));
    await hold.reached;
    assert.equal(await s3Code(one.send(new DeleteBucketCommand({ Bucket: name }))), '409 BucketNotEmpty');
    hold.release();
    assert.equal(await put, 'OK');
    const got = await one.send(new GetObjectCommand({ Bucket: name, Key: 'k' }));
    assert.equal(await got.Body?.transformToString(), 'kept');
  });

  test(
    'a write committed while the delete is deciding waits for the verdict, then fails cleanly',
    T,
    async () => {
      const name = bucketName();
      await one.send(new CreateBucketCommand({ Bucket: name }));
      const old = catalog.getBucket(name)!;
      // The delete has found no objects and no uploads, and stops before removing the bucket.
      const deciding = pauses.hold('listUploads', 'after');
      const del = s3Code(one.send(new DeleteBucketCommand({ Bucket: name })));
      await deciding.reached;
      const committed = pauses.hold('putObject', 'after');
      const put = s3Code(one.send(new PutObjectCommand({ Bucket: name, Key: 'late', Body: 'too late' })));
      await committed.reached;
      assert.equal(await node.hasObjects(old.id), true);
      committed.release();
      deciding.release();
      assert.equal(await del, 'OK');
      assert.equal(await put, '404 NoSuchBucket');
      await assertNothingUnder(old.id);
    },
  );

  test(
    'DeleteBucket refuses while a multipart upload is in progress; a new owner never sees it',
    T,
    async () => {
      const name = bucketName();
      await one.send(new CreateBucketCommand({ Bucket: name }));
      const { UploadId } = await one.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'mp' }));
      const part = await one.send(
        new UploadPartCommand({ Bucket: name, Key: 'mp', UploadId, PartNumber: 1, Body: 'part one' }),
      );
      assert.equal(await s3Code(one.send(new DeleteBucketCommand({ Bucket: name }))), '409 BucketNotEmpty');
      await one.send(new AbortMultipartUploadCommand({ Bucket: name, Key: 'mp', UploadId }));
      await handOver(name);
      const uploads = await two.send(new ListMultipartUploadsCommand({ Bucket: name }));
      assert.equal(uploads.Uploads?.length ?? 0, 0);
      const complete = two.send(
        new CompleteMultipartUploadCommand({
          Bucket: name,
          Key: 'mp',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
        }),
      );
      assert.equal(await s3Code(complete), '404 NoSuchUpload');
      await two.send(new DeleteBucketCommand({ Bucket: name }));
    },
  );

  test(
    'an upload created for a bucket deleted and recreated meanwhile is invisible to the new owner',
    T,
    async () => {
      const name = bucketName();
      await one.send(new CreateBucketCommand({ Bucket: name }));
      const old = catalog.getBucket(name)!;
      const hold = pauses.hold('createUpload', 'before');
      const create = s3Code(one.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'mp' })));
      await hold.reached;
      await handOver(name);
      hold.release();
      assert.equal(await create, '404 NoSuchBucket');
      const uploads = await two.send(new ListMultipartUploadsCommand({ Bucket: name }));
      assert.equal(uploads.Uploads?.length ?? 0, 0);
      await assertNothingUnder(old.id);
      // The new bucket is empty, so its owner can delete it: nothing of key 1 keeps it alive.
      assert.equal(await s3Code(two.send(new DeleteBucketCommand({ Bucket: name }))), 'OK');
    },
  );

  test(
    "a read admitted for a deleted incarnation answers NoSuchBucket, not the new bucket's object",
    T,
    async () => {
      const name = bucketName();
      await one.send(new CreateBucketCommand({ Bucket: name }));
      const hold = pauses.hold('openObject', 'before');
      const get = s3Code(one.send(new GetObjectCommand({ Bucket: name, Key: 'k' })));
      await hold.reached;
      await handOver(name);
      await two.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: "key 2's secret" }));
      hold.release();
      assert.equal(await get, '404 NoSuchBucket');
    },
  );
});
