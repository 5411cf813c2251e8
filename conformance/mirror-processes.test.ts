// Mirroring between real `quire storage` processes (2 syncgroups × 2 nodes, a tracker and a gateway on 127.0.0.1):
// every object written through the gateway is on both nodes of its syncgroup; a node SIGKILLed is reported with
// its lag in the tracker's status (what `quire status` shows), and once restarted it is caught up (lag 0) and holds
// everything written meanwhile. Only the S3 API and the internal APIs over plain HTTP are used.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from './cluster.ts';

const T = { timeout: 240_000 };

interface NodeStatus {
  nodeId: string;
  url: string;
  state: string;
  sync?: Array<{ nodeId: string; lagOps: number; lagBytes: number; needsPull?: boolean }>;
}

describe('mirroring between storage processes', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c?.close();
  });

  const status = async () =>
    (
      (await c.internal(`${c.trackerUrl}/v1/status`)).json as {
        syncgroups: Array<{ name: string; nodes: NodeStatus[] }>;
      }
    ).syncgroups;

  /** Waits (polling the tracker's status, bounded) until `check` holds. */
  async function until(what: string, check: (groups: Awaited<ReturnType<typeof status>>) => boolean) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (check(await status())) return;
      if (Date.now() > deadline)
        throw new Error(`not within 60 s: ${what}\n${JSON.stringify(await status())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** How many storage nodes hold `key` of the bucket incarnation `id` (asked over their internal API). */
  async function holders(id: string, key: string): Promise<string[]> {
    const out: string[] = [];
    for (const [name, url] of c.nodeUrls) {
      const r = await c
        .internal(`${url}/v1/headObject`, { bucket: id, key: { $b: Buffer.from(key).toString('base64url') } })
        .catch(() => undefined); // a node that is down holds nothing reachable
      if (r?.status === 200 && r.json !== null) out.push(name);
    }
    return out;
  }

  async function bucketId(name: string): Promise<string> {
    const poll = (await c.internal(`${c.trackerUrl}/v1/gateway/poll`, { gatewayId: '00000000000000aa' }))
      .json as { catalog: { buckets: Array<{ name: string; id: string }> } };
    return poll.catalog.buckets.find((b) => b.name === name)!.id;
  }

  const lagTotal = (groups: Awaited<ReturnType<typeof status>>) =>
    groups.flatMap((g) => g.nodes.flatMap((n) => n.sync ?? [])).reduce((sum, s) => sum + s.lagOps, 0);

  test(
    'every object is on both nodes of its syncgroup; a node killed shows lag, restarted catches up',
    T,
    async () => {
      const s3 = c.s3();
      await s3.send(new CreateBucketCommand({ Bucket: 'mirrors' }));
      const id = await bucketId('mirrors');
      const keys: string[] = [];
      for (let i = 0; i < 24; i++) {
        keys.push(`first/${i}`);
        await s3.send(new PutObjectCommand({ Bucket: 'mirrors', Key: `first/${i}`, Body: `v${i}` }));
      }
      for (const k of keys) {
        const h = await holders(id, k);
        assert.equal(h.length, 2, `${k} on ${h.join(', ')}`);
        assert.equal(h[0]!.split('-')[1], h[1]!.split('-')[1], 'the two nodes of one syncgroup');
      }
      await until('no lag', (g) => lagTotal(g) === 0);

      // b-2 dies: writes to syncgroup b are acknowledged by b-1 alone, and b-1 reports what b-2 lacks.
      const victim = c.nodes.find((n) => n.name === 'storage-b-2')!;
      const victimId = (await status())
        .find((g) => g.name === 'b')!
        .nodes.find((n) => n.url === c.nodeUrls.get('storage-b-2'))!.nodeId;
      await victim.kill();
      const written: string[] = [];
      for (let i = 0; written.length < 8 && i < 400; i++) {
        const k = `second/${i}`;
        try {
          await s3.send(new PutObjectCommand({ Bucket: 'mirrors', Key: k, Body: `w${i}` }));
          written.push(k);
        } catch {
          // A key whose primary is the dead node: 503 until the gateway routes around it (not this test's subject).
        }
      }
      const inB = [];
      for (const k of written) if ((await holders(id, k)).includes('storage-b-1')) inB.push(k);
      assert.ok(inB.length > 0, 'some writes went to syncgroup b');
      await until('b-1 reports b-2 behind', (g) =>
        g.some((x) =>
          x.nodes.some((n) => n.sync?.some((s) => s.nodeId === victimId && s.lagOps >= inB.length)),
        ),
      );
      for (const k of inB) assert.deepEqual(await holders(id, k), ['storage-b-1']);

      // Back: push sync catches it up; every write made meanwhile is on both nodes.
      await c.startNode('storage-b-2');
      await until(
        'lag 0 again',
        (g) => lagTotal(g) === 0 && g.every((x) => x.nodes.every((n) => n.state === 'up')),
      );
      for (const k of inB) assert.deepEqual((await holders(id, k)).sort(), ['storage-b-1', 'storage-b-2'], k);
    },
  );
});
