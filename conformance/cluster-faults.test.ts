// A real cluster on 127.0.0.1 — tracker, syncgroups a and b × 2 storage nodes, gateway, each its own process —
// driven through the S3 API and the internal APIs: keys spread over every node and list back in byte order,
// internal calls need the cluster secret, the tracker can die without stopping object traffic, and a killed
// storage node's mirror serves all of its keys at once; the node catches up when it returns.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { startCluster, startProc, type TestCluster } from './cluster.ts';
import { byteOrder } from './sdk.ts';

const T = { timeout: 600_000 };

describe('cluster: tracker, 2 syncgroups × 2 storage nodes, gateway (real processes)', {
  timeout: 900_000,
}, () => {
  let c: TestCluster;
  const bucket = 'spread';
  const keys: string[] = [];
  const bodies = new Map<string, Buffer>();

  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c?.close();
  });

  async function getAll(): Promise<{ ok: string[]; unavailable: string[] }> {
    const s3 = c.s3();
    const ok: string[] = [];
    const unavailable: string[] = [];
    await Promise.all(
      keys.map(async (k) => {
        try {
          const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
          const got = Buffer.from(await r.Body!.transformToByteArray());
          assert.ok(got.equals(bodies.get(k)!), `bytes of ${k}`);
          ok.push(k);
        } catch (err) {
          if (err instanceof S3ServiceException && err.name === 'ServiceUnavailable') unavailable.push(k);
          else throw err;
        }
      }),
    );
    return { ok, unavailable };
  }

  async function listAll(maxKeys: number): Promise<string[]> {
    const s3 = c.s3();
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: maxKeys,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return seen;
  }

  async function nodeObjects(name: string): Promise<number> {
    const r = await c.internal(`${c.nodeUrls.get(name)}/v1/stats`, {});
    return (r.json as { objects: number }).objects;
  }

  test(
    'keys spread over both syncgroups and every node; reads are byte-exact; listings merge in byte order',
    T,
    async () => {
      const s3 = c.s3();
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      for (let i = 0; i < 240; i++) {
        // Multi-byte keys too: the merge must use UTF-8 byte order, not JS string order.
        const k = i % 3 === 0 ? `dir/${i}/é-${i}` : i % 3 === 1 ? `f${i}\u{10000}` : `f${i}\uffff`;
        keys.push(k);
        bodies.set(k, seededBytes(i, 100 + ((i * 7919) % 5000)));
      }
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < keys.length) {
            const k = keys[next++]!;
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: bodies.get(k)! }));
          }
        }),
      );
      // Mirrored: both members of a syncgroup hold each of its keys the moment the PUT is acknowledged.
      const perNode = new Map(
        await Promise.all(c.nodes.map(async (n) => [n.name, await nodeObjects(n.name)] as const)),
      );
      assert.equal(perNode.get('storage-a-1'), perNode.get('storage-a-2'), 'syncgroup a mirrored');
      assert.equal(perNode.get('storage-b-1'), perNode.get('storage-b-2'), 'syncgroup b mirrored');
      assert.equal((perNode.get('storage-a-1') ?? 0) + (perNode.get('storage-b-1') ?? 0), keys.length);
      for (const [name, n] of perNode) assert.ok(n > 40, `node ${name} holds ${n} objects`);
      const { ok } = await getAll();
      assert.equal(ok.length, keys.length);
      assert.deepEqual(await listAll(37), byteOrder(keys));
      const top = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', MaxKeys: 1000 }));
      assert.deepEqual(
        top.CommonPrefixes?.map((p) => p.Prefix),
        ['dir/'],
      );
      assert.equal(top.Contents?.length, keys.length - 80);
    },
  );

  test('every internal call needs the cluster secret', T, async () => {
    const storage = c.nodeUrls.get('storage-a-1')!;
    for (const secret of [null, 'wrong-secret-wrong-secret-wrong-secret-00']) {
      assert.equal((await c.internal(`${c.trackerUrl}/v1/status`, undefined, secret)).status, 403);
      assert.equal(
        (await c.internal(`${c.trackerUrl}/v1/gateway/poll`, { gatewayId: '0000000000000009' }, secret))
          .status,
        403,
      );
      assert.equal((await c.internal(`${storage}/v1/stats`, {}, secret)).status, 403);
      assert.equal(
        (
          await c.internal(
            `${storage}/v1/listObjects`,
            { bucket: 'x', opts: { prefix: { $b: '' }, limit: 5 } },
            secret,
          )
        ).status,
        403,
      );
    }
    assert.equal((await c.internal(`${storage}/v1/stats`, {})).status, 200);
    // A storage node or gateway started with a wrong secret stops with one line saying so.
    const wrong = join(c.dir, 'wrong-secret-file');
    writeFileSync(wrong, 'not-the-cluster-secret-not-the-cluster-secret\n');
    for (const args of [
      ['storage', '--data', join(c.dir, 'intruder'), '--port', '0', '--syncgroup', 'a'],
      ['gateway', '--port', '0'],
    ]) {
      const p = startProc(
        `intruder-${args[0]}`,
        [...args, '--tracker', c.trackerUrl, '--cluster-secret-file', wrong],
        c.dir,
      );
      assert.equal(await p.exited, 2, p.logTail());
      assert.match(p.logTail(), /the tracker refused this (node|gateway): missing or wrong cluster secret/);
    }
  });

  test(
    'quire status reports syncgroups, nodes, volumes and the layout, for people and as JSON',
    T,
    async () => {
      const run = async (extra: string[], secretFile = c.secretFile) => {
        const p = startProc(
          `status-${extra.join('')}-${Date.now()}`,
          ['status', '--tracker', c.trackerUrl, '--cluster-secret-file', secretFile, ...extra],
          c.dir,
        );
        let out = '';
        p.proc.stdout?.on('data', (d) => {
          out += d;
        });
        const code = await p.exited;
        return { code, out, log: p.logTail() };
      };
      const json = await run(['--json']);
      assert.equal(json.code, 0, json.log);
      const s = JSON.parse(json.out) as {
        layout: { version: number; partitions: number; syncgroups: string[] };
        syncgroups: Array<{
          name: string;
          partitions: number;
          nodes: Array<{ state: string; volumes: unknown[] }>;
        }>;
      };
      assert.deepEqual(s.layout, { version: 1, partitions: 4096, syncgroups: ['a', 'b'] });
      assert.deepEqual(
        s.syncgroups.map((g) => [g.name, g.partitions, g.nodes.map((n) => n.state)]),
        [
          ['a', 2048, ['up', 'up']],
          ['b', 2048, ['up', 'up']],
        ],
      );
      assert.ok(s.syncgroups.every((g) => g.nodes.every((n) => n.volumes.length === 1)));
      const human = await run([]);
      assert.equal(human.code, 0);
      assert.match(human.out, /layout version 1: 4096 partitions over 2 syncgroup/);
      assert.match(human.out, /syncgroup a: 2048 partitions, 2 node\(s\), 2 up/);
      assert.match(human.out, /all nodes up/);
      // A wrong secret is one line saying what to do, exit 2.
      const wrong = join(c.dir, 'wrong-secret');
      writeFileSync(wrong, 'not-the-cluster-secret-not-the-cluster-secret\n');
      const refused = await run([], wrong);
      assert.equal(refused.code, 2);
      assert.match(refused.log, /refused the cluster secret/);
    },
  );

  test(
    'with the tracker killed, object reads, writes and listings go on; bucket create and delete answer 503',
    T,
    async () => {
      await c.tracker.kill();
      const s3 = c.s3();
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'while-tracker-down', Body: 'still here' }));
      keys.push('while-tracker-down');
      bodies.set('while-tracker-down', Buffer.from('still here'));
      assert.equal((await getAll()).ok.length, keys.length);
      assert.equal((await listAll(1000)).length, keys.length);
      for (const op of [
        () => s3.send(new CreateBucketCommand({ Bucket: 'made-without-tracker' })),
        () => s3.send(new DeleteBucketCommand({ Bucket: bucket })),
      ]) {
        await assert.rejects(op(), (e: S3ServiceException) => {
          assert.equal(e.name, 'ServiceUnavailable');
          assert.equal(e.$metadata.httpStatusCode, 503);
          return true;
        });
      }
      // The same tracker directory again: the catalog is back and bucket changes work once the gateway re-polls.
      c = { ...c, tracker: await c.startTracker() };
      for (;;) {
        try {
          await s3.send(new CreateBucketCommand({ Bucket: 'made-after-tracker' }));
          break;
        } catch (err) {
          if (!(err instanceof S3ServiceException && err.name === 'ServiceUnavailable')) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await s3.send(new DeleteBucketCommand({ Bucket: 'made-after-tracker' }));
    },
  );

  /** The tracker's view of one node, by its process name. */
  async function nodeView(name: string): Promise<{ nodeId: string; state: string } | undefined> {
    const s = (await c.internal(`${c.trackerUrl}/v1/status`)).json as {
      syncgroups: Array<{ nodes: Array<{ nodeId: string; url: string; state: string }> }>;
    };
    return s.syncgroups.flatMap((g) => g.nodes).find((n) => n.url === c.nodeUrls.get(name));
  }

  /** Until `check` holds (polled on the tracker's status), or fail after `ms`. */
  async function until(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test(
    'a SIGKILLed storage node: its mirror serves every key and listing at once; writes go on; back, it catches up',
    T,
    async () => {
      const s3 = c.s3();
      const victim = c.nodes.find((n) => n.name === 'storage-a-1')!;
      const victimId = (await nodeView(victim.name))!.nodeId;
      await victim.kill();
      // Reads fail over at once: not one GET or listing fails, before the tracker even calls the node suspect.
      const down = await getAll();
      assert.deepEqual(down.unavailable, [], 'no key unavailable while its mirror is up');
      assert.equal(down.ok.length, keys.length);
      assert.deepEqual(await listAll(1000), byteOrder(keys));
      // Writes go to the up members once the tracker calls the node suspect (1 s here).
      await until('suspect', async () => (await nodeView(victim.name))?.state === 'suspect');
      for (let i = 0; i < 30; i++) {
        const k = `while-a1-down/${i}`;
        bodies.set(k, seededBytes(1000 + i, 500 + i * 97));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: bodies.get(k)! }));
        keys.push(k);
      }
      // Back: push sync brings it what it missed; the tracker shows it up and no member lags toward it.
      await c.startNode(victim.name);
      await until('caught up', async () => {
        const s = (await c.internal(`${c.trackerUrl}/v1/status`)).json as {
          syncgroups: Array<{
            nodes: Array<{ nodeId: string; state: string; sync?: Array<{ nodeId: string; lagOps: number }> }>;
          }>;
        };
        const nodes = s.syncgroups.flatMap((g) => g.nodes);
        const lag = nodes.flatMap((n) => n.sync ?? []).filter((r) => r.nodeId === victimId);
        return (
          nodes.find((n) => n.nodeId === victimId)?.state === 'up' &&
          lag.length > 0 &&
          lag.every((r) => r.lagOps === 0)
        );
      });
      // Proof that it holds everything: with its mirror killed, every key is served by it alone.
      const peer = c.nodes.find((n) => n.name === 'storage-a-2')!;
      await peer.kill();
      const alone = await getAll();
      assert.deepEqual(alone.unavailable, []);
      assert.equal(alone.ok.length, keys.length);
      assert.deepEqual(await listAll(53), byteOrder(keys));
      await c.startNode(peer.name);
    },
  );
});
