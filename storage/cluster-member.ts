// A storage node's membership in a cluster: a heartbeat to the tracker every `intervalMs` (node id, syncgroup,
// where its API answers, volumes and free space); the reply carries the layout, which the partition guard
// enforces and which is kept in the data directory so the node serves with the right layout while the tracker
// is down, even after its own restart.
import { readFile } from 'node:fs/promises';
import {
  type CatalogSnapshot,
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
import type { StorageApi } from './api.ts';
import type { PartitionGuard } from './partition-guard.ts';

const LAYOUT_FILE = 'cluster-layout.json';

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
  /** What else the heartbeat reports (recovery progress, push-sync lag, repairs), asked at each beat. */
  report?: () => Pick<Heartbeat, 'phase' | 'recovery' | 'sync' | 'repairs'>;
  /** Called after each heartbeat reply with the other members of the syncgroup (its mirrors). */
  onMembers?: (members: NodeView[]) => void;
}

export async function loadKeptLayout(dataDir: string): Promise<Layout | undefined> {
  const text = await readFile(`${dataDir}/${LAYOUT_FILE}`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = layoutSchema.safeParse(JSON.parse(text));
  return parsed.success && validLayout(parsed.data) ? parsed.data : undefined;
}

export class ClusterMember {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private running: Promise<void> = Promise.resolve();
  /** The tracker's catalog as of the last heartbeat that carried it (in memory: a restart asks again). */
  private catalog: { version: string; configs: Map<string, unknown> } | undefined;
  private mirrors: NodeView[] = [];

  constructor(private readonly opts: MemberOptions) {}

  /** A bucket incarnation's setting as the tracker last sent it (undefined: none, or no catalog yet). */
  bucketConfig(incarnationId: string, kind: CatalogSnapshot['configs'][number]['kind']): unknown {
    return this.catalog?.configs.get(`${incarnationId}/${kind}`);
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
    const stats = await o.stats();
    const reply = await o.tracker.call(
      TRACKER.heartbeat,
      {
        nodeId: o.nodeId,
        syncgroup: o.guard.syncgroup,
        url: o.url,
        startedMs: o.startedMs,
        objects: stats.objects,
        ...(this.catalog ? { catalogVersion: this.catalog.version } : {}),
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
    if (!validLayout(reply.layout)) throw new Error('the tracker sent an invalid layout');
    if (reply.members) {
      this.mirrors = reply.members;
      o.onMembers?.(reply.members);
    }
    if (reply.catalog) {
      const configs = new Map(reply.catalog.configs.map((c) => [`${c.id}/${c.kind}`, c.value] as const));
      this.catalog = { version: reply.catalog.version, configs };
    }
    if (reply.layout.version !== o.guard.layoutVersion) {
      await writeFileDurable(o.disk, o.dataDir, LAYOUT_FILE, JSON.stringify(reply.layout));
      o.guard.setLayout(reply.layout);
    }
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.running = this.beat().then(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.opts.intervalMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
