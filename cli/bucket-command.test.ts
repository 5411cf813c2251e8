// `quire bucket mode` and `quire node forget` against a tracker on 127.0.0.1: what they print, what they change,
// and one line (exit 2) for every mistake.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { initialLayout } from '../common/layout.ts';
import { Catalog } from '../tracker/catalog.ts';
import { GatewayLeases } from '../tracker/gateway-leases.ts';
import { createTrackerService } from '../tracker/service.ts';
import { main } from './main.ts';

const SECRET = 'a-test-cluster-secret-of-32-chars-or-more';

/** Runs `quire ARGS` in this process; its exit code, stdout and stderr. */
async function quire(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    err += s;
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

test('quire bucket mode shows and sets the replication mode; quire node forget removes a silent node', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-bucket-cli-'));
  const catalog = Catalog.open(join(dir, 'catalog'));
  let clock = 0;
  const svc = createTrackerService({
    catalog,
    layout: initialLayout(['a']),
    secret: SECRET,
    keys: [{ accessKeyId: 'AK1', secretAccessKey: 'secret-one' }],
    leases: await GatewayLeases.open({ dir, leaseMs: 60_000, now: () => clock }),
    suspectAfterMs: 1000,
    now: () => clock,
    wallClock: () => Date.now(),
    url: () => 'http://tracker',
  });
  const server = createServer(getRequestListener(svc.app.fetch));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const before = process.env.QUIRE_CLUSTER_SECRET;
  process.env.QUIRE_CLUSTER_SECRET = SECRET;
  try {
    await catalog.createBucket({ name: 'logs', owner: 'AK1', createdMs: 1, region: 'us-east-1' });
    const logs = catalog.getBucket('logs')!;
    const shown = await quire(['bucket', 'mode', '--tracker', url, 'logs']);
    assert.equal(shown.code, 0);
    assert.match(shown.out, /^logs: mirrored \(a write is acknowledged once every live node/);
    const set = await quire(['bucket', 'mode', '--tracker', url, 'logs', 'async']);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /^logs: async \(was mirrored\): /);
    assert.equal(catalog.getBucketConfig(logs, 'replication-mode'), 'async');
    assert.match((await quire(['bucket', 'mode', '--tracker', url, 'logs', 'async'])).out, /\(unchanged\)/);
    assert.equal(
      (await quire(['bucket', 'mode', '--tracker', url, 'logs', 'mirrored'])).out.split(':')[1],
      ' mirrored (was async)',
    );
    // Mistakes: one line each, exit 2.
    for (const [args, line] of [
      [
        ['bucket', 'mode', '--tracker', url, 'logs', 'sometimes'],
        /unknown mode "sometimes": use mirrored or async/,
      ],
      [['bucket', 'mode', '--tracker', url, 'nope'], /there is no bucket named nope/],
      [['bucket', 'settings', '--tracker', url, 'logs'], /usage: quire bucket mode --tracker URL BUCKET/],
      [['node', 'forget', '--tracker', url, 'xyz'], /"xyz" is not a node id/],
      [['node', 'forget', '--tracker', url, '000000ff'], /the tracker knows no node 000000ff/],
    ] as const) {
      const r = await quire([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
      assert.match(r.err, line);
      assert.equal(r.err.trim().split('\n').length, 1);
    }

    await svc.registry.beat({
      nodeId: '0000000a',
      syncgroup: 'a',
      url: 'http://127.0.0.1:9201',
      startedMs: 1,
      objects: 0,
      volumes: [],
    });
    const live = await quire(['node', 'forget', '--tracker', url, '0000000a']);
    assert.equal(live.code, 2);
    assert.match(live.err, /node 0000000a is still heartbeating; stop it first/);
    clock += 1000;
    const gone = await quire(['node', 'forget', '--tracker', url, '0000000a']);
    assert.equal(gone.code, 0, gone.err);
    assert.deepEqual(svc.registry.list(), []);

    process.env.QUIRE_CLUSTER_SECRET = `${SECRET}-wrong`;
    const refused = await quire(['bucket', 'mode', '--tracker', url, 'logs']);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /the tracker refused the cluster secret/);
  } finally {
    if (before === undefined) delete process.env.QUIRE_CLUSTER_SECRET;
    else process.env.QUIRE_CLUSTER_SECRET = before;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
