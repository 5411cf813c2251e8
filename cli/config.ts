// One zod schema for the whole configuration: defaults, a one-line reason per field, parsed once at start.
// Sources, lowest to highest precedence: defaults < config file (--config) < environment (QUIRE_*) < flags.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const GiB = 1024 ** 3;

const accessKeySchema = z.object({
  accessKeyId: z.string().regex(/^[A-Za-z0-9_+=,.@-]{3,128}$/, 'use 3–128 letters, digits or _+=,.@-'),
  secretAccessKey: z.string().min(8, 'use at least 8 characters'),
});

/** A switch: a JSON boolean, or true/false/1/0 from the environment. */
const onOff = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);

export const configSchema = z.object({
  /** Where volumes, the index and the catalog live. */
  dataDir: z.string().min(1).default('./data'),
  /** TCP port of the S3 endpoint. */
  port: z.coerce.number().int().min(0).max(65535).default(9000),
  /** Interface to listen on; loopback by default so a fresh install is not exposed. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Region reported to clients and used in SigV4 scopes. */
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'use lower-case letters, digits and -')
    .default('us-east-1'),
  /** Base domains for virtual-hosted-style requests (bucket.<domain>). */
  baseDomains: z.array(z.string().min(1)).default(['localhost']),
  /** The main access key; generated once and kept in the data dir when not given. */
  accessKeyId: z.string().optional(),
  secretAccessKey: z.string().optional(),
  /** More access keys, each owning the buckets it creates. */
  extraKeys: z.array(accessKeySchema).default([]),
  /** Largest size the volume may grow to (bytes on disk). A change applies at the next start. */
  volumeMaxBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * GiB),
  /**
   * Free disk space the volume never fills, so the machine keeps working when the store is full; also
   * kept out of volumeMaxBytes. A change applies at the next start.
   */
  reservedFreeBytes: z.coerce
    .number()
    .int()
    .min(0)
    .default(4 * GiB),
  /** Objects below this size are packed into chunkfiles; larger ones get a singlefile. */
  smallObjectMaxBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Smallest multipart part (all but the last), as S3 requires. */
  multipartMinPartBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * 1024 * 1024),
  /** Largest single PUT, as S3 allows. */
  maxObjectBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * GiB),
  /**
   * 'ack': a write is acknowledged only once its index commit is flushed too (the default, and what the design
   * requires). 'background': the index flushes on its own and is rebuilt from the volumes after a crash.
   */
  indexSync: z.enum(['ack', 'background']).default('ack'),
  /** pino level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A request body that sends nothing for this long is aborted (400 RequestTimeout) and its resources freed. */
  bodyTimeoutMs: z.coerce.number().int().positive().default(60_000),
  /** A request's headers must have arrived this long after it started. */
  headersTimeoutMs: z.coerce.number().int().positive().default(60_000),
  /** On SIGTERM/SIGINT, in-flight requests get this long to finish before they are aborted. */
  shutdownGraceMs: z.coerce.number().int().min(0).default(10_000),
  /** When set, GET /metrics answers only `Authorization: Bearer <token>` (401 otherwise); /health stays open. */
  metricsToken: z
    .string()
    .regex(
      /^[\x21-\x7e]{16,256}$/,
      'use 16–256 printable characters without spaces, e.g. `openssl rand -hex 32`',
    )
    .optional(),
  /** Abandoned multipart uploads older than this are removed with their parts. */
  multipartExpiryDays: z.coerce.number().positive().default(7),
  /** Chunkfiles whose live bytes fall below this fraction of their size are compacted in the background (0: never). */
  compactLiveRatio: z.coerce.number().min(0).max(1).default(0.5),
  /** Compaction copy rate limit in bytes per second (0: unlimited). */
  compactBytesPerSecond: z.coerce
    .number()
    .int()
    .min(0)
    .default(64 * 1024 * 1024),
  /** How often the compaction worker looks for sparse chunkfiles. */
  compactIntervalMs: z.coerce.number().int().min(10).default(30_000),
  /** How often the lifecycle worker runs the buckets' lifecycle rules (0: never). */
  lifecycleIntervalMs: z.coerce
    .number()
    .int()
    .min(0)
    .default(60 * 60 * 1000),
  /** Objects expired and uploads aborted per second by the lifecycle worker, at most (0: unlimited). */
  lifecycleOpsPerSecond: z.coerce.number().int().min(0).default(1000),
  /**
   * Block public access server-wide (all four of AWS's switches, on top of each bucket's own): public ACLs
   * and public policies are refused and ignored. Off by default, so a bucket can be made public.
   */
  blockPublicAccess: onOff.default(false),
  /** Accept signature version 2 (header and presigned URLs), as old clients and `s3cmd signurl` use. */
  sigV2: onOff.default(true),
  /** Size of the chunkfiles small objects are packed into, for volumes created from now on. */
  chunkfileBytes: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * 1024 * 1024)
    .default(64 * 1024 * 1024),
  /**
   * Cluster storage node: a mirror that makes no progress on a mirrored write for this long (nothing of the body
   * taken, or no answer once it is sent) is left behind; the write is acknowledged and push sync catches it up.
   */
  mirrorTimeoutMs: z.coerce.number().int().min(1).default(2000),
  /**
   * Cluster storage node: a mirror away this long is no longer waited for; the binlog it would need is not kept
   * and it must refill by a recovery pull (`quire status` shows it).
   */
  binlogRetentionHours: z.coerce
    .number()
    .positive()
    .default(7 * 24),
  /** Cluster storage node: the most binlog kept for a mirror that is away; past it, the same as the hours. */
  binlogRetentionBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(16 * GiB),
  /** TCP port of the static-website endpoint (same host), or 'off'; default: the S3 port + 1 (0 with port 0). */
  websitePort: z
    .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)], {
      error: "use a port number (0-65535) or 'off'",
    })
    .optional(),
  /** On the website port, `<bucket>.<websiteDomain>` Host names select the bucket. */
  websiteDomain: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
      'use a DNS name, e.g. s3-website.example.com',
    )
    .default('s3-website.localhost'),
});

export type Config = z.infer<typeof configSchema>;

/** A configuration problem, said in one line with the fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ENV: Record<string, keyof Config> = {
  QUIRE_DATA: 'dataDir',
  QUIRE_PORT: 'port',
  QUIRE_HOST: 'host',
  QUIRE_REGION: 'region',
  QUIRE_ACCESS_KEY: 'accessKeyId',
  QUIRE_SECRET_KEY: 'secretAccessKey',
  QUIRE_RESERVED_FREE_BYTES: 'reservedFreeBytes',
  QUIRE_VOLUME_MAX_BYTES: 'volumeMaxBytes',
  QUIRE_LOG_LEVEL: 'logLevel',
  QUIRE_MULTIPART_MIN_PART_BYTES: 'multipartMinPartBytes',
  QUIRE_INDEX_SYNC: 'indexSync',
  QUIRE_COMPACT_LIVE_RATIO: 'compactLiveRatio',
  QUIRE_COMPACT_BYTES_PER_SECOND: 'compactBytesPerSecond',
  QUIRE_COMPACT_INTERVAL_MS: 'compactIntervalMs',
  QUIRE_CHUNKFILE_BYTES: 'chunkfileBytes',
  QUIRE_LIFECYCLE_INTERVAL_MS: 'lifecycleIntervalMs',
  QUIRE_LIFECYCLE_OPS_PER_SECOND: 'lifecycleOpsPerSecond',
  QUIRE_BODY_TIMEOUT_MS: 'bodyTimeoutMs',
  QUIRE_HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
  QUIRE_SHUTDOWN_GRACE_MS: 'shutdownGraceMs',
  QUIRE_METRICS_TOKEN: 'metricsToken',
  QUIRE_WEBSITE_PORT: 'websitePort',
  QUIRE_WEBSITE_DOMAIN: 'websiteDomain',
  QUIRE_BLOCK_PUBLIC_ACCESS: 'blockPublicAccess',
  QUIRE_SIGV2: 'sigV2',
  QUIRE_MIRROR_TIMEOUT_MS: 'mirrorTimeoutMs',
  QUIRE_BINLOG_RETENTION_HOURS: 'binlogRetentionHours',
  QUIRE_BINLOG_RETENTION_BYTES: 'binlogRetentionBytes',
};

/** Parses `AK:SK,AK2:SK2` (QUIRE_EXTRA_KEYS). */
function parseKeyList(text: string, source: string): Array<{ accessKeyId: string; secretAccessKey: string }> {
  return text
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((pair) => {
      const at = pair.indexOf(':');
      if (at <= 0)
        throw new ConfigError(`${source}: "${pair}" is not ACCESS:SECRET; write pairs like AK1:SK1,AK2:SK2`);
      return { accessKeyId: pair.slice(0, at).trim(), secretAccessKey: pair.slice(at + 1).trim() };
    });
}

export function configFromEnv(env: NodeJS.ProcessEnv): Partial<Record<keyof Config, unknown>> {
  const out: Partial<Record<keyof Config, unknown>> = {};
  for (const [name, field] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') out[field] = value;
  }
  if (env.QUIRE_EXTRA_KEYS) out.extraKeys = parseKeyList(env.QUIRE_EXTRA_KEYS, 'QUIRE_EXTRA_KEYS');
  if (env.QUIRE_BASE_DOMAIN) out.baseDomains = env.QUIRE_BASE_DOMAIN.split(',').map((s) => s.trim());
  return out;
}

export function configFromFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read config file ${path}; check the path given to --config`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new ConfigError(`config file ${path} is not a JSON object; write it as {"port": 9000, ...}`);
  }
}

/** Merges the sources and validates once; a bad value becomes one line naming it and the fix. */
export function resolveConfig(layers: Array<Record<string, unknown>>): Config {
  const merged = Object.assign({}, ...layers);
  const result = configSchema.strict().safeParse(merged);
  if (result.success) {
    const c = result.data;
    if ((c.accessKeyId === undefined) !== (c.secretAccessKey === undefined)) {
      throw new ConfigError(
        'set both QUIRE_ACCESS_KEY and QUIRE_SECRET_KEY, or neither (one is generated then)',
      );
    }
    if (c.volumeMaxBytes <= c.reservedFreeBytes) {
      throw new ConfigError(
        `volume-max-bytes (${c.volumeMaxBytes}) must be larger than reserved-free-bytes (${c.reservedFreeBytes}), or nothing can be stored; raise --volume-max-bytes (QUIRE_VOLUME_MAX_BYTES) or lower --reserved-free-bytes (QUIRE_RESERVED_FREE_BYTES)`,
      );
    }
    if (c.accessKeyId !== undefined) {
      const key = accessKeySchema.safeParse({
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
      });
      if (!key.success) {
        const issue = key.error.issues[0]!;
        throw new ConfigError(`invalid ${String(issue.path[0])}: ${issue.message}`);
      }
    }
    return c;
  }
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.') || '(config)';
  const value =
    issue.path.length > 0 ? (merged as Record<string, unknown>)[String(issue.path[0])] : undefined;
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  throw new ConfigError(`invalid ${field}${shown}: ${issue.message}`);
}
