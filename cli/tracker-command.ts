// `quire tracker`: the cluster's directory service. Owns the catalog (buckets, settings), the access keys, the
// layout and the registry of storage nodes (from heartbeats). A fresh data directory (a new cluster, or a tracker
// whose disk was wiped) first learns from the storage nodes whether the cluster already has a catalog, layout and
// keys (tracker/rebuild.ts), and only then creates what is missing.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getRequestListener } from '@hono/node-server';
import type { AccessKey } from '../common/cluster-wire.ts';
import { initialLayout, type Layout } from '../common/layout.ts';
import type { Credentials } from '../gateway/auth/types.ts';
import { Catalog } from '../tracker/catalog.ts';
import { GatewayLeases } from '../tracker/gateway-leases.ts';
import { checkSyncgroups, keptLayout, LayoutError, saveLayout } from '../tracker/layout-store.ts';
import type { RebuildDecision } from '../tracker/rebuild.ts';
import { createTrackerService } from '../tracker/service.ts';
import { listenHttp, numberFlag, urlOf, waitForStop } from './cluster-process.ts';
import { SECRET_FILE_NAME, trackerClusterSecret } from './cluster-secret.ts';
import { ConfigError, configFromEnv, resolveConfig } from './config.ts';
import { mainCredentials, saveMainCredentials, writePrivateFileDurable } from './credentials.ts';
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
      'rebuild-wait-ms': { type: 'string' },
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
  const rebuildWaitMs = numberFlag(values['rebuild-wait-ms'] ?? '30000', '--rebuild-wait-ms', 0);
  const syncgroups = values.syncgroups?.split(',').map((s) => s.trim());
  if (syncgroups?.some((s) => !/^[a-z0-9][a-z0-9-]{0,62}$/.test(s)))
    throw new ConfigError(
      '--syncgroups: name each syncgroup with lower-case letters, digits and -, e.g. a,b',
    );

  const dir = resolve(values.data);
  lockDataDir(dir, 'tracker', { create: true });
  await mkdir(dir, { recursive: true });
  let layout: Layout | undefined;
  try {
    layout = await keptLayout(dir, syncgroups);
  } catch (err) {
    if (err instanceof LayoutError) throw new ConfigError(err.message);
    throw err;
  }
  // No layout kept: a new cluster, or this tracker's directory was wiped. Decide with the storage nodes.
  const fresh = layout === undefined;
  const secret = trackerClusterSecret(dir, values['cluster-secret-file'], process.env);
  const given: Credentials | undefined =
    config.accessKeyId && config.secretAccessKey
      ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
      : undefined;
  const extras: AccessKey[] = config.extraKeys.map((k) => ({ ...k }));
  // A fresh directory generates no key before the nodes said whether the cluster has one already.
  const main = fresh ? given : await mainCredentials(dir, given ?? {});
  const logger = createLogger(config.logLevel);
  const guards = installProcessGuards(logger);
  const catalog = Catalog.open(join(dir, 'catalog'));
  const now = () => performance.now();
  const leases = await GatewayLeases.open({ dir, leaseMs, now });
  let url = '';
  let refusedLogged = false;
  const newerWarned = new Set<string>();
  let stopWith: ((err: unknown) => void) | undefined;
  const failed = new Promise<unknown>((r) => {
    stopWith = r;
  });

  const decide = async (d: RebuildDecision): Promise<{ layout: Layout; keys: AccessKey[] }> => {
    if (d.layout) checkSyncgroups(d.layout, syncgroups, 'the storage nodes hold a layout made with');
    const chosen = d.layout ?? initialLayout(syncgroups ?? []);
    if (d.catalog)
      await catalog.adopt({
        seq: d.catalog.seq,
        buckets: d.catalog.buckets,
        configs: d.catalog.configs,
        deleted: d.catalog.deleted ?? [],
      });
    const adopted = d.catalog?.keys ?? [];
    const oldMain = adopted.find((k) => k.main) ?? adopted[0];
    let mainKey: Credentials;
    if (given) mainKey = given;
    else if (oldMain) {
      mainKey = { accessKeyId: oldMain.accessKeyId, secretAccessKey: oldMain.secretAccessKey };
      await saveMainCredentials(dir, mainKey);
    } else mainKey = await mainCredentials(dir, {});
    const keys = mergeKeys(mainKey, extras, adopted);
    // Gateways may hold a lease granted by the old tracker: deletes wait for them as long as a lease lasts.
    if (d.catalog) leases.assumeUnknownHolders(now() + leaseMs);
    // A secret given by file or environment becomes this tracker's own, so later starts need neither (a wiped
    // tracker first started without it generated one the nodes refuse: that one is replaced).
    if (!secret.generated) await keepSecret(dir, secret.secret);
    // Last: the layout file marks the decision as made (a crash before it decides again at the next start).
    await saveLayout(dir, chosen);
    const what = d.catalog
      ? `rebuilt from the storage nodes' copies: catalog change ${d.catalog.seq} (from node ${d.catalogFrom}, ${d.offers} node(s) asked), ${d.catalog.buckets.length} bucket(s), ${adopted.length} access key(s), layout version ${chosen.version}`
      : `a new cluster (${d.offers} storage node(s) reported, none holds a catalog): layout version ${chosen.version}`;
    logger.info(
      { seq: d.catalog?.seq, offers: d.offers, layoutVersion: chosen.version },
      `catalog decided: ${what}`,
    );
    process.stdout.write(
      `\nQuire tracker has its catalog: ${what}.\n${given ? '' : `  access key:     ${mainKey.accessKeyId}\n  secret key:     ${mainKey.secretAccessKey}\n`}\n`,
    );
    return { layout: chosen, keys };
  };

  const service = createTrackerService({
    catalog,
    ...(layout ? { layout } : {}),
    secret: secret.secret,
    keys: main ? mergeKeys(main, extras, []) : [],
    leases,
    suspectAfterMs,
    now,
    wallClock: () => Date.now(),
    url: () => url,
    dir,
    onNodeReplaced: (old, by) =>
      logger.warn(
        { old: old.nodeId, new: by.nodeId, url: by.url, syncgroup: old.syncgroup },
        `node ${by.nodeId} now answers at ${by.url}, where node ${old.nodeId} of syncgroup ${old.syncgroup} was: a new data directory there; ${old.nodeId} is dropped from the registry`,
      ),
    onNewerCatalog: (nodeId, nodeSeq, trackerSeq) => {
      if (newerWarned.has(nodeId)) return;
      newerWarned.add(nodeId);
      logger.error(
        { node: nodeId, nodeSeq, trackerSeq },
        `node ${nodeId} holds catalog change ${nodeSeq}, newer than this tracker's ${trackerSeq}: this tracker's directory is older than the cluster (restored from a backup?); the node keeps its copy. To rebuild from the nodes, stop the tracker and start it on an empty directory with --cluster-secret-file`,
      );
    },
    onRefusedSecret: (path) => {
      if (!fresh || !secret.generated || refusedLogged || path !== '/v1/heartbeat') return;
      refusedLogged = true;
      const line = `storage nodes call with another cluster secret than the one this tracker generated: if this tracker's directory was wiped, stop it and start it again with --cluster-secret-file F (a copy of the secret the nodes use) or QUIRE_CLUSTER_SECRET`;
      logger.error(line);
      process.stderr.write(`quire tracker: ${line}\n`);
    },
    ...(fresh
      ? {
          rebuild: {
            syncgroups,
            waitMs: rebuildWaitMs,
            decide,
            onStillWaiting: (why: string) => logger.warn(`the catalog is not decided yet: ${why}`),
          },
        }
      : {}),
  });
  await service.registry.load();
  void service.rebuild?.failed.then((err) => stopWith?.(err));
  // Decides when the wait runs out even if no heartbeat comes at that moment.
  const rebuildTimer = service.rebuild
    ? setInterval(() => void service.rebuild?.maybeDecide().catch(() => undefined), 1000)
    : undefined;
  rebuildTimer?.unref();
  const server = await listenHttp(getRequestListener(service.app.fetch), port, host);
  url = urlOf(server, host);
  process.stdout.write(
    banner({
      url,
      syncgroups: layout?.syncgroups ?? syncgroups,
      secretPath: secret.path,
      generated: secret.generated,
      ...(main ? { accessKey: main.accessKeyId, secretKey: main.secretAccessKey } : {}),
      fresh,
    }),
  );
  logger.info(
    { url, syncgroups: layout?.syncgroups ?? syncgroups, layoutVersion: layout?.version, fresh },
    fresh
      ? 'tracker started with a fresh directory: asking the storage nodes for their catalog copy before deciding'
      : 'tracker started',
  );
  const stop = await waitForStop(Promise.race([guards.fatal, failed.then((err) => ({ decision: err }))]));
  clearInterval(rebuildTimer);
  const decisionError = (stop.fatal as { decision?: unknown } | undefined)?.decision;
  if (decisionError !== undefined)
    logger.error({ err: (decisionError as Error).message }, 'tracker stopping');
  else logger.info({ signal: stop.signal }, 'tracker stopping');
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
  await catalog.close();
  guards.remove();
  logger.flush?.();
  if (decisionError !== undefined) {
    const msg = decisionError instanceof Error ? decisionError.message : String(decisionError);
    throw new ConfigError(msg);
  }
  return stop.fatal === undefined ? 0 : 1;
}

async function keepSecret(dir: string, value: string): Promise<void> {
  const path = join(dir, SECRET_FILE_NAME);
  const held = await readFile(path, 'utf8').catch(() => undefined);
  if (held?.trim() === value) return;
  await writePrivateFileDurable(dir, SECRET_FILE_NAME, `${value}\n`);
}

/** The main key first (marked), then the configured extra keys, then keys adopted from the nodes' copy. */
function mergeKeys(
  main: Credentials,
  extras: readonly AccessKey[],
  adopted: readonly AccessKey[],
): AccessKey[] {
  const out: AccessKey[] = [
    { accessKeyId: main.accessKeyId, secretAccessKey: main.secretAccessKey, main: true },
  ];
  const seen = new Set([main.accessKeyId]);
  for (const k of [...extras, ...adopted]) {
    if (seen.has(k.accessKeyId)) continue;
    seen.add(k.accessKeyId);
    out.push({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
  }
  return out;
}

function banner(o: {
  url: string;
  syncgroups: readonly string[] | undefined;
  secretPath: string | undefined;
  generated: boolean;
  accessKey?: string;
  secretKey?: string;
  fresh: boolean;
}): string {
  const secretLine = o.secretPath
    ? `${o.generated ? 'generated' : 'kept in'} ${o.secretPath}`
    : 'given by QUIRE_CLUSTER_SECRET';
  const copy = o.secretPath
    ? `  Copy the secret to every machine of the cluster (e.g. scp ${o.secretPath} node:/etc/quire/cluster-secret),
  or export QUIRE_CLUSTER_SECRET="$(cat ${o.secretPath})" where the other processes start.\n`
    : '';
  const secretFlag = o.secretPath ? ` --cluster-secret-file ${o.secretPath}` : '';
  const keys =
    o.accessKey && o.secretKey
      ? `  access key:     ${o.accessKey}\n  secret key:     ${o.secretKey}\n`
      : '  keys:           decided once the storage nodes have reported (their catalog copy keeps the old ones)\n';
  const groups = o.syncgroups ?? ['NAME'];
  const fresh = o.fresh
    ? `  catalog:        fresh directory: asking the storage nodes for their copy first (bucket changes answer 503 until then)\n`
    : '';
  return `
Quire tracker is running.
  tracker:        ${o.url}
  syncgroups:     ${o.syncgroups?.join(', ') ?? '(from the storage nodes)'}
  cluster secret: ${secretLine}
${keys}${fresh}${copy}
Start storage nodes and a gateway:
${groups.map((g) => `  quire storage --data /srv/quire-${g}-1 --port 9201 --tracker ${o.url} --syncgroup ${g}${secretFlag}`).join('\n')}
  quire gateway --port 9000 --tracker ${o.url}${secretFlag}

`;
}
