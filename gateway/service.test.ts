// /health and /metrics over real HTTP on 127.0.0.1: the metrics token guards /metrics only.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { createGateway, type GatewayDeps } from './app.ts';
import { GatewayMetrics } from './metrics.ts';

const TOKEN = 'metrics-token-0123456789abcdef';

async function serve(metricsToken?: string): Promise<{ server: Server; base: string }> {
  // The service endpoints touch none of storage, buckets or credentials.
  const deps = {
    logger: pino({ level: 'silent' }),
    metrics: new GatewayMetrics(async () => []),
    isReady: () => true,
    clock: () => Date.now(),
    credentials: () => undefined,
    baseDomains: [],
    region: 'us-east-1',
    ...(metricsToken !== undefined ? { metricsToken } : {}),
  } as unknown as GatewayDeps;
  const server = createServer(createGateway(deps).listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('service endpoints', { timeout: 20_000 }, () => {
  let guarded: { server: Server; base: string };
  let open: { server: Server; base: string };
  before(async () => {
    guarded = await serve(TOKEN);
    open = await serve();
  });
  after(() => {
    guarded.server.close();
    open.server.close();
  });

  test('with a token: /metrics is 401 without it or with a wrong one, 200 with it', async () => {
    const none = await fetch(`${guarded.base}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.doesNotMatch(await none.text(), /quire_/);
    for (const authorization of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(1)}`,
      'Bearer ',
      `bearer  ${TOKEN}0`,
    ]) {
      const r = await fetch(`${guarded.base}/metrics`, { headers: { authorization } });
      assert.equal(r.status, 401, authorization);
      assert.doesNotMatch(await r.text(), /quire_/);
    }
    // Any other Authorization is not for /metrics: the S3 side gets it (and refuses it, as a SigV4 failure).
    const ok = await fetch(`${guarded.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /quire_s3_requests_total/);
  });

  test('with a token: /health stays open', async () => {
    const r = await fetch(`${guarded.base}/health`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
  });

  test('without a token: /metrics is open', async () => {
    const r = await fetch(`${open.base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /quire_s3_requests_total/);
  });
});
