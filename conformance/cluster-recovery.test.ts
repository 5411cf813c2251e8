// Recovery pull with real processes on 127.0.0.1 (tracker, 2 syncgroups × 2 storage nodes, gateway):
//   - a node's data directory is wiped and the node restarted: it pulls everything from its mirror, with writes,
//     overwrites and deletes going on meanwhile; SIGKILLed halfway through the pull (seen in the tracker's status,
//     the same JSON `quire status --json` prints) and restarted, it resumes after its cursor and completes; then
//     its mirror is SIGKILLed and every object is read through the gateway from it alone, byte-exact;
//   - a third node added to the syncgroup (replication factor 2 → 3) pulls the same way, becomes up, and alone
//     serves everything.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { CREDS, type Proc, startCluster, startProc, type TestCluster } from './cluster.ts';
import { byteOrder } from './sdk.ts';

// The runner gives a file 600 s; on an idle machine this one takes about two minutes.
const T = { timeout: 285_000 };
const MiB = 1024 * 1024;

interface NodeStatus {
  nodeId: string;
  url: string;
  syncgroup: string;
  state: 'up' | 'suspect' | 'recovering';
  objects: number;
  phase?: string;
  recovery?: {
    fromNodeId: string;
    objects: number;
    bytes: number;
    totalObjects?: number;
    totalBytes?: number;
  };
}

describe('recovery pull: a wiped node and a third node refill from a live mirror (real processes)', {
  timeout: 590_000,
}, () => {
  let c: TestCluster;
  const bucket = 'refill';
  /** What every acknowledged write left: key → bytes; deleted keys are absent. */
  const want = new Map<string, Buffer>();
  const deleted = new Set<string>();
  /** Storage nodes this file started itself (the cluster's `close` stops its own). */
  const mine: Proc[] = [];

  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await Promise.all(mine.map((p) => p.kill()));
    await c?.close();
  });

  /** A storage node of syncgroup `name.split('-')[1]`, as an operator starts it (throttled: a pull lasts seconds). */
  async function startNode(
    name: string,
    extra: string[] = [],
    port = '0',
  ): Promise<{ proc: Proc; url: string }> {
    const proc = startProc(
      name,
      [
        'storage',
        '--data',
        join(c.dir, name),
        '--port',
        port,
        '--syncgroup',
        name.split('-')[1]!,
        '--tracker',
        c.trackerUrl,
        '--cluster-secret-file',
        c.secretFile,
        '--heartbeat-ms',
        '200',
        ...extra,
      ],
      c.dir,
    );
    mine.push(proc);
    const url = await proc.line(/is serving at (\S+);/);
    return { proc, url };
  }

  /**
   * A client that retries as SDKs do by default: on this shared 2-core machine a live node's heartbeat is sometimes
   * late enough for the tracker to call it suspect for a moment, and the gateway then answers 503 (retryable).
   */
  let client: S3Client | undefined;
  function s3Client(): S3Client {
    client ??= new S3Client({
      endpoint: c.endpoint,
      region: 'us-east-1',
      credentials: CREDS,
      forcePathStyle: true,
      maxAttempts: 8,
    });
    return client;
  }

  async function nodes(): Promise<NodeStatus[]> {
    const s = (await c.internal(`${c.trackerUrl}/v1/status`)).json as {
      syncgroups: Array<{ nodes: NodeStatus[] }>;
    };
    return s.syncgroups.flatMap((g) => g.nodes);
  }

  /** Polls the tracker's status (what `quire status --json` prints) until `pred` holds for the node at `url`. */
  async function waitNode(url: string, pred: (n: NodeStatus) => boolean, what: string): Promise<NodeStatus> {
    const deadline = Date.now() + 240_000;
    for (;;) {
      // Any entry at that address (a node replacing a wiped one at the same address shows beside it at first).
      const at = (await nodes()).filter((x) => x.url === url);
      const n = at.find(pred);
      if (n) return n;
      if (Date.now() > deadline) throw new Error(`node ${url} never ${what}: ${JSON.stringify(at)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until the node's log (every run of it, appended) has a line matching `re`. */
  async function logged(name: string, re: RegExp): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const text = readFileSync(join(c.dir, `${name}.log`), 'utf8');
      if (re.test(text)) return;
      if (Date.now() > deadline) throw new Error(`${name} never logged ${re}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stats(url: string): Promise<{ objects: number }> {
    const r = await c.internal(`${url}/v1/stats`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as { objects: number };
  }

  /** The bytes of every version the node at `url` holds: what a pull from it copies (live bytes count slack too). */
  async function objectBytes(url: string): Promise<number> {
    const keys = (await c.internal(`${url}/v1/scanKeys`, { limit: 10_000 })).json as unknown[];
    let n = 0;
    for (const k of keys) {
      const states = (await c.internal(`${url}/v1/replicaStates`, k)).json as Array<{
        record?: { size: number; deleteMarker?: boolean };
      }>;
      for (const s of states) if (s.record && !s.record.deleteMarker) n += s.record.size;
    }
    return n;
  }

  async function put(key: string, body: Buffer): Promise<void> {
    await s3Client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    want.set(key, body);
    deleted.delete(key);
  }

  async function multipart(key: string, seed: number): Promise<void> {
    const s3 = s3Client();
    const parts = [seededBytes(seed, 5 * MiB), seededBytes(seed + 1, MiB + 333)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const etags: string[] = [];
    for (const [i, body] of parts.entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }),
      );
      etags.push(r.ETag!);
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    want.set(key, Buffer.concat(parts));
  }

  async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (next < items.length) await fn(items[next++]!);
      }),
    );
  }

  /** Every acknowledged object through the gateway, byte-exact; every deleted key absent; the listing exact. */
  async function readEverything(): Promise<void> {
    const s3 = s3Client();
    await inParallel([...want.keys()], 12, async (k) => {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      const got = Buffer.from(await r.Body!.transformToByteArray());
      assert.ok(
        got.equals(want.get(k)!),
        `bytes of ${k}: ${got.length} read, ${want.get(k)!.length} written`,
      );
    });
    for (const k of deleted) {
      await assert.rejects(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: k })),
        (e: S3ServiceException) => e.name === 'NoSuchKey',
        `${k} was deleted`,
      );
    }
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: 400,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      listed.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(listed, byteOrder([...want.keys()]));
  }

  const size = (i: number) =>
    i % 40 === 0 ? MiB + ((i * 7919) % (2 * MiB)) : 1024 + ((i * 7919) % (48 * 1024));

  test(
    'a wiped node pulls everything from its mirror, resumes after a SIGKILL halfway, then serves it all alone',
    T,
    async () => {
      const s3 = s3Client();
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const first = Array.from({ length: 120 }, (_, i) => i);
      await inParallel(first, 8, (i) => put(`obj/${i}`, seededBytes(i, size(i))));
      for (let i = 0; i < 1; i++) await multipart(`multi/${i}`, 10_000 + i * 2);

      const before = await nodes();
      const victimUrl = c.nodeUrls.get('storage-a-1')!;
      const mirrorUrl = c.nodeUrls.get('storage-a-2')!;
      const mirror = before.find((n) => n.url === mirrorUrl)!;
      const held = (await stats(mirrorUrl)).objects;
      assert.ok(held > 40, `the mirror holds ${held} objects`);
      assert.equal((await stats(victimUrl)).objects, held, 'both members of a syncgroup hold everything');

      // The disk is replaced: the node's whole data directory is gone.
      await c.nodes.find((n) => n.name === 'storage-a-1')!.kill();
      rmSync(join(c.dir, 'storage-a-1'), { recursive: true, force: true });
      // Throttled so the pull takes about 12 s whatever share of the data this syncgroup got (keys spread by the
      // nodes' random ids): a kill by its progress lands mid-pull, with the cursor persisted (every 2 s) before it.
      const throttle = [
        '--recovery-bytes-per-second',
        String(Math.max(16 * 1024, Math.round((await objectBytes(mirrorUrl)) / 12))),
      ];
      // At the same address: the tracker lets the new node (a new id) replace the old one's entry.
      const port = new URL(victimUrl).port;
      let fresh = await startNode('storage-a-1', throttle, port);
      const pulling = await waitNode(fresh.url, (n) => n.state === 'recovering' && !!n.recovery, 'pulled');
      assert.equal(pulling.recovery!.fromNodeId, mirror.nodeId);
      assert.equal(pulling.recovery!.totalObjects, held);

      // Writes go on during the pull: new keys, overwrites (some of keys not yet pulled), deletes.
      const during = (async () => {
        await inParallel(
          Array.from({ length: 20 }, (_, i) => i),
          4,
          (i) => put(`during/${i}`, seededBytes(50_000 + i, 500 + i * 37)),
        );
        await inParallel(
          Array.from({ length: 6 }, (_, i) => i * 19),
          4,
          (i) => put(`obj/${i}`, seededBytes(60_000 + i, 2000 + i)),
        );
        await inParallel(
          Array.from({ length: 6 }, (_, i) => 7 + i * 19),
          4,
          async (i) => {
            await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `obj/${i}` }));
            want.delete(`obj/${i}`);
            deleted.add(`obj/${i}`);
          },
        );
      })();

      // Mid-pull (by the progress it reports, not by time): SIGKILL once it reported a third done and recovery.json
      // holds a cursor (kept every 2 s or 256 keys, and before each long throttle wait); the pull takes about 12 s.
      await waitNode(fresh.url, (n) => (n.recovery?.objects ?? 0) >= held / 3, 'reached a third of the pull');
      type Kept = { objects: number; done: boolean; pulled: boolean };
      const readKept = (): Kept | undefined => {
        try {
          return JSON.parse(readFileSync(join(c.dir, 'storage-a-1', 'recovery.json'), 'utf8')) as Kept;
        } catch {
          return undefined;
        }
      };
      const persistedBy = Date.now() + 120_000;
      while ((readKept()?.objects ?? 0) === 0 && Date.now() < persistedBy)
        await new Promise((r) => setTimeout(r, 20));
      await fresh.proc.kill();
      const kept = readKept()!;
      assert.equal(kept.done, false);
      assert.equal(kept.pulled, false, 'killed before the scan finished');
      assert.ok(kept.objects > 0, 'the cursor was kept');

      // Restarted: it resumes after the cursor (not from the first key) and completes.
      fresh = await startNode('storage-a-1', throttle, port);
      const resumed = await waitNode(fresh.url, (n) => !!n.recovery, 'reported progress again');
      assert.ok(resumed.recovery!.objects >= kept.objects, 'progress kept across the kill');
      await logged('storage-a-1', /recovery pull: resuming after the persisted cursor/);
      await during;
      await waitNode(fresh.url, (n) => n.state === 'up' && n.phase !== 'recovering', 'became up');
      assert.equal((await stats(fresh.url)).objects, (await stats(mirrorUrl)).objects);

      // Its mirror dies: everything is read through the gateway from the refilled node alone.
      await c.nodes.find((n) => n.name === 'storage-a-2')!.kill();
      await waitNode(mirrorUrl, (n) => n.state === 'suspect', 'turned suspect');
      await readEverything();
    },
  );

  test(
    'a third node added to the syncgroup pulls everything, becomes up, and alone serves it',
    T,
    async () => {
      // The mirror killed above comes back and catches up by push sync.
      const mirror = await startNode('storage-a-2');
      await waitNode(mirror.url, (n) => n.state === 'up', 'became up');
      const refilled = (await nodes()).find(
        (n) => n.syncgroup === 'a' && n.state === 'up' && n.url !== mirror.url,
      )!;
      for (let i = 0; i < 10; i++) await put(`before-third/${i}`, seededBytes(70_000 + i, 3000 + i));

      const third = await startNode('storage-a-3');
      await waitNode(third.url, (n) => n.state === 'recovering', 'started recovering');
      for (let i = 0; i < 10; i++) await put(`while-third/${i}`, seededBytes(80_000 + i, 700 + i));
      await waitNode(third.url, (n) => n.state === 'up', 'became up');
      await logged('storage-a-3', /recovery pull: done/);
      assert.equal((await stats(third.url)).objects, (await stats(mirror.url)).objects);

      // Both older members die: the new one serves everything.
      for (const p of mine.filter((p) => p.name === 'storage-a-1' || p.name === 'storage-a-2'))
        await p.kill();
      await waitNode(mirror.url, (n) => n.state === 'suspect', 'turned suspect');
      await waitNode(refilled.url, (n) => n.state === 'suspect', 'turned suspect');
      await readEverything();
    },
  );
});
