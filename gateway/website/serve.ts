// The website endpoint: a second listener where the Host names the bucket and anonymous GET/HEAD requests
// are served as a static site — index documents, the dir → dir/ redirect, routing rules, the error document,
// x-amz-website-redirect-location — with HTML error pages. No S3 API call is reachable here: the query is
// ignored and every method but GET, HEAD and a CORS preflight is 405.
import type { BucketInfo } from '../../tracker/catalog.ts';
import {
  type AccessRequest,
  authorize,
  missingObjectError,
  requestFacts,
  requireObjectAccess,
  type Verdict,
} from '../authz/authorize.ts';
import { applyCorsHeaders, preflightHeaders } from '../cors/cors.ts';
import { S3Error } from '../errors.ts';
import { inIncarnation } from '../handlers/access.ts';
import type { GatewayDeps, RequestState } from '../handlers/deps.ts';
import { streamBody } from '../handlers/object-read.ts';
import { type Exchange, sendEmpty, writeHead } from '../http/respond.ts';
import { evaluateReadConditions } from '../s3/conditionals.ts';
import { headerWireValue, httpDate, objectResponseHeaders } from '../s3/headers.ts';
import { percentDecode } from '../s3/percent.ts';
import { parseRange } from '../s3/range.ts';
import { splitTarget } from '../s3/target.ts';
import { type RoutingRule, readWebsiteConfig, type WebsiteConfig } from './config.ts';
import { errorPage, type HtmlError } from './html.ts';

export const DEFAULT_WEBSITE_DOMAIN = 's3-website.localhost';

export interface WebsiteOptions {
  /** `<bucket>.<domain>` Host names select a bucket; any other Host must itself name a bucket. */
  readonly domain: string;
}

/** The bucket a website request addresses: `<bucket>.<domain>`, else the whole host name if a bucket has it. */
export function websiteBucket(
  host: string | undefined,
  domain: string,
  exists: (name: string) => boolean,
): string | undefined {
  if (host === undefined || host === '' || host.startsWith('[')) return undefined;
  const name = host.replace(/:\d*$/, '').toLowerCase().replace(/\.$/, '');
  const base = domain.toLowerCase();
  if (name.length > base.length + 1 && name.endsWith(`.${base}`)) {
    return name.slice(0, name.length - base.length - 1);
  }
  return exists(name) ? name : undefined;
}

/**
 * The one authorization step of the website endpoint: s3:GetObject on the key for an anonymous reader
 * (website endpoints serve only what a bucket policy or ACL makes public; a signature grants nothing here).
 */
function readRequest(site: Site, key: string): { request: AccessRequest; verdict: Verdict } {
  const request: AccessRequest = {
    principal: undefined,
    bucket: site.bucket,
    action: 's3:GetObject',
    key,
    facts: requestFacts(site.ex.req, NO_QUERY),
  };
  return { request, verdict: authorize(site.deps, request) };
}

const NO_QUERY: ReadonlyMap<string, string> = new Map();

/** Answers one website request completely (errors included, as HTML); throws only once headers are out. */
export async function serveWebsite(
  deps: GatewayDeps,
  ex: Exchange,
  state: RequestState,
  opts: WebsiteOptions,
): Promise<void> {
  const method = (ex.req.method ?? 'GET').toUpperCase();
  state.op = method === 'HEAD' ? 'WebsiteHead' : method === 'OPTIONS' ? 'WebsitePreflight' : 'WebsiteGet';
  try {
    const host = ex.req.headers.host;
    const name = websiteBucket(host, opts.domain, (n) => deps.buckets.getBucket(n) !== undefined);
    if (name !== undefined) state.bucket = name;
    applyCorsHeaders(deps.buckets, ex.res, ex.req, name);
    const { rawPath } = splitTarget(ex.req.url ?? '/');
    const key = percentDecode(rawPath.slice(1), false);
    if (key !== '') state.key = key;
    if (method === 'OPTIONS' && name !== undefined) {
      sendEmpty(
        ex,
        200,
        preflightHeaders(deps.buckets, ex.req.headers, name, key === '' ? 'BUCKET' : 'OBJECT'),
      );
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
    }
    const bucket = name === undefined ? undefined : deps.buckets.getBucket(name);
    if (bucket === undefined) {
      throw new S3Error('NoSuchBucket', undefined, { BucketName: name ?? hostName(host) });
    }
    const config = readWebsiteConfig(deps.buckets.getBucketConfig(bucket, 'website'));
    if (config === undefined) {
      throw new S3Error('NoSuchWebsiteConfiguration', undefined, { BucketName: bucket.name });
    }
    await serveSite({ deps, ex, bucket, config, key, rawPath });
  } catch (err) {
    if (ex.res.headersSent) throw err;
    sendPage(ex, htmlError(err, deps, ex));
  }
}

interface Site {
  readonly deps: GatewayDeps;
  readonly ex: Exchange;
  readonly bucket: BucketInfo;
  readonly config: WebsiteConfig;
  /** The decoded request path without its leading '/'. */
  readonly key: string;
  readonly rawPath: string;
}

async function serveSite(site: Site): Promise<void> {
  const { ex, config, key } = site;
  if ('redirectAll' in config) {
    const { hostName, protocol } = config.redirectAll;
    redirect(ex, 301, `${protocol ?? 'http'}://${hostName}${site.rawPath}`);
    return;
  }
  const early = config.routingRules.find(
    (r) => r.condition?.httpErrorCodeReturnedEquals === undefined && prefixMatches(r, key),
  );
  if (early !== undefined) {
    redirect(ex, early.redirect.httpRedirectCode ?? 301, ruleLocation(site, early));
    return;
  }
  const documentKey = key === '' || key.endsWith('/') ? key + config.indexSuffix : key;
  let failure: S3Error;
  try {
    await serveObject(site, documentKey, { main: true });
    return;
  } catch (err) {
    if (!(err instanceof S3Error) || ex.res.headersSent) throw err;
    failure = err;
  }
  // `dir` with a `dir/index.html` is a directory asked for without its slash: send the browser there.
  if (failure.code === 'NoSuchKey' && documentKey === key) {
    const indexKey = `${key}/${config.indexSuffix}`;
    if (await isReadable(site, indexKey)) {
      redirect(ex, 302, `${site.rawPath}/`);
      return;
    }
  }
  if (failure.status !== 404 && failure.status !== 403) throw failure;
  const onError = config.routingRules.find(
    (r) => r.condition?.httpErrorCodeReturnedEquals === failure.status && prefixMatches(r, key),
  );
  if (onError !== undefined) {
    redirect(ex, onError.redirect.httpRedirectCode ?? 301, ruleLocation(site, onError));
    return;
  }
  if (config.errorKey === undefined) throw failure;
  try {
    await serveObject(site, config.errorKey, {
      main: false,
      status: failure.status,
      failure: htmlError(failure, site.deps, ex),
    });
  } catch (docErr) {
    if (ex.res.headersSent) throw docErr;
    sendPage(ex, htmlError(failure, site.deps, ex), htmlError(docErr, site.deps, ex));
  }
}

function prefixMatches(rule: RoutingRule, key: string): boolean {
  const prefix = rule.condition?.keyPrefixEquals;
  return prefix === undefined || key.startsWith(prefix);
}

/** Where a routing rule sends the request: its protocol and host (else ours), the key replaced as it says. */
function ruleLocation(site: Site, rule: RoutingRule): string {
  const r = rule.redirect;
  const prefix = rule.condition?.keyPrefixEquals ?? '';
  const key =
    r.replaceKeyWith ??
    (r.replaceKeyPrefixWith !== undefined
      ? r.replaceKeyPrefixWith + site.key.slice(prefix.length)
      : site.key);
  const host = r.hostName ?? String(site.ex.req.headers.host ?? '');
  return `${r.protocol ?? 'http'}://${host}/${encodeKey(key)}`;
}

/** A key as a URL path: each segment percent-encoded, slashes kept. */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((s) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
}

function redirect(ex: Exchange, status: number, location: string): void {
  sendEmpty(ex, status, { location });
}

function openPublicMissing(site: Site, request: AccessRequest, verdict: Verdict, key: string): never {
  throw missingObjectError(site.deps, request, verdict, new S3Error('NoSuchKey', undefined, { Key: key }));
}

/** Opens the object for an anonymous reader: AccessDenied unless public; a missing key is 404 only if listing is public too. */
async function openPublic(site: Site, key: string) {
  const { deps, bucket } = site;
  const { request, verdict } = readRequest(site, key);
  const handle = await inIncarnation(deps, bucket, { writes: false, discard: (h) => h?.release() }, () =>
    deps.storage.openObject(bucket.id, Buffer.from(key, 'utf8')),
  );
  // The current version being a delete marker means the page is gone, as if never written.
  if (handle?.record.deleteMarker) {
    handle.release();
    return openPublicMissing(site, request, verdict, key);
  }
  // As AWS: without s3:ListBucket a reader may not learn that a key is absent.
  if (handle === undefined) return openPublicMissing(site, request, verdict, key);
  try {
    // A public-read object ACL makes the object readable here, as a policy does.
    requireObjectAccess(deps, request, verdict, handle.record.acl);
  } catch (err) {
    handle.release();
    throw err;
  }
  return handle;
}

async function isReadable(site: Site, key: string): Promise<boolean> {
  try {
    (await openPublic(site, key)).release();
    return true;
  } catch (err) {
    if (err instanceof S3Error) return false;
    throw err;
  }
}

/**
 * Streams an object: the requested document (conditionals, Range, its redirect location honoured) or the
 * error document (sent whole with the failure's status).
 */
async function serveObject(
  site: Site,
  key: string,
  opts: { main: true } | { main: false; status: number; failure: HtmlError },
): Promise<void> {
  const { ex } = site;
  const handle = await openPublic(site, key);
  try {
    const { record } = handle;
    if (opts.main && record.headers.websiteRedirectLocation !== undefined) {
      redirect(ex, 301, record.headers.websiteRedirectLocation);
      return;
    }
    let range: { start: number; end: number } | undefined;
    if (opts.main) {
      const verdict = evaluateReadConditions(ex.req.headers, {
        etag: record.etag,
        lastModifiedMs: record.lastModifiedMs,
      });
      if (verdict === 'not-modified') {
        sendEmpty(ex, 304, { etag: `"${record.etag}"`, 'last-modified': httpDate(record.lastModifiedMs) });
        return;
      }
      if (verdict === 'precondition-failed') {
        throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
      }
      const header = ex.req.headers.range;
      range = parseRange(Array.isArray(header) ? header[0] : header, record.size);
    }
    const partial = range !== undefined;
    const start = range?.start ?? 0;
    const end = range?.end ?? record.size - 1;
    const headers = objectResponseHeaders(record, { range: { start, end, partial } });
    // The redirect location is the API's business (GetObject shows it); a website reader only follows it.
    delete headers['x-amz-website-redirect-location'];
    const status = opts.main ? (partial ? 206 : 200) : opts.status;
    if (!opts.main) Object.assign(headers, errorHeaders(opts.failure));
    const length = record.size === 0 ? 0 : end - start + 1;
    headers['content-length'] = String(length);
    if (ex.req.method === 'HEAD' || length === 0) {
      writeHead(ex, status, headers);
      ex.res.end();
      return;
    }
    const chunks = handle.stream({ start, end })[Symbol.asyncIterator]();
    try {
      const first = await chunks.next();
      writeHead(ex, status, headers);
      await streamBody(ex, first, chunks, length);
    } finally {
      await chunks.return?.();
    }
  } finally {
    handle.release();
  }
}

function hostName(host: string | undefined): string {
  return (host ?? '').replace(/:\d*$/, '');
}

function htmlError(err: unknown, deps: GatewayDeps, ex: Exchange): HtmlError {
  if (err instanceof S3Error) {
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      details: err.details,
      headers: err.headers,
    };
  }
  deps.logger.error({ err, reqId: ex.requestId }, 'website: internal error');
  const internal = new S3Error('InternalError');
  return { status: internal.status, code: internal.code, message: internal.message };
}

function sendPage(ex: Exchange, e: HtmlError, errorDocumentFailure?: HtmlError): void {
  if (e.status === 304) {
    sendEmpty(ex, 304);
    return;
  }
  const body = Buffer.from(errorPage(e, ex.requestId, errorDocumentFailure), 'utf8');
  writeHead(ex, e.status, {
    ...e.headers,
    ...errorHeaders(e),
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
  });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}

/**
 * As AWS's website endpoints: the error in headers too (x-amz-error-code, -message, -detail-*), so a HEAD
 * (no body) or a custom error document still says what went wrong.
 */
function errorHeaders(e: HtmlError): Record<string, string> {
  const out: Record<string, string> = { 'x-amz-error-code': e.code, 'x-amz-error-message': e.message };
  for (const [name, value] of Object.entries(e.details ?? {})) {
    const wire = headerWireValue(value);
    if (wire !== undefined) out[`x-amz-error-detail-${name}`] = wire;
  }
  return out;
}
