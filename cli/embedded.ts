// The embedded mode: one tracker catalog, one storage node with one volume and the S3 gateway in one process,
// calling each other through the same interfaces the distributed mode uses over HTTP.
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createGateway } from '../gateway/app.ts';
import type { Credentials } from '../gateway/auth/types.ts';
import { createHashingPool } from '../gateway/checksums/index.ts';
import { versioningFromSetting } from '../gateway/handlers/versioning.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import { readLifecycle } from '../gateway/s3/lifecycle.ts';
import { errorXml } from '../gateway/s3/xml.ts';
import { VolumeLimitError } from '../packing/errors.ts';
import { StorageNode } from '../storage/node.ts';
import type { RecoveryReport } from '../storage/recovery.ts';
import { Catalog } from '../tracker/catalog.ts';
import { type Config, ConfigError } from './config.ts';
import { purgeDeadBuckets } from './dead-buckets.ts';
import { gatewayConfigOptions, openWebsiteListener, s3ServerOptions } from './s3-listeners.ts';

export interface RunningQuire {
  readonly endpoint: string;
  readonly port: number;
  /** The website endpoint, unless turned off (`--website-port off`). */
  readonly website?: { readonly port: number; readonly domain: string };
  /** One lifecycle pass now, judged by the lifecycle clock; resolves when it is done. */
  runLifecycle(): Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish for up to `shutdownGraceMs`, aborts the rest (their
   * clients get no answer and nothing of them is acknowledged), makes everything durable, closes LMDB.
   */
  close(): Promise<void>;
  /** During close(): stop waiting for in-flight requests and abort them now (a second Ctrl-C). */
  abortInFlight(): void;
}

/** Where each part keeps its files inside the data directory (one place, so tests and docs agree). */
export function dataLayout(dataDir: string) {
  const root = resolve(dataDir);
  return {
    root,
    tracker: join(root, 'tracker'),
    node: root,
    index: join(root, 'index'),
    volume: join(root, 'volumes', 'v1'),
  };
}

/** Seams for tests: the wall clock lifecycle rules are judged by (default Date.now). */
export interface EmbeddedSeams {
  lifecycleClock?: () => number;
}

export async function startEmbedded(
  config: Config,
  credentials: Credentials[],
  logger: Logger,
  seams: EmbeddedSeams = {},
): Promise<RunningQuire> {
  const layout = dataLayout(config.dataDir);
  await mkdir(layout.root, { recursive: true });
  const catalog = Catalog.open(layout.tracker);
  const storage = await openStorage({
    dataDir: layout.node,
    nodeId: 1,
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
      // Storage knows incarnation ids only; the catalog holds each one's rules (validated when they were put).
      rulesFor: (id) => readLifecycle(catalog.getBucketConfig({ name: '', id }, 'lifecycle')),
      versioningFor: (id) => versioningFromSetting(catalog.getBucketConfig({ name: '', id }, 'versioning')),
      intervalMs: config.lifecycleIntervalMs,
      opsPerSecond: config.lifecycleOpsPerSecond,
      ...(seams.lifecycleClock ? { clock: seams.lifecycleClock } : {}),
      log: logger.child({ part: 'lifecycle' }),
    },
  });
  const r = storage.recovery;
  if (r) logger.info({ part: 'storage', recovery: r }, recoveryLine(r));
  await purgeDeadBuckets(catalog, storage, logger);
  const hasher = createHashingPool();
  const keys = new Map(credentials.map((c) => [c.accessKeyId, c]));
  let ready = false;
  const metrics = new GatewayMetrics(async () => (await storage.stats()).volumes);
  metrics.addCompaction(() => storage.compactor.stats());
  metrics.addLifecycle(() => storage.lifecycle.stats());
  const gateway = createGateway({
    buckets: catalog,
    storage,
    credentials: (id) => keys.get(id),
    ...gatewayConfigOptions(config),
    logger: logger.child({ part: 'gateway' }),
    metrics,
    hasher,
    clock: () => Date.now(),
    isReady: () => ready,
  });

  const serverOptions = s3ServerOptions(config);
  const server = createServer(serverOptions, gateway.listener);
  // With a listener here Node does not send `100 Continue` by itself: handlers send it once the request is accepted.
  server.on('checkContinue', gateway.listener);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  await listen(server, config.port, config.host);
  const servers = [server];
  let website: RunningQuire['website'];
  try {
    const site = await openWebsiteListener(config, gateway.websiteListener);
    if (site) {
      servers.push(site.server);
      website = { port: site.port, domain: site.domain };
    }
  } catch (err) {
    // Nothing is served yet: close what is open so the process can end with the one-line reason.
    await new Promise<void>((done) => server.close(() => done()));
    await storage.close();
    await catalog.close();
    await hasher.close();
    throw err;
  }
  ready = true;
  const expiry = scheduleUploadExpiry(storage, config.multipartExpiryDays * DAY_MS, logger);
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  let abortNow!: () => void;
  const aborted = new Promise<void>((resolve) => {
    abortNow = resolve;
  });
  return {
    endpoint: `http://${host}:${port}`,
    port,
    ...(website ? { website } : {}),
    runLifecycle: () => storage.lifecycle.runOnce(),
    abortInFlight: () => abortNow(),
    close: () => {
      closing ??= (async () => {
        ready = false;
        clearInterval(expiry);
        gateway.drain();
        const stopped = Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
        for (const s of servers) s.closeIdleConnections();
        const finished = await settlesWithin(gateway.idle(), config.shutdownGraceMs, aborted);
        if (!finished) {
          logger.warn(
            { inFlight: gateway.inFlight(), graceMs: config.shutdownGraceMs },
            'shutdown: aborting requests still in flight',
          );
        }
        // Idle keep-alive connections, and (after the grace) the requests still running: their bodies fail,
        // so storage aborts their writes, and their clients see a cut connection, never an acknowledgement.
        for (const s of servers) s.closeAllConnections();
        if (!(await settlesWithin(gateway.idle(), ABORT_UNWIND_MS))) {
          logger.error({ inFlight: gateway.inFlight() }, 'shutdown: requests did not unwind; closing anyway');
        }
        await settlesWithin(stopped, ABORT_UNWIND_MS);
        await storage.close();
        await catalog.close();
        await hasher.close();
      })();
      return closing;
    },
  };
}

/** Opens the storage node; size limits the volume cannot take become one line naming the flags. */
export async function openStorage(opts: Parameters<typeof StorageNode.open>[0]): Promise<StorageNode> {
  try {
    return await StorageNode.open(opts);
  } catch (err) {
    if (!(err instanceof VolumeLimitError)) throw err;
    throw new ConfigError(
      `${err.message}; set --volume-max-bytes (QUIRE_VOLUME_MAX_BYTES) to at least ${err.minMaxBytes} (plus --reserved-free-bytes), or free space first`,
    );
  }
}

/** The one line that says what the storage node did at start. */
export function recoveryLine(r: RecoveryReport): string {
  const what =
    r.mode === 'clean'
      ? 'clean start'
      : r.mode === 'tail'
        ? 'after an unclean stop, checked what changed since the last checkpoints'
        : `rebuilt the index from the volumes (${r.reason})`;
  return `recovery: ${what}: ${r.checked} entries and keys checked, ${r.repaired} repaired, binlog ${r.binlogVoided} voided / ${r.binlogAppended} appended, ${r.seconds.toFixed(2)} s`;
}

const DAY_MS = 24 * 3600 * 1000;
/** After aborting the last requests, how long their handlers get to unwind before storage closes anyway. */
const ABORT_UNWIND_MS = 5000;

/** True if `p` settles within `ms` (or before `cut` resolves), false otherwise; never rejects. */
export async function settlesWithin(p: Promise<unknown>, ms: number, cut?: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = p.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, timeout, ...(cut ? [cut.then(() => false)] : [])]);
  clearTimeout(timer);
  return result;
}
const EXPIRY_SWEEP_MS = 3600 * 1000;

/** Abandoned multipart uploads are removed with their parts, once an hour, so their space comes back. */
export function scheduleUploadExpiry(storage: StorageNode, maxAgeMs: number, logger: Logger): NodeJS.Timeout {
  const sweep = () => {
    storage.expireUploads(Date.now(), maxAgeMs).then(
      (removed) => removed > 0 && logger.info({ removed }, 'expired abandoned multipart uploads'),
      (err: unknown) => logger.error({ err }, 'multipart expiry failed'),
    );
  };
  const timer = setInterval(sweep, EXPIRY_SWEEP_MS);
  timer.unref();
  sweep();
  return timer;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
}

/** Requests Node rejects before our handler (oversized or malformed headers) still get an S3 error XML. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const code = tooLarge ? 'RequestHeaderSectionTooLarge' : timedOut ? 'RequestTimeout' : 'InvalidRequest';
  const message = tooLarge
    ? 'Your request header section exceeds the maximum allowed size.'
    : timedOut
      ? 'Your socket connection to the server was not read from or written to within the timeout period.'
      : 'The request could not be parsed.';
  const body = Buffer.from(
    errorXml({ code, message, resource: '/', requestId: '0000000000000000', details: {} }),
  );
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\nConnection: close\r\nx-amz-request-id: 0000000000000000\r\n\r\n${body.toString('latin1')}`,
  );
}
