// CopyObject racing an overwrite of its source: the x-amz-copy-source-if-* conditions are checked on the
// version that is copied. A pause point after the gateway's source lookup lets the source change in
// between; everything else is real (LMDB, volumes, HTTP on 127.0.0.1, the SDK).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import type { StorageApi } from '../../storage/api.ts';
import { StorageNode } from '../../storage/node.ts';
import { md5, tempDir, testOpener, volumeSpecs } from '../../storage/testing/harness.ts';
import { Catalog } from '../../tracker/catalog.ts';
import { createGateway } from '../app.ts';
import { createHashingPool } from '../checksums/index.ts';
import { GatewayMetrics } from '../metrics.ts';

const KEY = { accessKeyId: 'AKCOPYRACE', secretAccessKey: 'secret-copy-race' };

/** A one-shot pause after storage.headObject returned (the gateway's copy-source lookup). */
function pauseAfterHead(inner: StorageApi) {
  let hold: { reached: () => void; gate: Promise<void> } | undefined;
  const api = new Proxy(inner, {
    get: (target, prop, receiver) => {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'headObject' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const r = await value.apply(target, args);
        const h = hold;
        hold = undefined;
        if (h) {
          h.reached();
          await h.gate;
        }
        return r;
      };
    },
  });
  const arm = () => {
    let release!: () => void;
    let reached!: () => void;
    const arrived = new Promise<void>((r) => {
      reached = r;
    });
    const gate = new Promise<void>((r) => {
      release = r;
    });
    hold = { reached, gate };
    return { arrived, release };
  };
  return { api, arm };
}

describe('CopyObject racing an overwrite of its source', { timeout: 60_000 }, () => {
  let server: Server;
  let node: StorageNode;
  let catalog: Catalog;
  let remove: () => Promise<void>;
  let hasher: ReturnType<typeof createHashingPool>;
  let s3: S3Client;
  let pause: ReturnType<typeof pauseAfterHead>;

  before(async () => {
    const t = await tempDir('quire-copy-race-');
    remove = t.remove;
    catalog = Catalog.open(`${t.dir}/tracker`);
    node = await StorageNode.open({
      dataDir: t.dir,
      nodeId: 1,
      volumes: volumeSpecs(t.dir),
      volumeOpener: testOpener().opener,
      smallObjectMaxBytes: 64 * 1024,
    });
    hasher = createHashingPool();
    pause = pauseAfterHead(node);
    const gateway = createGateway({
      buckets: catalog,
      storage: pause.api,
      credentials: (id) => (id === KEY.accessKeyId ? KEY : undefined),
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
    s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      credentials: KEY,
      forcePathStyle: true,
      maxAttempts: 1,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'copy-race' }));
  });

  after(async () => {
    s3.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await node.close();
    await catalog.close();
    await hasher.close();
    await remove();
  });

  async function race(src: string, dst: string, ifMatch: string | undefined) {
    const v1 = Buffer.from(`version one of ${src}`);
    const v2 = Buffer.from(`version two of ${src}, longer`);
    await s3.send(new PutObjectCommand({ Bucket: 'copy-race', Key: src, Body: v1 }));
    const held = pause.arm();
    const copying = s3
      .send(
        new CopyObjectCommand({
          Bucket: 'copy-race',
          Key: dst,
          CopySource: `copy-race/${src}`,
          CopySourceIfMatch: ifMatch,
        }),
      )
      .then(
        () => 'OK',
        (err: unknown) => {
          if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
          throw err;
        },
      );
    await held.arrived;
    await s3.send(new PutObjectCommand({ Bucket: 'copy-race', Key: src, Body: v2 }));
    held.release();
    return { result: await copying, v1, v2 };
  }

  test('with x-amz-copy-source-if-match: 412 when the version it passed on was replaced', async () => {
    const { result } = await race('src1', 'dst1', `"${md5(Buffer.from('version one of src1'))}"`);
    assert.equal(result, '412 PreconditionFailed');
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'copy-race', Key: 'dst1' })), {
      name: 'NoSuchKey',
    });
  });

  test('without conditions: the version current when storage opens it is copied', async () => {
    const { result, v2 } = await race('src2', 'dst2', undefined);
    assert.equal(result, 'OK');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'copy-race', Key: 'dst2' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), v2);
  });
});
