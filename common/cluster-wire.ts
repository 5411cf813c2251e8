// The tracker's internal HTTP API as the tracker, storage nodes, gateways and `quire status` all see it: the
// paths, the cluster-secret header and a zod schema per body. Every internal request carries the secret;
// every body is size-limited and parsed with these schemas before anything acts on it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PARTITIONS } from './layout.ts';

/** The header every internal request (tracker and storage APIs) carries the cluster secret in. */
export const SECRET_HEADER = 'x-quire-cluster-secret';

/** Largest internal JSON body a tracker accepts (a catalog snapshot can be larger: it goes the other way). */
export const MAX_TRACKER_BODY_BYTES = 1024 * 1024;
/** Largest catalog copy a storage node may offer a rebuilding tracker (buckets, settings, keys, tombstones). */
export const MAX_CATALOG_OFFER_BYTES = 64 * 1024 * 1024;

/** Constant-time comparison of a presented secret with the expected one (hashed first: equal lengths). */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A generated cluster secret: 32 random bytes, base64url. At least 32 characters from the operator. */
export const clusterSecretSchema = z
  .string()
  .regex(/^[\x21-\x7e]{32,512}$/, 'use 32–512 printable characters without spaces');

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lower-case letters, digits and -');
export const syncgroupName = name;

/** A storage node's id: 8 hex digits (its u32 opver tie-break); also its name in rendezvous hashing. */
export const nodeIdSchema = z.string().regex(/^[0-9a-f]{8}$/);

export const layoutSchema = z.object({
  version: z.number().int().min(1),
  syncgroups: z.array(syncgroupName).min(1).max(1024),
  owners: z.array(z.number().int().min(0)).length(PARTITIONS),
});

export const volumeReportSchema = z.object({
  volumeId: z.string().max(128),
  freeBytes: z.number().min(0),
  diskBytes: z.number().min(0),
  liveBytes: z.number().min(0),
  full: z.boolean(),
});

export const recoveryReportSchema = z.object({
  /** The live mirror the node pulls from. */
  fromNodeId: nodeIdSchema,
  startedMs: z.number().int().min(0),
  objects: z.number().int().min(0),
  bytes: z.number().min(0),
  /** The source's counts when the pull began (an estimate: writes go on meanwhile). */
  totalObjects: z.number().int().min(0).optional(),
  totalBytes: z.number().min(0).optional(),
  etaSeconds: z.number().min(0).optional(),
});
export type RecoveryReport = z.infer<typeof recoveryReportSchema>;

export const syncReportSchema = z.object({
  /** The mirror. */
  nodeId: nodeIdSchema,
  /** Binlog records of this node the mirror has not applied, and their object bytes. */
  lagOps: z.number().int().min(0),
  lagBytes: z.number().min(0),
  /** The mirror stayed away past the binlog retention: it needs a recovery pull, push sync cannot catch it up. */
  needsPull: z.boolean().optional(),
  /**
   * The mirror missed writes of this node (it was away, left behind, or the bucket is async) that push sync has not
   * delivered yet: it may lack keys, so gateways neither read from it nor make it a primary while another serves.
   */
  behind: z.boolean().optional(),
});
export type SyncReport = z.infer<typeof syncReportSchema>;

export const heartbeatSchema = z.object({
  nodeId: nodeIdSchema,
  syncgroup: syncgroupName,
  /** Where the node's storage API answers, e.g. http://10.0.0.5:9101. */
  url: z.url({ protocol: /^https?$/ }).max(512),
  startedMs: z.number().int().min(0),
  objects: z.number().int().min(0),
  volumes: z.array(volumeReportSchema).max(256),
  /** The catalog version the node holds (absent until it has one): its lifecycle worker reads bucket settings. */
  catalogVersion: z.string().max(64).optional(),
  /** 'recovering' while a recovery pull fills the node: it serves nothing and no gateway routes to it. Absent: serving. */
  phase: z.enum(['serving', 'recovering']).optional(),
  /** Progress of the recovery pull (present while recovering). */
  recovery: recoveryReportSchema.optional(),
  /** Push sync as this node sees it: per mirror, what of this node's binlog the mirror has not applied yet. */
  sync: z.array(syncReportSchema).max(64).optional(),
  /**
   * The members this node sends its writes to (the member list of the tracker's last reply; absent on a node that
   * does not mirror). A member missing from it may lack this node's writes: gateways do not read from it yet.
   */
  mirrors: z.array(nodeIdSchema).max(64).optional(),
  /**
   * The node's opver counter (decimal). A member that takes a write for a key this node is the primary of goes past
   * it first (storage/takeover-clock.ts), so this node's older writes cannot replace that one.
   */
  opver: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
  /**
   * Members that left this node behind and then went silent, whose missed writes this node has since pulled from a
   * current member (storage/recovery-pull.ts): their last reports about it no longer stand (`reportStands`).
   */
  resynced: z
    .array(z.object({ nodeId: nodeIdSchema, startedMs: z.number().int().min(0) }))
    .max(64)
    .optional(),
  /** Bad checksums this node has repaired from a mirror since it started. */
  repairs: z.number().int().min(0).optional(),
  /** The change number (`seq`) of the catalog copy the node keeps in its data directory (absent: none). */
  catalogSeq: z.number().int().min(0).optional(),
  /** The version of the layout the node holds (absent: none yet). */
  layoutVersion: z.number().int().min(1).optional(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const heartbeatReplySchema = z.object({
  /** Absent only while a tracker with a fresh (wiped) directory has not decided its layout: keep the one held. */
  layout: layoutSchema.optional(),
  suspectAfterMs: z.number(),
  /** The other members of the node's syncgroup as the registry sees them (its mirrors). */
  members: z.array(z.lazy(() => nodeViewSchema)).optional(),
  /** Sent when the node's catalog version is not the tracker's. */
  catalog: z.lazy(() => catalogSnapshotSchema).optional(),
  /** A rebuilding tracker (its directory was wiped) asks the node for its catalog copy and layout (TRACKER.offer). */
  offer: z.boolean().optional(),
});

/** up: heartbeating and serving; suspect: silent for suspectAfterMs; recovering: heartbeating, filling by a pull. */
export type NodeState = 'up' | 'suspect' | 'recovering';

export const nodeViewSchema = heartbeatSchema.extend({
  state: z.enum(['up', 'suspect', 'recovering']),
  /** Milliseconds since the tracker last heard from the node. */
  silentMs: z.number().min(0),
});
export type NodeView = z.infer<typeof nodeViewSchema>;

/**
 * Whether `reporter`'s push-sync report about member `about` (its `sync` entry) still says what `about` lacks. It
 * does, except while `reporter` is silent after `about` re-pulled the writes it had missed from a current member
 * (`about.resynced` names this run of `reporter`): a dead member's last report would otherwise keep `about` behind,
 * and out of routing, for as long as it stays dead.
 */
export function reportStands(
  reporter: Pick<NodeView, 'nodeId' | 'state' | 'startedMs'>,
  about: Pick<NodeView, 'resynced'> | undefined,
): boolean {
  if (reporter.state !== 'suspect' || !about?.resynced) return true;
  return !about.resynced.some((r) => r.nodeId === reporter.nodeId && r.startedMs === reporter.startedMs);
}

const bucketInfoSchema = z.object({
  name: z.string().min(1).max(255),
  id: z.string().min(1).max(255),
  owner: z.string().min(1).max(256),
  createdMs: z.number(),
  region: z.string().max(64),
});
const bucketRefSchema = z.object({ name: z.string().min(1).max(255), id: z.string().min(1).max(255) });
const configKind = z.enum([
  'versioning',
  'object-lock',
  'lifecycle',
  'tagging',
  'policy',
  'acl',
  'ownership',
  'public-access-block',
  'cors',
  'website',
  'replication-mode',
]);

export const gatewayIdSchema = z.string().regex(/^[0-9a-f]{16}$/);

export const pollSchema = z.object({
  gatewayId: gatewayIdSchema,
  /** The catalog version the gateway has applied (absent at its first poll). */
  catalogVersion: z.string().max(64).optional(),
  /** The layout version the gateway holds (absent at its first poll). */
  layoutVersion: z.number().int().optional(),
});

export const accessKeySchema = z.object({
  accessKeyId: z.string().min(1).max(128),
  secretAccessKey: z.string().min(1).max(256),
  /** The tracker's main key (the one a rebuilt tracker keeps as its own). */
  main: z.boolean().optional(),
});
export type AccessKey = z.infer<typeof accessKeySchema>;

/** A deleted incarnation: storage nodes drop whatever they still hold of it. */
export const deletedIncarnationSchema = z.object({ id: z.string().min(1).max(255), seq: z.number().int() });

export const catalogSnapshotSchema = z.object({
  version: z.string(),
  /**
   * The catalog's change number: every durable change (bucket created or deleted, a setting) adds one, and it
   * survives tracker restarts, so two copies compare (a wiped tracker adopts the highest offered).
   */
  seq: z.number().int().min(0).optional(),
  buckets: z.array(bucketInfoSchema),
  configs: z.array(z.object({ id: z.string(), kind: configKind, value: z.unknown() })),
  /** Incarnations a DeleteBucket is deciding on: a gateway asks the tracker about them. */
  closing: z.array(z.string()),
  /** Sent to storage nodes only (they keep a copy that must survive a tracker wipe): the access keys. */
  keys: z.array(accessKeySchema).max(10_000).optional(),
  /** Sent to storage nodes only: the most recently deleted incarnations (bounded), whose leftovers they drop. */
  deleted: z.array(deletedIncarnationSchema).max(100_000).optional(),
});
export type CatalogSnapshot = z.infer<typeof catalogSnapshotSchema>;

/** What a storage node keeps of the catalog in its data directory, and offers a rebuilding tracker. */
export const catalogCopySchema = catalogSnapshotSchema.extend({ seq: z.number().int().min(0) }).omit({
  closing: true,
});
export type CatalogCopy = z.infer<typeof catalogCopySchema>;

/** A storage node's answer to a rebuilding tracker: its catalog copy and layout (either may be absent). */
export const catalogOfferSchema = z.object({
  nodeId: nodeIdSchema,
  syncgroup: syncgroupName,
  catalog: catalogCopySchema.optional(),
  layout: layoutSchema.optional(),
});
export type CatalogOffer = z.infer<typeof catalogOfferSchema>;

export const pollReplySchema = z.object({
  /** How long after sending this poll the gateway may answer from its copy of the catalog. */
  leaseMs: z.number().int().positive(),
  /** Present when the gateway's layoutVersion is not the current one. */
  layout: layoutSchema.optional(),
  nodes: z.array(nodeViewSchema),
  /** Present when the gateway's catalogVersion is not the current one. */
  catalog: catalogSnapshotSchema.optional(),
  keys: z.array(z.object({ accessKeyId: z.string(), secretAccessKey: z.string() })),
});
export type PollReply = z.infer<typeof pollReplySchema>;

export const emptyReplySchema = z.object({});

export const leaveSchema = z.object({ gatewayId: gatewayIdSchema });

export const createBucketSchema = z.object({
  spec: bucketInfoSchema.omit({ id: true }),
  initial: z.record(configKind, z.unknown()).optional(),
});
export const createBucketReplySchema = z.object({
  outcome: z.enum(['created', 'owned-by-you', 'owned-by-other']),
  catalog: catalogSnapshotSchema,
});

export const putConfigSchema = z.object({
  bucket: bucketRefSchema,
  kind: configKind,
  /** Absent: remove the setting. */
  value: z.unknown().optional(),
});
export const putConfigReplySchema = z.object({ ok: z.boolean(), catalog: catalogSnapshotSchema });

export const bucketRefBodySchema = z.object({ bucket: bucketRefSchema });
export const isCurrentReplySchema = z.object({ current: z.boolean() });

export const closeReplySchema = z.object({
  outcome: z.enum(['closing', 'no-such-bucket']),
  token: z.string().optional(),
});
export const closeFinishSchema = z.object({
  bucket: bucketRefSchema,
  token: z.string().max(64),
  empty: z.boolean(),
});
export const closeFinishReplySchema = z.object({
  outcome: z.enum(['deleted', 'not-empty', 'no-such-bucket']),
  catalog: catalogSnapshotSchema,
});

/** What the other members of a node's syncgroup still have to push to it (summed over their `sync` reports). */
export const behindSchema = z.object({
  ops: z.number().int().min(0),
  bytes: z.number().min(0),
  /** A member reports this node stayed away past the binlog retention: it needs a recovery pull. */
  needsPull: z.boolean(),
});

export const statusSchema = z.object({
  trackers: z.array(z.object({ url: z.string(), startedMs: z.number() })),
  layout: z.object({ version: z.number(), partitions: z.number(), syncgroups: z.array(z.string()) }),
  syncgroups: z.array(
    z.object({
      name: z.string(),
      partitions: z.number(),
      nodes: z.array(nodeViewSchema.extend({ behind: behindSchema.optional() })),
    }),
  ),
  gateways: z.array(z.object({ gatewayId: z.string(), leaseLeftMs: z.number() })),
  suspectAfterMs: z.number(),
  /** The tracker's wall clock when it made the report (a node was last heard at generatedMs - silentMs). */
  generatedMs: z.number().optional(),
  /** The catalog: ready, or still being rebuilt from the storage nodes' copies (a wiped tracker). */
  catalog: z
    .object({
      state: z.enum(['ready', 'rebuilding']),
      seq: z.number().int().min(0),
      buckets: z.number().int().min(0),
      /** Buckets whose replication mode is async (acknowledged after the primary; mirrors catch up). */
      asyncBuckets: z.array(z.string()),
    })
    .optional(),
});
export type ClusterStatus = z.infer<typeof statusSchema>;

/** Tracker API paths. */
export const TRACKER = {
  heartbeat: '/v1/heartbeat',
  poll: '/v1/gateway/poll',
  leave: '/v1/gateway/leave',
  createBucket: '/v1/buckets/create',
  putConfig: '/v1/buckets/config',
  isCurrent: '/v1/buckets/current',
  close: '/v1/buckets/close',
  closeFinish: '/v1/buckets/close-finish',
  status: '/v1/status',
  /** A storage node's catalog copy and layout, asked for by a rebuilding tracker. */
  offer: '/v1/catalog/offer',
  /** One bucket by name with its settings (for `quire bucket`). */
  bucketInfo: '/v1/buckets/info',
  /** An operator removes a node that is gone for good from the registry. */
  forgetNode: '/v1/nodes/forget',
} as const;

export const bucketInfoRequestSchema = z.object({ name: z.string().min(1).max(255) });
export const bucketInfoReplySchema = z.object({
  bucket: bucketInfoSchema.optional(),
  configs: z.array(z.object({ kind: configKind, value: z.unknown() })),
});
export const forgetNodeSchema = z.object({ nodeId: nodeIdSchema });
export const forgetNodeReplySchema = z.object({
  outcome: z.enum(['forgotten', 'no-such-node', 'not-suspect']),
});

/** An answer the tracker gives when it cannot do something right now (retry later): HTTP 503. */
export const busyReplySchema = z.object({ code: z.literal('ServiceUnavailable'), message: z.string() });
