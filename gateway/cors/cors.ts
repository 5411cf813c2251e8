// CORS at request time, for the API and the website listener alike: the preflight (OPTIONS) answered by the
// bucket's first matching rule, and the Access-Control-* headers of actual responses (errors included).
// A request without an Origin header costs one header lookup.
import type { ServerResponse } from 'node:http';
import { S3Error } from '../errors.ts';
import type { BucketDirectory } from '../handlers/deps.ts';
import { type CorsConfig, type CorsRule, readCorsConfig } from './config.ts';

/** What AWS sends in Vary on every CORS-evaluated answer of a bucket that has a CORS configuration. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

// The catalog hands out the same stored object until the configuration changes: validate it once.
const parsedConfigs = new WeakMap<object, CorsConfig | null>();

export function bucketCors(buckets: BucketDirectory, bucketName: string): CorsConfig | undefined {
  const bucket = buckets.getBucket(bucketName);
  if (bucket === undefined) return undefined;
  const stored = buckets.getBucketConfig(bucket, 'cors');
  if (stored === undefined || stored === null || typeof stored !== 'object') return undefined;
  let parsed = parsedConfigs.get(stored);
  if (parsed === undefined) {
    parsed = readCorsConfig(stored) ?? null;
    parsedConfigs.set(stored, parsed);
  }
  return parsed ?? undefined;
}

/** `*` stands for any run of characters (at most one in a rule, as PutBucketCors enforces). */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

/** The first rule allowing this origin, method and (for a preflight) every requested header. */
export function matchRule(
  config: CorsConfig,
  origin: string,
  method: string,
  requestHeaders: readonly string[],
): CorsRule | undefined {
  return config.rules.find(
    (rule) =>
      (rule.allowedMethods as readonly string[]).includes(method) &&
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  );
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The Access-Control-* headers a matching rule grants, shared by preflights and actual responses. */
function grantedHeaders(rule: CorsRule, origin: string): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const out: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  };
  // Credentials can only be allowed for a named origin (browsers refuse `*` with credentials).
  if (!anyOrigin) out['access-control-allow-credentials'] = 'true';
  if (rule.exposeHeaders.length > 0) out['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) out['access-control-max-age'] = String(rule.maxAgeSeconds);
  return out;
}

/**
 * Puts the CORS headers of an actual (non-preflight) request on the response before anything is written, so
 * the answer carries them whether it succeeds or fails. Nothing happens without an Origin header.
 */
export function applyCorsHeaders(
  buckets: BucketDirectory,
  res: ServerResponse,
  req: { method?: string | undefined; headers: Record<string, string | string[] | undefined> },
  bucketName: string | undefined,
): void {
  const origin = firstHeader(req.headers.origin);
  if (origin === undefined || bucketName === undefined) return;
  const config = bucketCors(buckets, bucketName);
  if (config === undefined) return;
  res.setHeader('vary', CORS_VARY);
  const rule = matchRule(config, origin, (req.method ?? 'GET').toUpperCase(), []);
  if (rule === undefined) return;
  for (const [name, value] of Object.entries(grantedHeaders(rule, origin))) res.setHeader(name, value);
}

const NOT_ALLOWED =
  "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/**
 * The answer to a preflight (OPTIONS) for a bucket or an object, unauthenticated as on AWS: the headers of
 * the first rule that allows the origin, the requested method and every requested header. Throws AWS's
 * error otherwise (400 without Origin or method, 403 AccessForbidden when CORS is off or nothing matches).
 */
export function preflightHeaders(
  buckets: BucketDirectory,
  headers: Record<string, string | string[] | undefined>,
  bucketName: string,
  resourceType: 'BUCKET' | 'OBJECT',
): Record<string, string> {
  const origin = firstHeader(headers.origin);
  if (origin === undefined) {
    throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  }
  const method = firstHeader(headers['access-control-request-method']);
  if (method === undefined || method === '') {
    throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  }
  const forbidden = (message: string) =>
    new S3Error('AccessForbidden', message, { Method: method, ResourceType: resourceType });
  if (buckets.getBucket(bucketName) === undefined) throw forbidden('CORSResponse: Bucket not found');
  const config = bucketCors(buckets, bucketName);
  if (config === undefined) throw forbidden('CORSResponse: CORS is not enabled for this bucket.');
  const requested = (firstHeader(headers['access-control-request-headers']) ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const rule = matchRule(config, origin, method, requested);
  if (rule === undefined) throw forbidden(NOT_ALLOWED);
  const out = grantedHeaders(rule, origin);
  if (requested.length > 0) out['access-control-allow-headers'] = requested.join(', ').toLowerCase();
  out.vary = CORS_VARY;
  return out;
}
