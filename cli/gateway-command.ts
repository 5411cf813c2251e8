// `quire gateway`: the S3 API of a cluster. Stateless: the catalog, keys, layout and nodes come from the tracker
// (polled, kept in memory), objects from the storage nodes that hold them. Any number may run.
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { TrackerClient, TrackerRefused } from '../common/tracker-client.ts';
import { createGateway } from '../gateway/app.ts';
import { createHashingPool } from '../gateway/checksums/index.ts';
import { ClusterRouter, DEFAULT_FAILOVER_AFTER_MS } from '../gateway/cluster/router.ts';
import { TrackerDirectory } from '../gateway/cluster/tracker-directory.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { StorageClient } from '../storage/http-client.ts';
import { listenOn, numberFlag, urlFlag, waitForStop } from './cluster-process.ts';
import { givenClusterSecret } from './cluster-secret.ts';
import { ConfigError, configFromEnv, resolveConfig } from './config.ts';
import { answerClientError, settlesWithin } from './embedded.ts';
import { createLogger } from './logger.ts';
import { installProcessGuards } from './process-guards.ts';
import {
  gatewayConfigOptions,
  openWebsiteListener,
  S3_FLAGS,
  s3FlagValues,
  s3ServerOptions,
} from './s3-listeners.ts';

export async function gatewayCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      tracker: { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'poll-ms': { type: 'string' },
      'storage-connect-timeout-ms': { type: 'string' },
      'failover-after-ms': { type: 'string' },
      'log-level': { type: 'string' },
      ...S3_FLAGS,
    },
  });
  const flags: Record<string, unknown> = s3FlagValues(values);
  if (values.port !== undefined) flags.port = values.port;
  if (values.host !== undefined) flags.host = values.host;
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  // No data directory: a gateway keeps nothing. QUIRE_ACCESS_KEY & co. belong to the tracker and are ignored here.
  const env = configFromEnv(process.env);
  delete env.accessKeyId;
  delete env.secretAccessKey;
  delete env.extraKeys;
  const config = resolveConfig([env, flags]);
  const trackerUrl = urlFlag(values.tracker, '--tracker');
  const pollMs = numberFlag(values['poll-ms'] ?? '250', '--poll-ms', 50);
  const connectTimeoutMs = numberFlag(
    values['storage-connect-timeout-ms'] ?? '1000',
    '--storage-connect-timeout-ms',
    10,
  );
  const failoverAfterMs = numberFlag(
    values['failover-after-ms'] ?? String(DEFAULT_FAILOVER_AFTER_MS),
    '--failover-after-ms',
    10,
  );
  const secret = givenClusterSecret(values['cluster-secret-file'], process.env);
  const logger = createLogger(config.logLevel).child({ part: 'gateway' });
  const guards = installProcessGuards(logger);

  const directory = new TrackerDirectory({
    tracker: new TrackerClient({ url: trackerUrl, secret }),
    pollMs,
    now: () => performance.now(),
    onPollError: (err) =>
      logger.warn({ err: (err as Error).message }, 'tracker poll failed; serving from the copy held'),
    onPollRecovered: () => logger.info('tracker answering again'),
  });
  const metrics = new GatewayMetrics(async () => (await router.stats()).volumes);
  metrics.addCluster(() => directory.nodes);
  const router = new ClusterRouter({
    view: {
      get layout() {
        return directory.layout;
      },
      get nodes() {
        return directory.nodes;
      },
      refresh: () => directory.poll(),
    },
    connect: (url) => new StorageClient(url, { secret, connectTimeoutMs }),
    failoverAfterMs,
    onFailover: ({ nodeId, error }) => {
      metrics.readFailedOver();
      logger.debug(
        { nodeId, err: (error as Error).message },
        'storage node did not answer a read; asking a mirror',
      );
    },
  });
  const hasher = createHashingPool();
  let ready = false;
  const gateway = createGateway({
    buckets: directory,
    storage: router,
    credentials: (id) => directory.credentials(id),
    ...gatewayConfigOptions(config),
    logger,
    metrics,
    hasher,
    clock: () => Date.now(),
    isReady: () => ready && directory.ready,
  });
  try {
    await directory.poll();
  } catch (err) {
    // A tracker that refuses this gateway (wrong cluster secret) is an operator mistake: say it and stop. One that
    // is not up yet is not: the gateway starts unready (/health 503) and polls until it answers.
    if (err instanceof TrackerRefused) {
      await hasher.close();
      guards.remove();
      throw new ConfigError(`the tracker refused this gateway: ${err.message}`);
    }
  }
  directory.start();
  const server = createServer(s3ServerOptions(config), gateway.listener);
  server.on('checkContinue', gateway.listener);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  await listenOn(server, config.port, config.host);
  const servers = [server];
  let site: Awaited<ReturnType<typeof openWebsiteListener>>;
  try {
    site = await openWebsiteListener(config, gateway.websiteListener);
  } catch (err) {
    await new Promise<void>((done) => server.close(() => done()));
    await directory.stop();
    await router.close();
    await hasher.close();
    guards.remove();
    throw err;
  }
  if (site) servers.push(site.server);
  ready = true;
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const siteLine = site
    ? `Quire gateway is serving websites at http://<bucket>.${site.domain}:${site.port}/\n`
    : '';
  process.stdout.write(
    `Quire gateway is serving S3 at http://${host}:${port} (tracker ${trackerUrl})\n${siteLine}`,
  );
  logger.info(
    { port, websitePort: site?.port, tracker: trackerUrl, gatewayId: directory.gatewayId },
    'gateway started',
  );

  const stop = await waitForStop(guards.fatal);
  logger.info({ signal: stop.signal }, 'gateway stopping: finishing in-flight requests');
  ready = false;
  gateway.drain();
  const stopped = Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
  for (const s of servers) s.closeIdleConnections();
  await settlesWithin(gateway.idle(), config.shutdownGraceMs);
  for (const s of servers) s.closeAllConnections();
  await settlesWithin(stopped, 5000);
  await directory.stop();
  await router.close();
  await hasher.close();
  guards.remove();
  logger.flush?.();
  return stop.fatal === undefined ? 0 : 1;
}
