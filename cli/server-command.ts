// `quire server`: parse config, start the embedded Quire, print how to reach it, stop cleanly on a signal.
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { configFromEnv, configFromFile, resolveConfig } from './config.ts';
import { mainCredentials } from './credentials.ts';
import { startEmbedded } from './embedded.ts';
import { createLogger } from './logger.ts';

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
    },
  });
  const flags: Record<string, unknown> = {};
  if (values.data !== undefined) flags.dataDir = values.data;
  if (values.port !== undefined) flags.port = values.port;
  if (values.host !== undefined) flags.host = values.host;
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  if (values['volume-max-bytes'] !== undefined) flags.volumeMaxBytes = values['volume-max-bytes'];
  if (values['reserved-free-bytes'] !== undefined) flags.reservedFreeBytes = values['reserved-free-bytes'];
  const config = resolveConfig([
    values.config ? configFromFile(values.config) : {},
    configFromEnv(process.env),
    flags,
  ]);
  await mkdir(config.dataDir, { recursive: true });
  const main = await mainCredentials(config.dataDir, {
    ...(config.accessKeyId ? { accessKeyId: config.accessKeyId } : {}),
    ...(config.secretAccessKey ? { secretAccessKey: config.secretAccessKey } : {}),
  });
  const logger = createLogger(config.logLevel);
  const quire = await startEmbedded(config, [main, ...config.extraKeys], logger);
  process.stdout.write(
    banner(quire.endpoint, main.accessKeyId, main.secretAccessKey, config.dataDir, config.region),
  );

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info({ signal }, 'stopping: finishing in-flight requests');
  await quire.close();
  logger.info('stopped cleanly');
  logger.flush?.();
  return 0;
}

function banner(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  dataDir: string,
  region: string,
): string {
  return `
Quire is running.
  endpoint:    ${endpoint}
  access key:  ${accessKey}
  secret key:  ${secretKey}
  region:      ${region}
  data:        ${dataDir}

Try it:
  AWS_ACCESS_KEY_ID=${accessKey} AWS_SECRET_ACCESS_KEY=${secretKey} AWS_DEFAULT_REGION=${region} aws --endpoint-url ${endpoint} s3 ls

`;
}
