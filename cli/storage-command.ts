// `quire storage`: a cluster storage node. The same storage node as `quire server`'s, served over its internal HTTP
// API behind the cluster secret, refusing keys its syncgroup does not own, heartbeating to the tracker.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { syncgroupName } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';
import { readReplicationMode } from '../common/replication-mode.ts';
import { TrackerClient, TrackerRefused } from '../common/tracker-client.ts';
import { versioningFromSetting } from '../gateway/handlers/versioning.ts';
import { readLifecycle } from '../gateway/s3/lifecycle.ts';
import { BucketPurgeWorker } from '../storage/bucket-purge-worker.ts';
import { ClusterMember, loadKeptLayout } from '../storage/cluster-member.ts';
import { StorageClient } from '../storage/http-client.ts';
import { createStorageServer } from '../storage/http-server.ts';
import { type Replication, setUpReplication } from '../storage/mirror-setup.ts';
import { PartitionGuard } from '../storage/partition-guard.ts';
import { RecoveryPull } from '../storage/recovery-pull.ts';
import { pushSyncControl } from '../storage/recovery-pull-join.ts';
import { ReplicaPeers } from '../storage/replica-peers.ts';
import { copyScanned } from '../storage/replica-scan.ts';
import { listenOn, numberFlag, urlFlag, urlOf, waitForStop } from './cluster-process.ts';
import { givenClusterSecret } from './cluster-secret.ts';
import { ConfigError, configFromEnv, resolveConfig } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { dataLayout, openStorage, recoveryLine, scheduleUploadExpiry } from './embedded.ts';
import { createLogger } from './logger.ts';
import { installProcessGuards } from './process-guards.ts';

const IDENTITY_FILE = 'cluster-node.json';
const DAY_MS = 24 * 3600 * 1000;
const SOCKET_IDLE_MS = 120_000;

export async function storageCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      tracker: { type: 'string' },
      syncgroup: { type: 'string' },
      advertise: { type: 'string' },
      'cluster-secret-file': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'recovery-bytes-per-second': { type: 'string' },
      'volume-max-bytes': { type: 'string' },
      'mirror-timeout-ms': { type: 'string' },
      'binlog-retention-hours': { type: 'string' },
      'binlog-retention-bytes': { type: 'string' },
      'reserved-free-bytes': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  if (!values.data) throw new ConfigError('name the node data directory with --data DIR');
  const flags: Record<string, unknown> = { dataDir: values.data };
  if (values['log-level']) flags.logLevel = values['log-level'];
  if (values['volume-max-bytes']) flags.volumeMaxBytes = values['volume-max-bytes'];
  if (values['reserved-free-bytes']) flags.reservedFreeBytes = values['reserved-free-bytes'];
  if (values['mirror-timeout-ms']) flags.mirrorTimeoutMs = values['mirror-timeout-ms'];
  if (values['binlog-retention-hours']) flags.binlogRetentionHours = values['binlog-retention-hours'];
  if (values['binlog-retention-bytes']) flags.binlogRetentionBytes = values['binlog-retention-bytes'];
  const config = resolveConfig([configFromEnv(process.env), flags]);
  const trackerUrl = urlFlag(values.tracker, '--tracker');
  const group = syncgroupName.safeParse(values.syncgroup);
  if (!group.success)
    throw new ConfigError('name the syncgroup with --syncgroup NAME (as given to the tracker)');
  const port = numberFlag(values.port ?? '9201', '--port', 0, 65535);
  const host = values.host ?? '127.0.0.1';
  const heartbeatMs = numberFlag(values['heartbeat-ms'] ?? '2000', '--heartbeat-ms', 100);
  const recoveryBytesPerSecond = numberFlag(
    values['recovery-bytes-per-second'] ?? '0',
    '--recovery-bytes-per-second',
    0,
  );
  const secret = givenClusterSecret(values['cluster-secret-file'], process.env);

  const dir = resolve(values.data);
  lockDataDir(dir, 'storage', { create: true });
  const identity = await nodeIdentity(dir, group.data);
  const logger = createLogger(config.logLevel).child({ node: identity.nodeId, syncgroup: group.data });
  const guards = installProcessGuards(logger);
  const layout = dataLayout(dir);
  // The lifecycle worker reads bucket settings from the catalog the tracker sends with each heartbeat reply; one
  // member of the syncgroup runs it, its removals mirrored.
  let member: ClusterMember | undefined;
  let replication: Replication | undefined;
  let recovery: RecoveryPull<StorageClient> | undefined;
  // Bad bytes are repaired from the syncgroup's other live members (storage/replica-repair.ts).
  const peers = new ReplicaPeers({ secret });
  const storage = await openStorage({
    mirrors: () => peers.ends(member?.members() ?? []),
    repairLog: logger.child({ part: 'repair' }),
    dataDir: layout.node,
    nodeId: Number.parseInt(identity.nodeId, 16),
    volumes: [
      {
        dir: layout.volume,
        maxBytes: config.volumeMaxBytes,
        reservedFreeBytes: config.reservedFreeBytes,
        chunkBytes: config.chunkfileBytes,
      },
    ],
    smallObjectMaxBytes: config.smallObjectMaxBytes,
    minPartBytes: config.multipartMinPartBytes,
    indexSync: config.indexSync,
    compaction: {
      liveRatioBelow: config.compactLiveRatio,
      bytesPerSecond: config.compactBytesPerSecond,
      intervalMs: config.compactIntervalMs,
      log: logger.child({ part: 'compactor' }),
    },
    lifecycle: {
      rulesFor: (id) => readLifecycle(member?.bucketConfig(id, 'lifecycle')),
      versioningFor: (id) => versioningFromSetting(member?.bucketConfig(id, 'versioning')),
      intervalMs: config.lifecycleIntervalMs,
      opsPerSecond: config.lifecycleOpsPerSecond,
      // Not while a recovery pull fills the node: it would judge a partial store.
      active: () => recovery?.phase === 'serving' && (replication?.runsLifecycle() ?? false),
      through: () => replication?.api,
      log: logger.child({ part: 'lifecycle' }),
    },
  });
  if (storage.recovery) logger.info({ recovery: storage.recovery }, recoveryLine(storage.recovery));
  const guard = new PartitionGuard(storage, group.data, await loadKeptLayout(dir));
  const repl = await setUpReplication({
    node: storage,
    guard,
    selfId: identity.nodeId,
    dataDir: layout.node,
    disk: nodeDisk,
    secret,
    modeFor: (id) => readReplicationMode(member?.bucketConfig(id, 'replication-mode')),
    mirrorTimeoutMs: config.mirrorTimeoutMs,
    retainMs: config.binlogRetentionHours * 3600 * 1000,
    retainBytes: config.binlogRetentionBytes,
    log: logger.child({ part: 'sync' }),
    // Gateways route no reads to a member behind, once the tracker has the report: send it now, not a beat later.
    onBehind: () => member?.beatSoon(),
  });
  replication = repl;
  // An empty node (fresh directory, replaced disk, new member) fills itself from a live mirror before it serves.
  const clients = new Map<string, StorageClient>();
  recovery = await RecoveryPull.open({
    dataDir: layout.node,
    disk: nodeDisk,
    nodeId: identity.nodeId,
    localStats: () => storage.stats(),
    connect: (at) => {
      let c = clients.get(at);
      if (!c) {
        c = new StorageClient(at, { secret });
        clients.set(at, c);
      }
      return c;
    },
    copyKey: (from, ref, scanned) => copyScanned({ from, to: storage, ref, scanned }),
    bytesPerSecond: recoveryBytesPerSecond,
    log: logger.child({ part: 'recovery-pull' }),
  });
  const pull = recovery;
  // While it pulls it refuses user calls (gate); the member side of others' pulls: where push sync toward a pulling
  // node starts (recovery-pull-join.ts).
  const storageServer = createStorageServer(repl.api, {
    secret,
    gate: (method) => pull.gate(method),
    pushSync: pushSyncControl(identity.nodeId, repl.sync),
  });
  // A 5 GiB part relayed by a gateway may take longer than Node's default 5-minute request limit: no limit on a
  // whole request; a connection that sends nothing for SOCKET_IDLE_MS (a vanished gateway) is closed.
  storageServer.requestTimeout = 0;
  storageServer.setTimeout(SOCKET_IDLE_MS);
  const server = await listenOn(storageServer, port, host);
  const url = values.advertise ? urlFlag(values.advertise, '--advertise') : urlOf(server, host);
  // Leftovers of deleted buckets (written while this node was away from a delete) go once the catalog says so.
  const purger = new BucketPurgeWorker({
    deleted: () => member?.deletedIncarnations() ?? new Set(),
    nextBucket: (after) => storage.nextBucket(after),
    dropBucket: (id) => storage.dropBucket(id),
    intervalMs: 10 * 60_000,
    log: logger.child({ part: 'purge' }),
  });
  member = new ClusterMember({
    onCatalog: () => void purger.run(),
    onOffered: (seq) =>
      logger.info({ seq }, "sent this node's catalog copy and layout to the tracker, which is rebuilding"),
    tracker: new TrackerClient({ url: trackerUrl, secret }),
    guard,
    stats: () => storage.stats(),
    nodeId: identity.nodeId,
    url,
    dataDir: dir,
    disk: nodeDisk,
    intervalMs: heartbeatMs,
    startedMs: Date.now(),
    onError: (err) =>
      logger.warn({ err: (err as Error).message }, 'heartbeat failed; serving with the layout held'),
    onRecovered: () => logger.info('tracker reachable again'),
    report: () => ({
      sync: repl.report(),
      mirrors: repl.mirrors(),
      repairs: storage.repairs,
      opver: storage.counter.toString(),
      ...pull.report(),
    }),
    onMembers: (members) => {
      repl.onMembers(members);
      void pull.onMembers(members);
    },
  });
  try {
    await member.beatOnce();
  } catch (err) {
    // The tracker refusing this node (wrong syncgroup, wrong secret) is an operator mistake: say it and stop.
    // A tracker that is down is not: serve with the kept layout and keep trying.
    if (err instanceof TrackerRefused) {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await storage.close();
      guards.remove();
      throw new ConfigError(`the tracker refused this node: ${err.message}`);
    }
    logger.warn({ err: (err as Error).message }, 'tracker unreachable; serving with the layout kept here');
  }
  member.start();
  if (pull.phase !== 'serving') {
    logger.info(
      'this node holds no object: it serves once its syncgroup has nothing to pull, or a recovery pull filled it',
    );
    // Say 'up' at once when the pull is done, not a heartbeat later.
    void pull.serving.then(() => member?.beat());
  }
  purger.start();
  void purger.run();
  repl.start();
  const expiry = scheduleUploadExpiry(storage, config.multipartExpiryDays * DAY_MS, logger);
  process.stdout.write(
    `Quire storage node ${identity.nodeId} (syncgroup ${group.data}) is serving at ${url}; tracker ${trackerUrl}\n`,
  );
  logger.info({ url, tracker: trackerUrl }, 'storage node started');

  const stop = await waitForStop(guards.fatal);
  logger.info({ signal: stop.signal }, 'storage node stopping');
  clearInterval(expiry);
  await member.stop();
  await pull.stop();
  await purger.stop();
  await repl.stop();
  for (const c of clients.values()) await c.close().catch(() => undefined);
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
  await closed;
  clearTimeout(grace);
  await storage.close();
  await peers.close();
  guards.remove();
  logger.flush?.();
  return stop.fatal === undefined ? 0 : 1;
}

/** The node's id (8 hex digits, its opver tie-break) and syncgroup: generated once, kept in the data directory. */
async function nodeIdentity(dir: string, syncgroup: string): Promise<{ nodeId: string; syncgroup: string }> {
  const text = await readFile(`${dir}/${IDENTITY_FILE}`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text !== undefined) {
    let kept: { nodeId?: unknown; syncgroup?: unknown };
    try {
      kept = JSON.parse(text) as typeof kept;
    } catch {
      kept = {};
    }
    if (
      typeof kept.nodeId !== 'string' ||
      !/^[0-9a-f]{8}$/.test(kept.nodeId) ||
      typeof kept.syncgroup !== 'string'
    )
      throw new ConfigError(
        `${dir}/${IDENTITY_FILE} is damaged; restore it (it names this node in the cluster)`,
      );
    if (kept.syncgroup !== syncgroup)
      throw new ConfigError(
        `this data directory belongs to syncgroup ${kept.syncgroup}, not ${syncgroup}; start it with --syncgroup ${kept.syncgroup}`,
      );
    return { nodeId: kept.nodeId, syncgroup };
  }
  let id = 0;
  while (id === 0) id = randomBytes(4).readUInt32BE(0);
  const identity = { nodeId: id.toString(16).padStart(8, '0'), syncgroup };
  await writeFileDurable(nodeDisk, dir, IDENTITY_FILE, JSON.stringify(identity));
  return identity;
}
