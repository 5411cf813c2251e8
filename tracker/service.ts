// The tracker's internal HTTP API (Hono): heartbeats from storage nodes, polls and bucket changes from gateways,
// the status report. Every call but /health needs the cluster secret (constant-time compare); every body is
// size-limited and parsed with its zod schema (common/cluster-wire.ts) before anything acts on it.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import {
  bucketRefBodySchema,
  type ClusterStatus,
  closeFinishSchema,
  createBucketSchema,
  heartbeatSchema,
  leaveSchema,
  MAX_TRACKER_BODY_BYTES,
  type PollReply,
  pollSchema,
  putConfigSchema,
  SECRET_HEADER,
  secretMatches,
  TRACKER,
} from '../common/cluster-wire.ts';
import type { Layout } from '../common/layout.ts';
import { fromWire, toWire } from '../common/wire-json.ts';
import { BucketCloser, CloseBusy, CloseExpired } from './bucket-close.ts';
import type { BucketConfigKind, Catalog, InitialBucketConfig } from './catalog.ts';
import { CatalogView } from './catalog-view.ts';
import { type GatewayLeases, LeaseBusy } from './gateway-leases.ts';
import { NodeRegistry, RegistryConflict } from './registry.ts';

export interface TrackerServiceOptions {
  catalog: Catalog;
  layout: Layout;
  secret: string;
  /** The access keys gateways verify signatures with. */
  keys: Array<{ accessKeyId: string; secretAccessKey: string }>;
  leases: GatewayLeases;
  suspectAfterMs: number;
  /** How long a DeleteBucket waits for gateways to confirm the closing before answering 503. */
  closeAckTimeoutMs?: number;
  /** How long a closing waits for the deleting gateway's verdict. */
  closeFinishTimeoutMs?: number;
  /** Monotonic ms. */
  now: () => number;
  /** Wall-clock ms, for the status report only. */
  wallClock: () => number;
  /** The tracker's data directory (the registry keeps its members there); absent in tests. */
  dir?: string;
  /** Where this tracker answers (for the status report). */
  url: () => string;
}

export interface TrackerService {
  app: Hono;
  registry: NodeRegistry;
  view: CatalogView;
}

class BadRequest extends Error {}

/** Call `registry.load()` before serving (createTrackerService leaves it to the caller, which awaits it). */
export function createTrackerService(opts: TrackerServiceOptions): TrackerService {
  const registry = new NodeRegistry({
    suspectAfterMs: opts.suspectAfterMs,
    now: opts.now,
    ...(opts.dir ? { dir: opts.dir } : {}),
  });
  const view = new CatalogView(opts.catalog);
  const closer = new BucketCloser(opts.catalog, view, opts.leases, {
    ackTimeoutMs: opts.closeAckTimeoutMs ?? 10_000,
    finishTimeoutMs: opts.closeFinishTimeoutMs ?? 60_000,
  });
  const startedMs = opts.wallClock();
  const wireLayout = {
    ...opts.layout,
    syncgroups: [...opts.layout.syncgroups],
    owners: [...opts.layout.owners],
  };
  const app = new Hono();

  app.get('/health', (c) => c.text('ok'));
  app.use('/v1/*', async (c, next) => {
    if (!secretMatches(c.req.header(SECRET_HEADER), opts.secret))
      return c.json({ code: 'AccessDenied', message: 'missing or wrong cluster secret' }, 403);
    await next();
  });
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_TRACKER_BODY_BYTES,
      onError: (c) => c.json({ code: 'EntityTooLarge', message: 'internal request body too large' }, 413),
    }),
  );
  app.onError((err, c) => {
    if (err instanceof BadRequest) return c.json({ code: 'InvalidArgument', message: err.message }, 400);
    if (err instanceof RegistryConflict)
      return c.json({ code: 'InvalidArgument', message: err.message }, 409);
    if (err instanceof LeaseBusy || err instanceof CloseBusy || err instanceof CloseExpired)
      return c.json({ code: 'ServiceUnavailable', message: err.message }, 503);
    return c.json({ code: 'InternalError', message: 'tracker internal error' }, 500);
  });

  const json = (value: unknown) =>
    new Response(toWire(value), { headers: { 'content-type': 'application/json' } });
  async function body<S extends z.ZodType>(req: { text(): Promise<string> }, schema: S): Promise<z.infer<S>> {
    let raw: unknown;
    try {
      raw = fromWire(await req.text());
    } catch {
      throw new BadRequest('body is not JSON');
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new BadRequest(`invalid body: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data;
  }

  app.post(TRACKER.heartbeat, async (c) => {
    const hb = await body(c.req, heartbeatSchema);
    if (!opts.layout.syncgroups.includes(hb.syncgroup))
      throw new BadRequest(
        `syncgroup ${hb.syncgroup} is not in this cluster's layout (${opts.layout.syncgroups.join(', ')})`,
      );
    await registry.beat(hb);
    // Storage nodes run lifecycle rules: they keep the bucket settings as gateways do.
    return json({
      layout: wireLayout,
      suspectAfterMs: opts.suspectAfterMs,
      members: registry.list().filter((n) => n.syncgroup === hb.syncgroup && n.nodeId !== hb.nodeId),
      ...(hb.catalogVersion === view.version ? {} : { catalog: view.snapshot() }),
    });
  });

  app.post(TRACKER.poll, async (c) => {
    const poll = await body(c.req, pollSchema);
    await opts.leases.renew(poll.gatewayId, poll.catalogVersion);
    const reply: PollReply = {
      leaseMs: opts.leases.leaseMs,
      ...(poll.layoutVersion === opts.layout.version ? {} : { layout: wireLayout }),
      nodes: registry.list(),
      keys: opts.keys,
      ...(poll.catalogVersion === view.version ? {} : { catalog: view.snapshot() }),
    };
    return json(reply);
  });

  app.post(TRACKER.leave, async (c) => {
    await opts.leases.release((await body(c.req, leaveSchema)).gatewayId);
    return json({});
  });

  app.post(TRACKER.createBucket, async (c) => {
    const { spec, initial } = await body(c.req, createBucketSchema);
    const outcome = await opts.catalog.createBucket(spec, (initial ?? {}) as InitialBucketConfig);
    if (outcome === 'created') view.changed();
    return json({ outcome, catalog: view.snapshot() });
  });

  app.post(TRACKER.putConfig, async (c) => {
    const { bucket, kind, value } = await body(c.req, putConfigSchema);
    const ok = await opts.catalog.putBucketConfig(bucket, kind as BucketConfigKind, value);
    if (ok) view.changed();
    return json({ ok, catalog: view.snapshot() });
  });

  app.post(TRACKER.isCurrent, async (c) => {
    const { bucket } = await body(c.req, bucketRefBodySchema);
    return json({ current: await opts.catalog.isCurrent(bucket) });
  });

  app.post(TRACKER.close, async (c) => {
    const { bucket } = await body(c.req, bucketRefBodySchema);
    return json(await closer.close(bucket));
  });

  app.post(TRACKER.closeFinish, async (c) => {
    const { bucket, token, empty } = await body(c.req, closeFinishSchema);
    const outcome = await closer.finish(bucket, token, empty);
    return json({ outcome, catalog: view.snapshot() });
  });

  app.get(TRACKER.status, (c) => {
    const nodes = registry.list();
    const status: ClusterStatus = {
      trackers: [{ url: opts.url(), startedMs }],
      layout: {
        version: opts.layout.version,
        partitions: opts.layout.owners.length,
        syncgroups: [...opts.layout.syncgroups],
      },
      syncgroups: opts.layout.syncgroups.map((name, i) => ({
        name,
        partitions: opts.layout.owners.filter((o) => o === i).length,
        nodes: nodes.filter((n) => n.syncgroup === name),
      })),
      gateways: opts.leases.list(),
      suspectAfterMs: opts.suspectAfterMs,
    };
    return c.json(status);
  });

  return { app, registry, view };
}
