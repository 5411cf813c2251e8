// What every process serving S3 shares — the embedded `quire server` and each cluster `quire gateway`: the gateway
// options taken from the configuration, the HTTP server settings, the flags an operator sets them with, and the
// second listener for static websites. One place, so a gateway in a cluster serves exactly what the single node does.
import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GatewayDeps } from '../gateway/app.ts';
import { FULL_BLOCK, NO_BLOCK } from '../gateway/authz/public-access.ts';
import { type Config, ConfigError } from './config.ts';

/** Command-line flags of an S3-serving process (parseArgs options) beside its own. */
export const S3_FLAGS = {
  'body-timeout-ms': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'shutdown-grace-ms': { type: 'string' },
  'metrics-token': { type: 'string' },
  'website-port': { type: 'string' },
  'website-domain': { type: 'string' },
  'block-public-access': { type: 'boolean' },
  'no-sigv2': { type: 'boolean' },
} as const;

/** The configuration fields the S3_FLAGS given set. */
export function s3FlagValues(
  values: Partial<Record<keyof typeof S3_FLAGS, string | boolean>>,
): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  const copy: Array<[keyof typeof S3_FLAGS, string]> = [
    ['body-timeout-ms', 'bodyTimeoutMs'],
    ['headers-timeout-ms', 'headersTimeoutMs'],
    ['shutdown-grace-ms', 'shutdownGraceMs'],
    ['metrics-token', 'metricsToken'],
    ['website-port', 'websitePort'],
    ['website-domain', 'websiteDomain'],
  ];
  for (const [flag, field] of copy) if (values[flag] !== undefined) flags[field] = values[flag];
  if (values['block-public-access']) flags.blockPublicAccess = true;
  if (values['no-sigv2']) flags.sigV2 = false;
  return flags;
}

/** The gateway options that come from the configuration (the rest — storage, buckets, keys — from the process). */
export function gatewayConfigOptions(
  config: Config,
): Pick<
  GatewayDeps,
  'region' | 'baseDomains' | 'limits' | 'metricsToken' | 'websiteDomain' | 'blockPublicAccess' | 'sigV2'
> {
  return {
    region: config.region,
    baseDomains: config.baseDomains,
    limits: {
      maxObjectBytes: config.maxObjectBytes,
      minPartBytes: config.multipartMinPartBytes,
      bodyTimeoutMs: config.bodyTimeoutMs,
    },
    ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
    websiteDomain: config.websiteDomain,
    blockPublicAccess: config.blockPublicAccess ? FULL_BLOCK : NO_BLOCK,
    sigV2: config.sigV2,
  };
}

export function s3ServerOptions(config: Config): ServerOptions {
  return {
    keepAliveTimeout: 65_000,
    // No limit on a whole request (a 5 GiB PUT may take long); a body that stalls is cut by bodyTimeoutMs.
    requestTimeout: 0,
    headersTimeout: config.headersTimeoutMs,
    // Node enforces headersTimeout only when it sweeps its connections: sweep often enough to keep it.
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(config.headersTimeoutMs / 4))),
  };
}

/** The website listener's port: configured, else the S3 port + 1 (a random one when S3's is random), or 'off'. */
export function websitePortOf(config: Config): number | 'off' {
  return config.websitePort ?? (config.port === 0 || config.port === 65535 ? 0 : config.port + 1);
}

/**
 * Opens the static-website listener (unless turned off). A port in use is the operator's to fix: a ConfigError
 * saying how; the caller closes what it opened before.
 */
export async function openWebsiteListener(
  config: Config,
  listener: RequestListener,
): Promise<{ server: Server; port: number; domain: string } | undefined> {
  const port = websitePortOf(config);
  if (port === 'off') return undefined;
  const server = createServer(s3ServerOptions(config), listener);
  server.on('checkContinue', listener);
  server.on('clientError', (_err: Error, socket: Socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new ConfigError(
      `the website port ${port} is already in use; pick another with --website-port N (QUIRE_WEBSITE_PORT), or --website-port off`,
    );
  }
  return { server, port: (server.address() as AddressInfo).port, domain: config.websiteDomain };
}
