// `quire server`: parse config, start the embedded Quire, print how to reach it, stop cleanly on a signal.
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { configFromEnv, configFromFile, resolveConfig } from './config.ts';
import { mainCredentials } from './credentials.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { type RunningQuire, startEmbedded } from './embedded.ts';
import { createLogger } from './logger.ts';
import { installProcessGuards } from './process-guards.ts';
import { S3_FLAGS, s3FlagValues } from './s3-listeners.ts';

export async function serverCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
      config: { type: 'string' },
      'volume-max-bytes': { type: 'string' },
      'reserved-free-bytes': { type: 'string' },
      'compact-live-ratio': { type: 'string' },
      'compact-bytes-per-second': { type: 'string' },
      'compact-interval-ms': { type: 'string' },
      'chunkfile-bytes': { type: 'string' },
      'lifecycle-interval-ms': { type: 'string' },
      'lifecycle-ops-per-second': { type: 'string' },
      ...S3_FLAGS,
    },
  });
  const flags: Record<string, unknown> = s3FlagValues(values);
  if (values.data !== undefined) flags.dataDir = values.data;
  if (values.port !== undefined) flags.port = values.port;
  if (values.host !== undefined) flags.host = values.host;
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  if (values['volume-max-bytes'] !== undefined) flags.volumeMaxBytes = values['volume-max-bytes'];
  if (values['reserved-free-bytes'] !== undefined) flags.reservedFreeBytes = values['reserved-free-bytes'];
  if (values['compact-live-ratio'] !== undefined) flags.compactLiveRatio = values['compact-live-ratio'];
  if (values['compact-bytes-per-second'] !== undefined)
    flags.compactBytesPerSecond = values['compact-bytes-per-second'];
  if (values['compact-interval-ms'] !== undefined) flags.compactIntervalMs = values['compact-interval-ms'];
  if (values['chunkfile-bytes'] !== undefined) flags.chunkfileBytes = values['chunkfile-bytes'];
  if (values['lifecycle-interval-ms'] !== undefined)
    flags.lifecycleIntervalMs = values['lifecycle-interval-ms'];
  if (values['lifecycle-ops-per-second'] !== undefined)
    flags.lifecycleOpsPerSecond = values['lifecycle-ops-per-second'];
  const config = resolveConfig([
    values.config ? configFromFile(values.config) : {},
    configFromEnv(process.env),
    flags,
  ]);
  lockDataDir(config.dataDir, 'server', { create: true });
  await mkdir(config.dataDir, { recursive: true });
  const main = await mainCredentials(config.dataDir, {
    ...(config.accessKeyId ? { accessKeyId: config.accessKeyId } : {}),
    ...(config.secretAccessKey ? { secretAccessKey: config.secretAccessKey } : {}),
  });
  const logger = createLogger(config.logLevel);
  const guards = installProcessGuards(logger);
  // Signals are caught from before startup: a SIGTERM while the node is still opening (recovery, a rebuild)
  // lets it finish opening and then stops cleanly, instead of Node's default of dying mid-open.
  let signals = 0;
  let quire: Awaited<ReturnType<typeof startEmbedded>> | undefined;
  let onStop: (stop: { signal?: string; fatal?: unknown }) => void = () => {};
  const stopped = new Promise<{ signal?: string; fatal?: unknown }>((resolve) => {
    onStop = resolve;
  });
  const onSignal = (signal: string) => {
    // The first signal stops gracefully; another one (a second Ctrl-C) aborts in-flight requests at once.
    if (++signals === 1) {
      if (!quire) logger.info({ signal }, 'stop requested while starting: stopping once the node is open');
      onStop({ signal });
    } else quire?.abortInFlight();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  void guards.fatal.then((fatal) => onStop({ fatal }));
  quire = await startEmbedded(config, [main, ...config.extraKeys], logger);
  if (signals === 0)
    process.stdout.write(
      banner(
        quire.endpoint,
        main.accessKeyId,
        main.secretAccessKey,
        config.dataDir,
        config.region,
        quire.website,
      ),
    );
  const stop = await stopped;
  logger.info(
    { signal: stop.signal, graceMs: config.shutdownGraceMs },
    'stopping: finishing in-flight requests',
  );
  // Whatever happens inside close(), the process ends: a stop that cannot finish is logged and cut.
  const watchdog = setTimeout(() => {
    logger.fatal('shutdown did not finish; exiting without a clean close (the index is rebuilt at start)');
    logger.flush?.();
    process.exit(1);
  }, config.shutdownGraceMs + SHUTDOWN_WATCHDOG_MS);
  watchdog.unref();
  await quire.close();
  clearTimeout(watchdog);
  guards.remove();
  logger.info('stopped cleanly');
  logger.flush?.();
  return stop.fatal === undefined ? 0 : 1;
}

/** Beyond the grace time: how long closing the storage node may take before the process gives up on it. */
const SHUTDOWN_WATCHDOG_MS = 60_000;

function banner(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  dataDir: string,
  region: string,
  website: RunningQuire['website'],
): string {
  const site = website ? `  website:     http://<bucket>.${website.domain}:${website.port}/\n` : '';
  return `
Quire is running.
  endpoint:    ${endpoint}
${site}  access key:  ${accessKey}
  secret key:  ${secretKey}
  region:      ${region}
  data:        ${dataDir}

Try it:
  AWS_ACCESS_KEY_ID=${accessKey} AWS_SECRET_ACCESS_KEY=${secretKey} AWS_DEFAULT_REGION=${region} aws --endpoint-url ${endpoint} s3 ls

`;
}
