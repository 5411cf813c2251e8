// The S3 gateway: parse once, authenticate once, dispatch to one handler per operation.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { hoistedHeaders } from './auth/hoisted.ts';
import { verifyRequest } from './auth/verify.ts';
import { admit } from './authz/admission.ts';
import { applyCorsHeaders } from './cors/cors.ts';
import { S3Error } from './errors.ts';
import { answerPreflight } from './handlers/bucket-cors.ts';
import type { GatewayDeps, Handler, RequestState } from './handlers/deps.ts';
import { HANDLERS } from './handlers/index.ts';
import { postObject } from './handlers/post-object.ts';
import { type Exchange, sendEmpty, sendXml, settleUnreadBody } from './http/respond.ts';
import { type Operation, parseOperation, parseTarget } from './s3/operation.ts';
import { bucketFromHost } from './s3/target.ts';
import { errorXml } from './s3/xml.ts';
import { bearerTokenMatches, isBearer } from './service-auth.ts';
import { toS3Error } from './to-s3-error.ts';
import { DEFAULT_WEBSITE_DOMAIN, serveWebsite } from './website/serve.ts';

export type { GatewayDeps } from './handlers/deps.ts';

const DEFAULT_BODY_TIMEOUT_MS = 60_000;

type NodeBindings = { incoming: IncomingMessage; outgoing: ServerResponse };

export interface Gateway {
  /** The Node request listener to mount on an http.Server (also handles `checkContinue`). */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** The website endpoint's listener (gateway/website), for a second http.Server. */
  readonly websiteListener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Requests being handled now. */
  inFlight(): number;
  /** Shutting down: every answer from now on closes its connection, so keep-alive clients go elsewhere. */
  drain(): void;
}

export function createGateway(deps: GatewayDeps): Gateway {
  let inFlight = 0;
  let draining = false;
  const answering = new Set<ServerResponse>();
  let idleWaiters: Array<() => void> = [];
  const nextRequestId = requestIdSource();

  // Hono serves the service endpoints. S3 requests go straight to our dispatcher on the Node request and
  // response: bodies stream both ways without web-stream copies, and Hono's HEAD-as-GET rewrapping (which
  // would answer a second time) never touches them.
  const service = new Hono<{ Bindings: NodeBindings }>();
  service.get('/health', (c) => (deps.isReady() ? c.text('ok\n') : c.text('starting\n', 503)));
  service.get('/metrics', async (c) => {
    if (
      deps.metricsToken !== undefined &&
      !bearerTokenMatches(c.req.header('authorization'), deps.metricsToken)
    ) {
      return c.text('unauthorized: send Authorization: Bearer <metrics token>\n', 401, {
        'www-authenticate': 'Bearer realm="quire-metrics"',
      });
    }
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': deps.metrics.registry.contentType });
  });
  const serviceListener = getRequestListener(service.fetch);

  const serve = async (req: IncomingMessage, res: ServerResponse, handle: typeof handleS3) => {
    inFlight++;
    answering.add(res);
    if (draining) res.setHeader('connection', 'close');
    try {
      await handle(deps, req, res, nextRequestId());
    } catch (err) {
      // Nothing of one request may take the process down: log, cut this exchange, serve on.
      deps.logger.error({ err }, 'request handling failed after its answer');
      res.destroy();
    } finally {
      answering.delete(res);
      if (--inFlight === 0) {
        for (const wake of idleWaiters) wake();
        idleWaiters = [];
      }
    }
  };

  return {
    listener: (req, res) =>
      void (isServiceProbe(req) ? serviceListener(req, res) : serve(req, res, handleS3)),
    websiteListener: (req, res) => void serve(req, res, handleWebsite),
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise((wake) => idleWaiters.push(wake))),
    inFlight: () => inFlight,
    drain: () => {
      draining = true;
      for (const res of answering) if (!res.headersSent) res.setHeader('connection', 'close');
    },
  };
}

/**
 * `/health` and `/metrics` are answered only to plain GETs that are not SigV4-signed (no Authorization, or a
 * bearer token for /metrics), so a bucket named "health" or "metrics" still works.
 */
function isServiceProbe(req: IncomingMessage): boolean {
  if (req.method !== 'GET') return false;
  const auth = req.headers.authorization;
  if (req.url === '/health') return auth === undefined;
  return req.url === '/metrics' && (auth === undefined || isBearer(auth));
}

function newExchange(
  deps: GatewayDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Exchange {
  const ex: Exchange = {
    req,
    res,
    requestId,
    bytesIn: 0,
    bytesOut: 0,
    bodyTaken: false,
    bodyTimeoutMs: deps.limits.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
  return ex;
}

/** A request to the website endpoint: answered by gateway/website, logged and measured as any other. */
async function handleWebsite(
  deps: GatewayDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
) {
  const started = process.hrtime.bigint();
  const ex = newExchange(deps, req, res, requestId);
  const state: RequestState = { op: 'WebsiteGet' };
  try {
    await serveWebsite(deps, ex, state, { domain: deps.websiteDomain ?? DEFAULT_WEBSITE_DOMAIN });
  } catch (err) {
    deps.logger.error({ err, reqId: requestId }, 'website answer cut short');
    res.destroy();
  } finally {
    if (!ex.bodyTaken) settleUnreadBody(ex);
    finish(deps, ex, state, started);
  }
}

async function handleS3(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse, requestId: string) {
  const started = process.hrtime.bigint();
  const ex = newExchange(deps, req, res, requestId);
  const state: RequestState = { op: 'Unknown' };
  try {
    const target = parseTarget(req.url ?? '/', req.headers.host, { baseDomains: deps.baseDomains });
    applyCorsHeaders(deps.buckets, res, req, target.bucket);
    const hoisted = hoistedHeaders(target.query, req.headers);
    const operation: Operation = parseOperation(
      req.method ?? 'GET',
      target,
      hoisted ? { ...req.headers, ...hoisted } : req.headers,
    );
    state.op = operation.op;
    if ('bucket' in operation) state.bucket = operation.bucket;
    if ('key' in operation) state.key = operation.key;
    if (operation.op === 'NotImplemented') {
      throw new S3Error('NotImplemented', `${operation.name} is not implemented by Quire`);
    }
    // Browsers send preflights unsigned, and form uploads carry their signature in the form.
    if (operation.op === 'OptionsObject') return answerPreflight(deps.buckets, ex, operation);
    if (operation.op === 'PostObject') return await postObject({ deps, ex, target, op: operation });
    const verified = verifyRequest(
      { method: req.method ?? 'GET', rawTarget: req.url ?? '/', headers: req.headers, parsed: target },
      deps.credentials,
      deps.clock(),
      {
        region: deps.region,
        sigV2: deps.sigV2 !== false,
        hostBucket: () => bucketFromHost(req.headers.host, deps.baseDomains),
      },
    );
    // Verified against the headers as sent; from here on the signed query's x-amz-* act as headers too.
    if (hoisted) Object.assign(req.headers, hoisted);
    const authorized = admit(deps, operation, verified, req, target.query);
    const handler = HANDLERS[operation.op] as Handler<typeof operation>;
    await handler({ deps, ex, verified: authorized, target, op: operation });
  } catch (err) {
    sendFailure(deps.logger, ex, state, err);
  } finally {
    if (!ex.bodyTaken) settleUnreadBody(ex);
    finish(deps, ex, state, started);
  }
}

function sendFailure(logger: Logger, ex: Exchange, state: RequestState, err: unknown): void {
  const s3 = toS3Error(err);
  if (s3.code === 'InternalError') {
    logger.error({ err, reqId: ex.requestId, op: state.op }, 'internal error');
  }
  const { res } = ex;
  if (res.headersSent) {
    // Headers are out: the only honest signal left is to cut the connection so the client sees a short body.
    res.destroy();
    return;
  }
  if (ex.bodyTaken && !ex.req.complete) {
    // Refused halfway through its body (storage full, bad chunk signature...): what is left of the body
    // would be read as the next request on this connection, so discard it and close after answering.
    res.setHeader('connection', 'close');
    ex.req.resume();
  }
  settleUnreadBody(ex);
  for (const [name, value] of Object.entries(s3.headers)) res.setHeader(name, value);
  if (s3.status === 304 || ex.req.method === 'HEAD') {
    sendEmpty(ex, s3.status);
    return;
  }
  const resource =
    state.bucket === undefined ? '/' : `/${state.bucket}${state.key === undefined ? '' : `/${state.key}`}`;
  sendXml(
    ex,
    s3.status,
    errorXml({ code: s3.code, message: s3.message, resource, requestId: ex.requestId, details: s3.details }),
  );
}

function finish(deps: GatewayDeps, ex: Exchange, state: RequestState, started: bigint): void {
  // No named closure per request (tsx's keepNames makes each one cost a defineProperty).
  if (ex.res.writableFinished || ex.res.destroyed) logRequest(deps, ex, state, started);
  else ex.res.once('close', () => logRequest(deps, ex, state, started));
}

/** Metrics and the access-log line of one finished exchange. */
function logRequest(deps: GatewayDeps, ex: Exchange, state: RequestState, started: bigint): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const status = ex.res.statusCode;
  deps.metrics.observe(state.op, status, seconds, ex.bytesIn, ex.bytesOut);
  deps.logger.info(
    {
      reqId: ex.requestId,
      op: state.op,
      bucket: state.bucket,
      key: state.key,
      status,
      bytesIn: ex.bytesIn,
      bytesOut: ex.bytesOut,
      ms: Math.round(seconds * 1e4) / 10,
    },
    'request',
  );
}

/** Request ids like AWS's: 16 upper-case hex digits, unique per process without a syscall per request. */
function requestIdSource(): () => string {
  const prefix = randomBytes(3).toString('hex').toUpperCase();
  let counter = 0;
  return () => {
    counter = (counter + 1) % 0x10000000000;
    return prefix + counter.toString(16).toUpperCase().padStart(10, '0');
  };
}
