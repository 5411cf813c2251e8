// A storage node's membership in a cluster: a heartbeat to the tracker every `intervalMs` (node id, syncgroup,
// where its API answers, volumes and free space); the reply carries the layout, which the partition guard
// enforces and which is kept in the data directory so the node serves with the right layout while the tracker
// is down, even after its own restart.
//
// The node also keeps the catalog the tracker last sent (buckets, settings, access keys, deleted incarnations,
// with its change number `seq`) in `cluster-catalog.json`: its lifecycle worker and leftover purge read it, and a
// tracker whose directory was wiped asks for it (`offer` in the reply) and rebuilds from the newest copy.
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CatalogCopy,
  type CatalogSnapshot,
  catalogCopySchema,
  emptyReplySchema,
  type Heartbeat,
  heartbeatReplySchema,
  layoutSchema,
  type NodeView,
  TRACKER,
} from '../common/cluster-wire.ts';
import type { Disk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';
import { type Layout, validLayout } from '../common/layout.ts';
import type { TrackerClient } from '../common/tracker-client.ts';
import { fromWire, toWire } from '../common/wire-json.ts';
import type { StorageApi } from './api.ts';
import type { PartitionGuard } from './partition-guard.ts';

const LAYOUT_FILE = 'cluster-layout.json';
/** How soon a node that has no layout yet beats again. */
const UNSETTLED_BEAT_MS = 200;
const CATALOG_FILE = 'cluster-catalog.json';

export interface MemberOptions {
  tracker: TrackerClient;
  guard: PartitionGuard;
  stats: StorageApi['stats'];
  nodeId: string;
  url: string;
  dataDir: string;
  disk: Disk;
  intervalMs: number;
  startedMs: number;
  /** Called with the error of the first failed heartbeat after a good one (logged by the caller); the loop goes on. */
  onError: (err: unknown) => void;
  /** The first good heartbeat after failed ones. */
  onRecovered?: () => void;
  /** What else the heartbeat reports (recovery progress, push-sync lag, repairs, opver counter), asked at each beat. */
  report?: () => Pick<
    Heartbeat,
    'phase' | 'recovery' | 'sync' | 'mirrors' | 'repairs' | 'opver' | 'resynced'
  >;
  /** Called after each heartbeat reply with the other members of the syncgroup (its mirrors). */
  onMembers?: (members: NodeView[]) => void;
  /** Called once a new catalog from the tracker is kept (durably), with the one it replaced. */
  onCatalog?: (now: CatalogCopy, before: CatalogCopy | undefined) => void;
  /** Called when this node sent its catalog copy to a rebuilding tracker. */
  onOffered?: (seq: number | undefined) => void;
}

/** The catalog copy kept in the data directory (undefined when there is none or it cannot be read). */
export async function loadKeptCatalog(dataDir: string): Promise<CatalogCopy | undefined> {
  const text = await readFile(`${dataDir}/${CATALOG_FILE}`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = catalogCopySchema.safeParse(fromWire(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function loadKeptLayout(dataDir: string): Promise<Layout | undefined> {
  const text = await readFile(`${dataDir}/${LAYOUT_FILE}`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = layoutSchema.safeParse(raw);
  return parsed.success && validLayout(parsed.data) ? parsed.data : undefined;
}

export class ClusterMember {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private running: Promise<void> = Promise.resolve();
  /** The tracker's catalog as of the last heartbeat that carried it (kept in the data directory). */
  private catalog: { copy: CatalogCopy; configs: Map<string, unknown>; deleted: Set<string> } | undefined;
  private loaded: Promise<void> | undefined;
  private mirrors: NodeView[] = [];
  /** The last reply changed what this node reports (its layout, its members): the tracker should hear it soon. */
  private unsettled = false;
  /** The heartbeat loop (set by start), a beat on its way, and a beat asked for meanwhile (beatSoon). */
  private loop: (() => void) | undefined;
  private beating = false;
  private again = false;

  constructor(private readonly opts: MemberOptions) {}

  /** Reads the catalog copy kept in the data directory (the first heartbeat does it if nobody did before). */
  load(): Promise<void> {
    this.loaded ??= loadKeptCatalog(this.opts.dataDir).then((copy) => {
      if (copy && !this.catalog) this.hold(copy);
    });
    return this.loaded;
  }

  private hold(copy: CatalogCopy): void {
    this.catalog = {
      copy,
      configs: new Map(copy.configs.map((c) => [`${c.id}/${c.kind}`, c.value] as const)),
      deleted: new Set((copy.deleted ?? []).map((d) => d.id)),
    };
  }

  /** A bucket incarnation's setting as the tracker last sent it (undefined: none, or no catalog yet). */
  bucketConfig(incarnationId: string, kind: CatalogSnapshot['configs'][number]['kind']): unknown {
    return this.catalog?.configs.get(`${incarnationId}/${kind}`);
  }

  /** Incarnations the catalog says were deleted: whatever this node still holds of them is a leftover. */
  deletedIncarnations(): ReadonlySet<string> {
    return this.catalog?.deleted ?? new Set();
  }

  /** The catalog copy held (undefined until the tracker sent one, or one was kept from an earlier run). */
  catalogCopy(): CatalogCopy | undefined {
    return this.catalog?.copy;
  }

  /** The other members of this node's syncgroup as the tracker last reported them (empty until it answered). */
  members(): readonly NodeView[] {
    return this.mirrors;
  }

  /** One heartbeat now; resolves with whether the tracker answered. */
  async beat(): Promise<boolean> {
    try {
      await this.beatOnce();
      if (this.failing) this.opts.onRecovered?.();
      this.failing = false;
      return true;
    } catch (err) {
      if (!this.failing) this.opts.onError(err);
      this.failing = true;
      return false;
    }
  }

  /** One heartbeat now; throws what went wrong (the tracker refusing the node, or not answering). */
  async beatOnce(): Promise<void> {
    const o = this.opts;
    await this.load();
    const stats = await o.stats();
    const held = this.catalog?.copy;
    const layoutVersion = o.guard.layoutVersion;
    const reply = await o.tracker.call(
      TRACKER.heartbeat,
      {
        nodeId: o.nodeId,
        syncgroup: o.guard.syncgroup,
        url: o.url,
        startedMs: o.startedMs,
        objects: stats.objects,
        ...(held ? { catalogVersion: held.version, catalogSeq: held.seq } : {}),
        ...(layoutVersion !== undefined ? { layoutVersion } : {}),
        ...o.report?.(),
        volumes: stats.volumes.map((v) => ({
          volumeId: v.volumeId,
          freeBytes: v.freeBytes,
          diskBytes: v.diskBytes,
          liveBytes: v.liveBytes,
          full: v.full,
        })),
      },
      heartbeatReplySchema,
      { timeoutMs: Math.max(1000, o.intervalMs) },
    );
    if (reply.layout && !validLayout(reply.layout)) throw new Error('the tracker sent an invalid layout');
    const layoutBefore = o.guard.layoutVersion;
    const idsOf = (ms: readonly NodeView[]) => ms.map((m) => m.nodeId).join(',');
    this.unsettled = false;
    if (reply.members) {
      if (idsOf(reply.members) !== idsOf(this.mirrors)) this.unsettled = true;
      this.mirrors = reply.members;
      o.onMembers?.(reply.members);
    }
    if (reply.catalog) {
      const { closing: _closing, ...rest } = reply.catalog;
      const copy: CatalogCopy = { ...rest, seq: rest.seq ?? 0 };
      // Durable before it is used: a wiped tracker may rebuild from this copy.
      await writeFileDurable(o.disk, o.dataDir, CATALOG_FILE, toWire(copy));
      // It holds the access keys' secrets: readable by this node's user only.
      await chmod(join(o.dataDir, CATALOG_FILE), 0o600).catch(() => undefined);
      const before = this.catalog?.copy;
      this.hold(copy);
      o.onCatalog?.(copy, before);
    }
    if (reply.layout && reply.layout.version !== o.guard.layoutVersion) {
      await writeFileDurable(o.disk, o.dataDir, LAYOUT_FILE, JSON.stringify(reply.layout));
      o.guard.setLayout(reply.layout);
    }
    if (o.guard.layoutVersion !== layoutBefore) this.unsettled = true;
    if (reply.offer) await this.offer();
  }

  /** Sends this node's catalog copy and layout to a tracker that is rebuilding (its directory was wiped). */
  private async offer(): Promise<void> {
    const o = this.opts;
    const layout = await loadKeptLayout(o.dataDir);
    const copy = this.catalog?.copy;
    await o.tracker.call(
      TRACKER.offer,
      {
        nodeId: o.nodeId,
        syncgroup: o.guard.syncgroup,
        ...(copy ? { catalog: copy } : {}),
        ...(layout ? { layout } : {}),
      },
      emptyReplySchema,
      { timeoutMs: Math.max(10_000, o.intervalMs) },
    );
    o.onOffered?.(copy?.seq);
  }

  /**
   * A heartbeat as soon as possible (what it reports changed in a way gateways must learn at once, e.g. a mirror
   * left behind): now if none is on its way, else right after the one that is.
   */
  beatSoon(): void {
    if (this.stopped || !this.loop) return;
    if (this.beating) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.loop();
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.beating = true;
      this.again = false;
      this.running = this.beat().then(() => {
        this.beating = false;
        if (this.stopped) return;
        // Without a layout the node refuses every key (a new cluster's tracker decides its layout once a node of
        // each syncgroup has beaten), and after a reply that brought a layout or new members the tracker still
        // shows what the node reported before it (gateways route by that): ask again soon, not an interval later.
        const waitMs = this.again
          ? 0
          : this.opts.guard.layoutVersion === undefined || this.unsettled
            ? Math.min(this.opts.intervalMs, UNSETTLED_BEAT_MS)
            : this.opts.intervalMs;
        this.timer = setTimeout(loop, waitMs);
      });
    };
    this.loop = loop;
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
