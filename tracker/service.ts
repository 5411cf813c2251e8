// The tracker's internal HTTP API (Hono): heartbeats from storage nodes, polls and bucket changes from gateways,
// the status report. Every call but /health needs the cluster secret (constant-time compare); every body is
// size-limited and parsed with its zod schema (common/cluster-wire.ts) before anything acts on it.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import {
  type AccessKey,
  bucketInfoRequestSchema,
  bucketRefBodySchema,
  type ClusterStatus,
  catalogOfferSchema,
  closeFinishSchema,
  createBucketSchema,
  forgetNodeSchema,
  heartbeatSchema,
  leaveSchema,
  MAX_CATALOG_OFFER_BYTES,
  MAX_TRACKER_BODY_BYTES,
  type NodeView,
  type PollReply,
  pollSchema,
  putConfigSchema,
  reportStands,
  SECRET_HEADER,
  secretMatches,
  TRACKER,
} from '../common/cluster-wire.ts';
import { type Layout, validLayout } from '../common/layout.ts';
import { readReplicationMode } from '../common/replication-mode.ts';
import { fromWire, toWire } from '../common/wire-json.ts';
import { BucketCloser, CloseBusy, CloseExpired } from './bucket-close.ts';
import type { BucketConfigKind, Catalog, InitialBucketConfig } from './catalog.ts';
import { CatalogView } from './catalog-view.ts';
import { type GatewayLeases, LeaseBusy } from './gateway-leases.ts';
import { CatalogRebuild, type RebuildDecision } from './rebuild.ts';
import { NodeRegistry, RegistryConflict } from './registry.ts';

/** What a tracker with a fresh data directory needs to rebuild its catalog and layout from the storage nodes. */
export interface TrackerRebuildOptions {
  /** --syncgroups, if given. */
  syncgroups: readonly string[] | undefined;
  /** Decide with the offers at hand after this long (with at least one). */
  waitMs: number;
  /** Makes the decision durable (catalog adopted, layout written, keys chosen) and says what to serve with. */
  decide: (d: RebuildDecision) => Promise<{ layout: Layout; keys: AccessKey[] }>;
  onStillWaiting?: (why: string) => void;
}

export interface TrackerServiceOptions {
  catalog: Catalog;
  /** The layout; absent only while rebuilding (`rebuild`). */
  layout?: Layout;
  secret: string;
  /** The access keys gateways verify signatures with (the first the main one); replaced by a rebuild's decision. */
  keys: AccessKey[];
  /** Present when the data directory was fresh: serve heartbeats and status, decide the catalog from the nodes. */
  rebuild?: TrackerRebuildOptions;
  /** A call came with a wrong or no cluster secret (a wiped tracker that generated a new one sees its nodes'). */
  onRefusedSecret?: (path: string) => void;
  /**
   * A node holds a newer catalog (higher seq) than this tracker: its directory is older than the cluster's state
   * (restored from a backup?). The node keeps its copy (nothing older is sent to it) so a rebuild can use it.
   */
  onNewerCatalog?: (nodeId: string, nodeSeq: number, trackerSeq: number) => void;
  /** A new node took over a known member's address. */
  onNodeReplaced?: (old: NodeView, by: { nodeId: string; url: string }) => void;
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
  /** Present while (and after) a fresh tracker rebuilds from the storage nodes. */
  rebuild: CatalogRebuild | undefined;
}

class BadRequest extends Error {}
/** The tracker cannot answer this yet (it is rebuilding its catalog from the storage nodes): 503, retryable. */
class NotReady extends Error {}

/** Call `registry.load()` before serving (createTrackerService leaves it to the caller, which awaits it). */
export function createTrackerService(opts: TrackerServiceOptions): TrackerService {
  const registry = new NodeRegistry({
    suspectAfterMs: opts.suspectAfterMs,
    now: opts.now,
    ...(opts.dir ? { dir: opts.dir } : {}),
    ...(opts.onNodeReplaced ? { onReplaced: opts.onNodeReplaced } : {}),
  });
  const view = new CatalogView(opts.catalog);
  const closer = new BucketCloser(opts.catalog, view, opts.leases, {
    ackTimeoutMs: opts.closeAckTimeoutMs ?? 10_000,
    finishTimeoutMs: opts.closeFinishTimeoutMs ?? 60_000,
  });
  const startedMs = opts.wallClock();
  const toWireLayout = (l: Layout) => ({ ...l, syncgroups: [...l.syncgroups], owners: [...l.owners] });
  let layout = opts.layout;
  let wireLayout = layout && toWireLayout(layout);
  let keys = opts.keys;
  if (!layout && !opts.rebuild) throw new Error('a tracker needs a layout, or a rebuild to learn it');
  const rebuild = opts.rebuild
    ? new CatalogRebuild({
        syncgroups: opts.rebuild.syncgroups,
        waitMs: opts.rebuild.waitMs,
        now: opts.now,
        ...(opts.rebuild.onStillWaiting ? { onStillWaiting: opts.rebuild.onStillWaiting } : {}),
        decide: async (d) => {
          const chosen = await opts.rebuild!.decide(d);
          layout = chosen.layout;
          wireLayout = toWireLayout(chosen.layout);
          keys = chosen.keys;
          view.changed();
        },
      })
    : undefined;
  const ready = () => {
    if (rebuild && !rebuild.decided)
      throw new NotReady(
        'the tracker is rebuilding its catalog from the storage nodes (its directory was fresh); retry shortly',
      );
  };
  const app = new Hono();

  app.get('/health', (c) => c.text('ok'));
  app.use('/v1/*', async (c, next) => {
    if (!secretMatches(c.req.header(SECRET_HEADER), opts.secret)) {
      opts.onRefusedSecret?.(c.req.path);
      return c.json({ code: 'AccessDenied', message: 'missing or wrong cluster secret' }, 403);
    }
    await next();
  });
  const limit = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => c.json({ code: 'EntityTooLarge', message: 'internal request body too large' }, 413),
    });
  const small = limit(MAX_TRACKER_BODY_BYTES);
  // A catalog copy is the whole catalog (every bucket's settings): its one call gets a larger bound.
  const large = limit(MAX_CATALOG_OFFER_BYTES);
  app.use('/v1/*', (c, next) => (c.req.path === TRACKER.offer ? large : small)(c, next));
  app.onError((err, c) => {
    if (err instanceof BadRequest) return c.json({ code: 'InvalidArgument', message: err.message }, 400);
    if (err instanceof NotReady) return c.json({ code: 'ServiceUnavailable', message: err.message }, 503);
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
    if (layout && !layout.syncgroups.includes(hb.syncgroup))
      throw new BadRequest(
        `syncgroup ${hb.syncgroup} is not in this cluster's layout (${layout.syncgroups.join(', ')})`,
      );
    await registry.beat(hb);
    // A failed decision stops the tracker (rebuild.failed); this node is told nothing new meanwhile.
    if (rebuild && !rebuild.decided) await rebuild.maybeDecide().catch(() => undefined);
    const decided = !rebuild || rebuild.decided;
    const newer = decided && hb.catalogSeq !== undefined && hb.catalogSeq > opts.catalog.seq;
    if (newer) opts.onNewerCatalog?.(hb.nodeId, hb.catalogSeq!, opts.catalog.seq);
    // Storage nodes run lifecycle rules and keep the catalog a wiped tracker rebuilds from. Until a rebuilding
    // tracker has decided, it sends neither layout nor catalog: an empty catalog must never replace a node's copy;
    // nor does it send an older catalog than the node holds.
    return json({
      ...(decided && wireLayout ? { layout: wireLayout } : {}),
      suspectAfterMs: opts.suspectAfterMs,
      members: registry.list().filter((n) => n.syncgroup === hb.syncgroup && n.nodeId !== hb.nodeId),
      ...(rebuild?.wants(hb.nodeId) ? { offer: true } : {}),
      ...(!decided || newer || hb.catalogVersion === view.version ? {} : { catalog: view.forNodes(keys) }),
    });
  });

  app.post(TRACKER.offer, async (c) => {
    const offer = await body(c.req, catalogOfferSchema);
    if (offer.layout && !validLayout(offer.layout)) throw new BadRequest('the offered layout is invalid');
    await rebuild?.offer(offer).catch(() => undefined);
    return json({});
  });

  app.post(TRACKER.poll, async (c) => {
    const poll = await body(c.req, pollSchema);
    // A gateway holding an older catalog is counted as a lease holder even before the catalog is rebuilt.
    await opts.leases.renew(poll.gatewayId, poll.catalogVersion);
    ready();
    const reply: PollReply = {
      leaseMs: opts.leases.leaseMs,
      ...(poll.layoutVersion === layout?.version ? {} : { layout: wireLayout }),
      nodes: registry.list(),
      keys: keys.map((k) => ({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey })),
      ...(poll.catalogVersion === view.version ? {} : { catalog: view.snapshot() }),
    };
    return json(reply);
  });

  app.post(TRACKER.leave, async (c) => {
    await opts.leases.release((await body(c.req, leaveSchema)).gatewayId);
    return json({});
  });

  app.post(TRACKER.createBucket, async (c) => {
    ready();
    const { spec, initial } = await body(c.req, createBucketSchema);
    const outcome = await opts.catalog.createBucket(spec, (initial ?? {}) as InitialBucketConfig);
    if (outcome === 'created') view.changed();
    return json({ outcome, catalog: view.snapshot() });
  });

  app.post(TRACKER.putConfig, async (c) => {
    ready();
    const { bucket, kind, value } = await body(c.req, putConfigSchema);
    const ok = await opts.catalog.putBucketConfig(bucket, kind as BucketConfigKind, value);
    if (ok) view.changed();
    return json({ ok, catalog: view.snapshot() });
  });

  app.post(TRACKER.isCurrent, async (c) => {
    ready();
    const { bucket } = await body(c.req, bucketRefBodySchema);
    return json({ current: await opts.catalog.isCurrent(bucket) });
  });

  app.post(TRACKER.close, async (c) => {
    ready();
    const { bucket } = await body(c.req, bucketRefBodySchema);
    return json(await closer.close(bucket));
  });

  app.post(TRACKER.closeFinish, async (c) => {
    ready();
    const { bucket, token, empty } = await body(c.req, closeFinishSchema);
    const outcome = await closer.finish(bucket, token, empty);
    return json({ outcome, catalog: view.snapshot() });
  });

  app.post(TRACKER.bucketInfo, async (c) => {
    ready();
    const { name } = await body(c.req, bucketInfoRequestSchema);
    const bucket = opts.catalog.getBucket(name);
    const configs = bucket
      ? view
          .snapshot()
          .configs.filter((x) => x.id === bucket.id)
          .map(({ kind, value }) => ({ kind, value }))
      : [];
    return json({ ...(bucket ? { bucket } : {}), configs });
  });

  app.post(TRACKER.forgetNode, async (c) => {
    const { nodeId } = await body(c.req, forgetNodeSchema);
    return json({ outcome: await registry.forget(nodeId) });
  });

  app.get(TRACKER.status, (c) => {
    const nodes = registry.list();
    const decided = !rebuild || rebuild.decided;
    // Before a rebuilding tracker knows the layout, the groups are those its nodes named.
    const groups = layout?.syncgroups ?? [...new Set(nodes.map((n) => n.syncgroup))].sort();
    const buckets = decided ? opts.catalog.listBuckets() : [];
    const status: ClusterStatus = {
      trackers: [{ url: opts.url(), startedMs }],
      layout: {
        version: layout?.version ?? 0,
        partitions: layout?.owners.length ?? 0,
        syncgroups: [...groups],
      },
      syncgroups: groups.map((name, i) => {
        const members = nodes.filter((n) => n.syncgroup === name);
        return {
          name,
          partitions: layout?.owners.filter((o) => o === i).length ?? 0,
          nodes: members.map((n) => {
            const behind = behindOf(n, members);
            return behind ? { ...n, behind } : n;
          }),
        };
      }),
      gateways: opts.leases.list(),
      suspectAfterMs: opts.suspectAfterMs,
      generatedMs: opts.wallClock(),
      catalog: {
        state: decided ? 'ready' : 'rebuilding',
        seq: opts.catalog.seq,
        buckets: buckets.length,
        asyncBuckets: buckets
          .filter((b) => readReplicationMode(opts.catalog.getBucketConfig(b, 'replication-mode')) === 'async')
          .map((b) => b.name),
      },
    };
    return c.json(status);
  });

  return { app, registry, view, rebuild };
}

/** What the other members of `node`'s syncgroup report they still have to push to it; undefined: no reports. */
function behindOf(
  node: NodeView,
  members: readonly NodeView[],
): ClusterStatus['syncgroups'][number]['nodes'][number]['behind'] {
  let reported = false;
  const behind = { ops: 0, bytes: 0, needsPull: false };
  for (const m of members) {
    // A silent member's last report, once the node pulled what it had missed from a current member, no longer stands.
    if (m.nodeId === node.nodeId || !reportStands(m, node)) continue;
    for (const s of m.sync ?? []) {
      if (s.nodeId !== node.nodeId) continue;
      reported = true;
      behind.ops += s.lagOps;
      behind.bytes += s.lagBytes;
      behind.needsPull ||= s.needsPull === true;
    }
  }
  return reported ? behind : undefined;
}
