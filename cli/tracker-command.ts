// `quire tracker`: the cluster's directory service. Owns the catalog (buckets, settings), the access keys, the
// layout (created at the first start from --syncgroups) and the registry of storage nodes (from heartbeats).
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getRequestListener } from '@hono/node-server';
import { Catalog } from '../tracker/catalog.ts';
import { GatewayLeases } from '../tracker/gateway-leases.ts';
import { LayoutError, loadOrCreateLayout } from '../tracker/layout-store.ts';
import { createTrackerService } from '../tracker/service.ts';
import { listenHttp, numberFlag, urlOf, waitForStop } from './cluster-process.ts';
import { trackerClusterSecret } from './cluster-secret.ts';
import { ConfigError, configFromEnv, resolveConfig } from './config.ts';
import { mainCredentials } from './credentials.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { createLogger } from './logger.ts';
import { installProcessGuards } from './process-guards.ts';

export async function trackerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      syncgroups: { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'suspect-after-ms': { type: 'string' },
      'gateway-lease-ms': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  if (!values.data) throw new ConfigError('name the tracker data directory with --data DIR');
  const config = resolveConfig([
    configFromEnv(process.env),
    { dataDir: values.data, ...(values['log-level'] ? { logLevel: values['log-level'] } : {}) },
  ]);
  const port = numberFlag(values.port ?? '9100', '--port', 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const suspectAfterMs = numberFlag(values['suspect-after-ms'] ?? '10000', '--suspect-after-ms', 100);
  const leaseMs = numberFlag(values['gateway-lease-ms'] ?? '120000', '--gateway-lease-ms', 1000);
  const syncgroups = values.syncgroups?.split(',').map((s) => s.trim());
  if (syncgroups?.some((s) => !/^[a-z0-9][a-z0-9-]{0,62}$/.test(s)))
    throw new ConfigError(
      '--syncgroups: name each syncgroup with lower-case letters, digits and -, e.g. a,b',
    );

  const dir = resolve(values.data);
  lockDataDir(dir, 'tracker', { create: true });
  await mkdir(dir, { recursive: true });
  let layout: Awaited<ReturnType<typeof loadOrCreateLayout>>;
  try {
    layout = await loadOrCreateLayout(dir, syncgroups);
  } catch (err) {
    if (err instanceof LayoutError) throw new ConfigError(err.message);
    throw err;
  }
  const secret = trackerClusterSecret(dir, values['cluster-secret-file'], process.env);
  const main = await mainCredentials(dir, {
    ...(config.accessKeyId ? { accessKeyId: config.accessKeyId } : {}),
    ...(config.secretAccessKey ? { secretAccessKey: config.secretAccessKey } : {}),
  });
  const logger = createLogger(config.logLevel);
  const guards = installProcessGuards(logger);
  const catalog = Catalog.open(join(dir, 'catalog'));
  const now = () => performance.now();
  const leases = await GatewayLeases.open({ dir, leaseMs, now });
  let url = '';
  const service = createTrackerService({
    catalog,
    layout,
    secret: secret.secret,
    keys: [main, ...config.extraKeys],
    leases,
    suspectAfterMs,
    now,
    wallClock: () => Date.now(),
    url: () => url,
    dir,
  });
  await service.registry.load();
  const server = await listenHttp(getRequestListener(service.app.fetch), port, host);
  url = urlOf(server, host);
  process.stdout.write(
    banner({
      url,
      syncgroups: layout.syncgroups,
      secretPath: secret.path,
      generated: secret.generated,
      accessKey: main.accessKeyId,
      secretKey: main.secretAccessKey,
    }),
  );
  logger.info({ url, syncgroups: layout.syncgroups, layoutVersion: layout.version }, 'tracker started');
  const stop = await waitForStop(guards.fatal);
  logger.info({ signal: stop.signal }, 'tracker stopping');
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
  await catalog.close();
  guards.remove();
  logger.flush?.();
  return stop.fatal === undefined ? 0 : 1;
}

function banner(o: {
  url: string;
  syncgroups: readonly string[];
  secretPath: string | undefined;
  generated: boolean;
  accessKey: string;
  secretKey: string;
}): string {
  const secretLine = o.secretPath
    ? `${o.generated ? 'generated' : 'kept in'} ${o.secretPath}`
    : 'given by QUIRE_CLUSTER_SECRET';
  const copy = o.secretPath
    ? `  Copy the secret to every machine of the cluster (e.g. scp ${o.secretPath} node:/etc/quire/cluster-secret),
  or export QUIRE_CLUSTER_SECRET="$(cat ${o.secretPath})" where the other processes start.\n`
    : '';
  const secretFlag = o.secretPath ? ` --cluster-secret-file ${o.secretPath}` : '';
  return `
Quire tracker is running.
  tracker:        ${o.url}
  syncgroups:     ${o.syncgroups.join(', ')}
  cluster secret: ${secretLine}
  access key:     ${o.accessKey}
  secret key:     ${o.secretKey}
${copy}
Start storage nodes and a gateway:
${o.syncgroups.map((g) => `  quire storage --data /srv/quire-${g}-1 --port 9201 --tracker ${o.url} --syncgroup ${g}${secretFlag}`).join('\n')}
  quire gateway --port 9000 --tracker ${o.url}${secretFlag}

`;
}
