// The tracker's disk is lost: real processes on 127.0.0.1 (tracker, syncgroups a and b with one storage node each,
// a gateway). After buckets, settings, a replication mode and a delete, the tracker is SIGKILLed, its directory
// removed, and it is started again with a copy of the cluster secret. It must come back with the catalog, the
// layout and the keys the storage nodes kept (a gateway started afterwards signs with the old key and lists the
// old bucket), accept bucket changes again, and `quire status` must show the nodes. Then a storage node comes back
// on a wiped directory at the same address: the registry replaces the old entry instead of keeping a ghost.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { type Proc, SECRET_HEADER, startProc } from './cluster.ts';

const T = { timeout: 300_000 };
const DEADLINE_MS = 60_000;

interface StatusJson {
  layout: { version: number; syncgroups: string[] };
  syncgroups: Array<{
    name: string;
    nodes: Array<{ nodeId: string; state: string; url: string }>;
    summary?: unknown;
  }>;
  catalog?: { state: string; seq: number; buckets: number; asyncBuckets: string[] };
}

/** Polls `probe` until it returns a value (not undefined); fails after DEADLINE_MS with `what`. */
async function until<V>(what: string, probe: () => Promise<V | undefined>): Promise<V> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a wiped tracker rebuilds from the storage nodes (real processes)', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-tracker-wipe-'));
  const procs: Proc[] = [];
  // No QUIRE_ACCESS_KEY: the first tracker generates the main key, so only the nodes' copies can bring it back.
  const env = {
    QUIRE_ACCESS_KEY: '',
    QUIRE_SECRET_KEY: '',
    QUIRE_EXTRA_KEYS: 'QUIREEXTRAKEY1:extra-secret-key-one',
  };
  const trackerDir = join(dir, 'tracker');
  const secretCopy = join(dir, 'cluster-secret-copy');
  let trackerPort = '0';
  let trackerUrl = '';
  const nodePorts = new Map<string, string>();

  const start = (name: string, args: string[]) => {
    const p = startProc(`${name}-${procs.length}`, args, dir, env);
    procs.push(p);
    return p;
  };
  const startTracker = (extra: string[]) =>
    start('tracker', [
      'tracker',
      '--data',
      trackerDir,
      '--port',
      trackerPort,
      '--syncgroups',
      'a,b',
      '--suspect-after-ms',
      '1000',
      '--gateway-lease-ms',
      '3000',
      // Decide only once both syncgroups reported, however slowly the nodes start on a loaded machine.
      '--rebuild-wait-ms',
      '600000',
      ...extra,
    ]);
  const startNode = async (name: string) => {
    const p = start(name, [
      'storage',
      '--data',
      join(dir, name),
      '--port',
      nodePorts.get(name) ?? '0',
      '--syncgroup',
      name.split('-')[1]!,
      '--tracker',
      trackerUrl,
      '--cluster-secret-file',
      secretCopy,
      '--heartbeat-ms',
      '200',
    ]);
    nodePorts.set(name, new URL(await p.line(/is serving at (\S+);/)).port);
    return p;
  };
  const startGateway = async () => {
    const p = start('gateway', [
      'gateway',
      '--port',
      '0',
      '--tracker',
      trackerUrl,
      '--cluster-secret-file',
      secretCopy,
      '--poll-ms',
      '200',
    ]);
    return { p, endpoint: await p.line(/serving S3 at (\S+)/) };
  };
  const s3 = (endpoint: string, creds: { accessKeyId: string; secretAccessKey: string }) =>
    new S3Client({ endpoint, region: 'us-east-1', credentials: creds, forcePathStyle: true, maxAttempts: 1 });
  const quire = async (args: string[]) => {
    const p = startProc(`cli-${args[0]}-${Date.now()}`, args, dir, env);
    let out = '';
    p.proc.stdout?.on('data', (d) => {
      out += d;
    });
    const code = await p.exited;
    return { code, out, log: p.logTail() };
  };
  const status = async (): Promise<StatusJson> => {
    const r = await quire(['status', '--tracker', trackerUrl, '--cluster-secret-file', secretCopy, '--json']);
    assert.equal(r.code, 0, r.log);
    return JSON.parse(r.out) as StatusJson;
  };
  const internal = async (path: string) =>
    (
      await fetch(`${trackerUrl}${path}`, {
        headers: { [SECRET_HEADER]: readFileSync(secretCopy, 'utf8').trim() },
      })
    ).json();

  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    const keep = process.env.QUIRE_CONF_LOG_DIR;
    if (keep) {
      const to = join(keep, `tracker-wipe-${process.pid}`);
      mkdirSync(to, { recursive: true });
      for (const f of readdirSync(dir)) if (f.endsWith('.log')) copyFileSync(join(dir, f), join(to, f));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('catalog, keys, settings and layout survive the loss of the tracker directory', T, async () => {
    const tracker = startTracker([]);
    const newCluster = tracker.line(/has its catalog: (a new cluster.*)/);
    const creds = Promise.all([
      tracker.line(/^\s+access key:\s+(\S+)/),
      tracker.line(/^\s+secret key:\s+(\S+)/),
    ]);
    trackerUrl = await tracker.line(/^\s+tracker:\s+(\S+)/);
    trackerPort = new URL(trackerUrl).port;
    // Every node holds a copy of the secret (as an operator would have copied it).
    copyFileSync(join(trackerDir, 'cluster-secret'), secretCopy);
    const nodes = [await startNode('storage-a-1'), await startNode('storage-b-1')];
    assert.equal(nodes.length, 2);
    assert.match(await newCluster, /2 storage node\(s\) reported, none holds a catalog/);
    const [accessKeyId, secretAccessKey] = await creds;
    const main = { accessKeyId, secretAccessKey };
    const gw = await startGateway();
    const client = s3(gw.endpoint, main);
    await until('the gateway to accept the main key', async () =>
      (await client.send(new CreateBucketCommand({ Bucket: 'old' }))) ? true : undefined,
    );
    await client.send(
      new PutBucketVersioningCommand({ Bucket: 'old', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const keys = Array.from({ length: 40 }, (_, i) => `k/${String(i).padStart(3, '0')}`);
    for (const k of keys)
      await client.send(new PutObjectCommand({ Bucket: 'old', Key: k, Body: `body of ${k}` }));
    await client.send(new CreateBucketCommand({ Bucket: 'gone' }));
    await client.send(new DeleteBucketCommand({ Bucket: 'gone' }));
    const extra = s3(gw.endpoint, { accessKeyId: 'QUIREEXTRAKEY1', secretAccessKey: 'extra-secret-key-one' });
    await extra.send(new CreateBucketCommand({ Bucket: 'extras' }));
    const mode = await quire([
      'bucket',
      'mode',
      'old',
      'async',
      '--tracker',
      trackerUrl,
      '--cluster-secret-file',
      secretCopy,
    ]);
    assert.equal(mode.code, 0, mode.log);
    assert.match(mode.out, /^old: async \(was mirrored\)/);

    // Both nodes hold the catalog as of the last change before the tracker dies.
    const before = await status();
    assert.equal(before.catalog?.state, 'ready');
    assert.deepEqual(before.catalog?.asyncBuckets, ['old']);
    const seq = before.catalog!.seq;
    for (const n of ['storage-a-1', 'storage-b-1'])
      await until(`${n} to keep catalog change ${seq}`, async () => {
        const kept = JSON.parse(readFileSync(join(dir, n, 'cluster-catalog.json'), 'utf8')) as {
          seq: number;
        };
        return kept.seq === seq ? true : undefined;
      });

    // The disk is lost.
    await tracker.kill();
    rmSync(trackerDir, { recursive: true, force: true });
    // Started the first time without the secret, it makes a new one that the nodes do not have: it says so, and
    // decides nothing (no catalog, no key) until it is started with the right one.
    const wrong = startTracker([]);
    await wrong.line(
      /storage nodes call with another cluster secret .*start it again with --cluster-secret-file/,
    );
    await wrong.kill();
    assert.equal(existsSync(join(trackerDir, 'credentials.json')), false, 'no key was generated');
    assert.equal(existsSync(join(trackerDir, 'layout.json')), false, 'nothing was decided');
    const rebuilt = startTracker(['--cluster-secret-file', secretCopy]);
    const decided = rebuilt.line(/has its catalog: (rebuilt from the storage nodes' copies.*)/);
    const newKey = rebuilt.line(/^\s+access key:\s+(\S+)/);
    assert.equal(await rebuilt.line(/^\s+tracker:\s+(\S+)/), trackerUrl);
    assert.match(
      await decided,
      new RegExp(`catalog change ${seq} .*2 bucket\\(s\\), 2 access key\\(s\\), layout version 1`),
    );
    assert.equal(await newKey, accessKeyId, 'the old main key, not a new one');
    assert.equal(
      readFileSync(join(trackerDir, 'cluster-secret'), 'utf8').trim(),
      readFileSync(secretCopy, 'utf8').trim(),
      'the given secret is now the one the tracker keeps',
    );

    const after = await until('both nodes to report to the rebuilt tracker', async () => {
      const s = await status();
      return s.syncgroups.every((g) => g.nodes.length === 1 && g.nodes[0]!.state === 'up') ? s : undefined;
    });
    assert.deepEqual(after.layout.syncgroups, ['a', 'b']);
    assert.equal(after.catalog?.state, 'ready');
    assert.equal(after.catalog?.seq, seq);
    assert.deepEqual(after.catalog?.asyncBuckets, ['old']);
    const human = await quire(['status', '--tracker', trackerUrl, '--cluster-secret-file', secretCopy]);
    assert.match(human.out, /catalog: change \d+, 2 buckets/);
    assert.match(human.out, /buckets in async mode .*: old/);

    // A gateway that never knew the old tracker: the old key signs, the old bucket lists, its settings are there.
    const gw2 = await startGateway();
    const fresh = s3(gw2.endpoint, main);
    const listed = await until('the new gateway to list the old bucket', async () =>
      fresh.send(new ListObjectsV2Command({ Bucket: 'old' })),
    );
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      keys,
    );
    const body = await fresh.send(new GetObjectCommand({ Bucket: 'old', Key: keys[7]! }));
    assert.equal(await body.Body?.transformToString(), `body of ${keys[7]}`);
    assert.equal((await fresh.send(new GetBucketVersioningCommand({ Bucket: 'old' }))).Status, 'Enabled');
    const extra2 = s3(gw2.endpoint, {
      accessKeyId: 'QUIREEXTRAKEY1',
      secretAccessKey: 'extra-secret-key-one',
    });
    assert.equal((await extra2.send(new ListObjectsV2Command({ Bucket: 'extras' }))).KeyCount, 0);
    const shown = await quire([
      'bucket',
      'mode',
      'old',
      '--tracker',
      trackerUrl,
      '--cluster-secret-file',
      secretCopy,
    ]);
    assert.match(shown.out, /^old: async/);
    // The deleted bucket stays deleted; bucket changes work again.
    const info = (await internal('/v1/status')) as StatusJson;
    assert.equal(info.catalog?.buckets, 2);
    await fresh.send(new CreateBucketCommand({ Bucket: 'after-rebuild' }));
    await fresh.send(new PutObjectCommand({ Bucket: 'after-rebuild', Key: 'x', Body: 'y' }));
    assert.equal(
      await (
        await fresh.send(new GetObjectCommand({ Bucket: 'after-rebuild', Key: 'x' }))
      ).Body?.transformToString(),
      'y',
    );
    assert.deepEqual(
      (await fresh.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name),
      ['after-rebuild', 'old'],
      'the deleted bucket stays deleted',
    );
    // Deletes too (once a lease of the gateways the old tracker knew has run out).
    await extra2.send(new DeleteBucketCommand({ Bucket: 'extras' }));
  });

  test(
    'a storage node back on a wiped directory at the same address replaces its old registry entry',
    T,
    async () => {
      const s = await status();
      const old = s.syncgroups.find((g) => g.name === 'b')!.nodes[0]!;
      const victim = procs.find((p) => p.name.startsWith('storage-b-1') && p.running())!;
      await victim.kill();
      rmSync(join(dir, 'storage-b-1'), { recursive: true, force: true });
      await startNode('storage-b-1');
      const replaced = await until("the new node to take the old one's place", async () => {
        const now = await status();
        const b = now.syncgroups.find((g) => g.name === 'b')!.nodes;
        return b.length === 1 && b[0]!.nodeId !== old.nodeId && b[0]!.state === 'up' ? b[0]! : undefined;
      });
      assert.equal(replaced.url, old.url);
    },
  );
});
