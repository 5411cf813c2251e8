// Multipart uploads across a failover, with real processes on 127.0.0.1 (a tracker, 2 syncgroups x 2 storage
// nodes, a gateway): an upload in progress is mirrored, so when the node that is the key's primary is SIGKILLed,
// the next member continues the same upload (its parts, the completion) once the tracker marks the dead one
// suspect; and when a member restarts mid-upload and becomes the key's primary again, it has the parts uploaded
// meanwhile and completes the object. Every object reads back byte-exact through the gateway.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { md5hex, multipartEtag, seededBytes } from './bytes.ts';
import { CREDS, type Proc, startCluster, type TestCluster } from './cluster.ts';

const T = { timeout: 600_000 };
const BUCKET = 'uploads';
const MIN_PART = 256 * 1024;

interface NodeStatus {
  nodeId: string;
  url: string;
  state: string;
  syncgroup?: string;
  sync?: Array<{ nodeId: string; behind?: boolean; needsPull?: boolean }>;
}

describe('multipart uploads survive the death, the restart and the primary move of a member', T, () => {
  let c: TestCluster;
  let s3: S3Client;
  let bucketId = '';
  const procs = new Map<string, Proc>();

  async function status(): Promise<NodeStatus[]> {
    const s = (await c.internal(`${c.trackerUrl}/v1/status`)).json as {
      syncgroups: Array<{ name: string; nodes: NodeStatus[] }>;
    };
    return s.syncgroups.flatMap((g) => g.nodes.map((n) => ({ ...n, syncgroup: g.name })));
  }

  /** Polls the tracker's status (every 100 ms) until `ok` holds; the test's timeout bounds the wait. */
  async function until(ok: (nodes: NodeStatus[]) => boolean): Promise<void> {
    while (!ok(await status().catch(() => []))) await new Promise((r) => setTimeout(r, 100));
  }

  /** Every member up, reporting push sync, and none reported behind by another. */
  const settled = (ns: NodeStatus[]) =>
    ns.length === 4 &&
    ns.every((n) => n.state === 'up' && n.sync) &&
    !ns.some((n) => n.sync?.some((r) => r.behind || r.needsPull));

  /** The process name of the node answering at `url`. */
  function nameOf(url: string): string {
    for (const [name, u] of c.nodeUrls) if (u === url) return name;
    throw new Error(`no node at ${url}`);
  }

  /** The members of the key's syncgroup in rendezvous order (ARCHITECTURE.md: the primary first). */
  async function ranked(key: string): Promise<NodeStatus[]> {
    const nodes = await status();
    // The key's syncgroup: the members whose internal API lists the upload (mirrored: both).
    const holders: NodeStatus[] = [];
    for (const n of nodes) {
      const r = await c.internal(`${n.url}/v1/listUploads`, {
        bucket: bucketId,
        opts: { prefix: { $b: Buffer.from(key).toString('base64url') }, limit: 10 },
      });
      if (r.status === 200 && (r.json as unknown[]).length > 0) holders.push(n);
    }
    const group = holders[0]?.syncgroup;
    assert.ok(group, `no node holds an upload of ${key}`);
    assert.equal(holders.length, 2, 'both members of the syncgroup hold the upload');
    const weight = (nodeId: string) =>
      createHash('sha256')
        .update(`${nodeId}\0${bucketId}\0`)
        .update(Buffer.from(key))
        .digest()
        .readBigUInt64BE(0);
    return nodes
      .filter((n) => n.syncgroup === group)
      .sort((a, b) => (weight(b.nodeId) > weight(a.nodeId) ? 1 : -1));
  }

  async function uploadPart(key: string, uploadId: string, n: number, body: Buffer) {
    const r = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: n, Body: body }),
    );
    assert.equal(r.ETag, `"${md5hex(body)}"`);
    return { PartNumber: n, ETag: r.ETag! };
  }

  async function getBytes(key: string): Promise<Buffer> {
    const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  before(async () => {
    c = await startCluster({ env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(MIN_PART) } });
    for (const p of c.nodes) procs.set(p.name, p);
    await until(settled);
    // Retries for a call that reaches a node the gateway has not yet learned is gone (a retryable 503);
    // NoSuchUpload is never retried, so an upload lost by the failover fails the test.
    s3 = new S3Client({
      endpoint: c.endpoint,
      region: 'us-east-1',
      credentials: CREDS,
      forcePathStyle: true,
      maxAttempts: 8,
    });
    for (;;) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
        break;
      } catch (err) {
        if ((err as { name?: string }).name !== 'ServiceUnavailable') throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const info = await c.internal(`${c.trackerUrl}/v1/buckets/info`, { name: BUCKET });
    bucketId = (info.json as { bucket: { id: string } }).bucket.id;
  });

  after(async () => {
    s3?.destroy();
    await c?.close();
  });

  test(
    'the primary SIGKILLed mid-upload: the next member takes the remaining parts and completes it',
    T,
    async () => {
      const key = 'failover/object.bin';
      const parts = [seededBytes(11, MIN_PART + 100), seededBytes(12, 1_500_000), seededBytes(13, MIN_PART)];
      const last = seededBytes(14, 12_345);
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      const done = [
        await uploadPart(key, UploadId!, 1, parts[0]!),
        await uploadPart(key, UploadId!, 2, parts[1]!),
      ];
      const [primary] = await ranked(key);
      const victim = nameOf(primary!.url);
      await procs.get(victim)!.kill();
      await until((ns) => ns.find((n) => n.nodeId === primary!.nodeId)?.state === 'suspect');
      // The same upload, on the member that is now the key's primary.
      const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId }));
      assert.deepEqual(
        listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
        done.map((d, i) => [d.PartNumber, d.ETag, parts[i]!.length]),
      );
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
      assert.deepEqual(
        uploads.Uploads?.map((u) => [u.Key, u.UploadId]),
        [[key, UploadId]],
      );
      done.push(await uploadPart(key, UploadId!, 3, parts[2]!), await uploadPart(key, UploadId!, 4, last));
      const r = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
      const all = [...parts, last];
      assert.equal(r.ETag, multipartEtag(all));
      assert.ok((await getBytes(key)).equals(Buffer.concat(all)), 'byte-exact');
      assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads, undefined);
      // The dead member comes back, catches up (push sync brings the object and the upload's removal), and is the
      // key's primary again: the object reads the same, and no upload came back with it.
      procs.set(victim, await c.startNode(victim));
      await until(settled);
      assert.ok((await getBytes(key)).equals(Buffer.concat(all)), 'byte-exact from its primary again');
      assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads, undefined);
    },
  );

  test(
    'a member restarted mid-upload becomes the primary again and completes it with the parts it missed',
    T,
    async () => {
      const key = 'restart/object.bin';
      const parts = [seededBytes(21, MIN_PART), seededBytes(22, MIN_PART + 1), seededBytes(23, 2_000_000)];
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      const done = [await uploadPart(key, UploadId!, 1, parts[0]!)];
      const [primary, other] = await ranked(key);
      const name = nameOf(primary!.url);
      // Stopped (SIGTERM), so it is away: the parts meanwhile go to the other member.
      await procs.get(name)!.stop();
      await until((ns) => ns.find((n) => n.nodeId === primary!.nodeId)?.state === 'suspect');
      done.push(await uploadPart(key, UploadId!, 2, parts[1]!));
      procs.set(name, await c.startNode(name));
      // Up and caught up: the key's primary is the restarted member again.
      await until(settled);
      done.push(await uploadPart(key, UploadId!, 3, parts[2]!));
      const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId }));
      assert.deepEqual(
        listed.Parts?.map((p) => p.ETag),
        done.map((d) => d.ETag),
      );
      const r = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
      assert.equal(r.ETag, multipartEtag(parts));
      assert.ok((await getBytes(key)).equals(Buffer.concat(parts)), 'byte-exact');
      // The restarted member alone serves it: SIGKILL the other one and read again.
      await procs.get(nameOf(other!.url))!.kill();
      await until((ns) => ns.find((n) => n.nodeId === other!.nodeId)?.state === 'suspect');
      assert.ok(
        (await getBytes(key)).equals(Buffer.concat(parts)),
        'byte-exact from the restarted member alone',
      );
    },
  );
});
