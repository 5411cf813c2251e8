// The gateway's view of the cluster, copied from the tracker by polling: the bucket catalog (a `BucketDirectory`),
// the access keys, the layout and the storage nodes. Object reads and writes use the copy and keep working while
// the tracker is down; bucket create, delete and settings need the tracker and answer 503 ServiceUnavailable
// without it.
//
// "Is this incarnation still current?" (asked after every storage call) is answered from the copy while the
// gateway's lease holds and the copy does not show the incarnation closing; otherwise the tracker is asked (it
// waits for a delete's verdict). See tracker/gateway-leases.ts for why that is safe.
import { randomBytes } from 'node:crypto';
import {
  type CatalogSnapshot,
  closeFinishReplySchema,
  closeReplySchema,
  createBucketReplySchema,
  emptyReplySchema,
  isCurrentReplySchema,
  type NodeView,
  pollReplySchema,
  putConfigReplySchema,
  TRACKER,
} from '../../common/cluster-wire.ts';
import type { Layout } from '../../common/layout.ts';
import { type TrackerClient, TrackerRefused, TrackerUnreachable } from '../../common/tracker-client.ts';
import type {
  BucketConfigKind,
  BucketInfo,
  BucketRef,
  CreateBucketOutcome,
  DeleteBucketOutcome,
  InitialBucketConfig,
  NewBucket,
} from '../../tracker/catalog.ts';
import type { Credentials } from '../auth/types.ts';
import { S3Error } from '../errors.ts';
import type { BucketDirectory } from '../handlers/deps.ts';

/** While its own DeleteBucket waits for the gateways' confirmation, this gateway confirms at this pace. */
const CLOSE_POLL_MS = 50;

export interface DirectoryOptions {
  tracker: TrackerClient;
  pollMs: number;
  /** Monotonic ms. */
  now: () => number;
  /** The first failed poll after a good one (logged by the caller); polling goes on. */
  onPollError?: (err: unknown) => void;
  /** The first good poll after failed ones. */
  onPollRecovered?: () => void;
}

export class TrackerDirectory implements BucketDirectory {
  readonly gatewayId = randomBytes(8).toString('hex');
  private catalog: CatalogSnapshot | undefined;
  private byName = new Map<string, BucketInfo>();
  private configs = new Map<string, Map<string, unknown>>();
  private closing = new Set<string>();
  private keys = new Map<string, Credentials>();
  private leaseUntil = Number.NEGATIVE_INFINITY;
  private layoutHeld: Layout | undefined;
  private nodesHeld: NodeView[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inflight: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly opts: DirectoryOptions) {}

  get layout(): Layout | undefined {
    return this.layoutHeld;
  }

  get nodes(): readonly NodeView[] {
    return this.nodesHeld;
  }

  /** True once the first poll has brought layout, keys and catalog. */
  get ready(): boolean {
    return this.catalog !== undefined && this.layoutHeld !== undefined;
  }

  credentials(accessKeyId: string): Credentials | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Polls now (joining a poll already running); throws when the tracker cannot be reached. */
  poll(): Promise<void> {
    this.inflight ??= this.pollOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async pollOnce(): Promise<void> {
    const sentAt = this.opts.now();
    const reply = await this.opts.tracker.call(
      TRACKER.poll,
      {
        gatewayId: this.gatewayId,
        ...(this.catalog ? { catalogVersion: this.catalog.version } : {}),
        ...(this.layoutHeld ? { layoutVersion: this.layoutHeld.version } : {}),
      },
      pollReplySchema,
      { timeoutMs: 5000 },
    );
    if (reply.layout) this.layoutHeld = reply.layout;
    // A member this gateway has seen stays one (suspect) while the tracker does not list it in a group that does
    // not mirror, or lists nobody of its group (a wiped tracker relearning from heartbeats): forgetting it would
    // route its keys to another node, or leave its group with no member to try. A mirrored group the tracker lists
    // has its keys on whichever members live: there the list is the truth, and a node the operator forgot (`quire
    // node forget`) or whose disk was swapped is gone, with its last report (whose "behind" marks would stay).
    const listed = new Set(reply.nodes.map((n) => n.nodeId));
    const groups = new Map<string, boolean>();
    for (const n of reply.nodes)
      groups.set(
        n.syncgroup,
        (groups.get(n.syncgroup) ?? true) && (n.state === 'recovering' || n.sync !== undefined),
      );
    const kept = this.nodesHeld
      .filter((n) => !listed.has(n.nodeId) && (groups.get(n.syncgroup) !== true || n.sync === undefined))
      .map((n) => ({ ...n, state: 'suspect' as const }));
    this.nodesHeld = [...reply.nodes, ...kept];
    this.keys = new Map(reply.keys.map((k) => [k.accessKeyId, k]));
    if (reply.catalog) this.apply(reply.catalog);
    // Counted from when the poll was sent: the tracker counts from when it arrived, so ours ends first.
    this.leaseUntil = sentAt + reply.leaseMs;
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.poll()
        .then(
          () => {
            if (this.failing) this.opts.onPollRecovered?.();
            this.failing = false;
          },
          (err: unknown) => {
            if (!this.failing) this.opts.onPollError?.(err);
            this.failing = true;
          },
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.opts.pollMs);
        });
    };
    loop();
  }

  /** Stops polling and gives the lease back, so bucket deletes need not wait for it to run out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight?.catch(() => undefined);
    await this.opts.tracker
      .call(TRACKER.leave, { gatewayId: this.gatewayId }, emptyReplySchema, { timeoutMs: 2000 })
      .catch(() => undefined);
  }

  /** Applies a snapshot unless it is older than the one held (same tracker epoch, lower number). */
  private apply(snap: CatalogSnapshot): void {
    if (this.catalog) {
      const [e1, n1] = this.catalog.version.split('.');
      const [e2, n2] = snap.version.split('.');
      if (e1 === e2 && Number(n2) < Number(n1)) return;
    }
    this.catalog = snap;
    this.byName = new Map(snap.buckets.map((b) => [b.name, b]));
    this.configs = new Map();
    for (const c of snap.configs) {
      const m = this.configs.get(c.id) ?? new Map<string, unknown>();
      this.configs.set(c.id, m);
      m.set(c.kind, c.value);
    }
    this.closing = new Set(snap.closing);
  }

  getBucket(name: string): BucketInfo | undefined {
    return this.byName.get(name);
  }

  listBuckets(owner?: string): BucketInfo[] {
    return [...this.byName.values()]
      .filter((b) => owner === undefined || b.owner === owner)
      .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  }

  getBucketConfig<T = unknown>(bucket: BucketRef, kind: BucketConfigKind): T | undefined {
    return this.configs.get(bucket.id)?.get(kind) as T | undefined;
  }

  async createBucket(spec: NewBucket, initial: InitialBucketConfig = {}): Promise<CreateBucketOutcome> {
    const reply = await this.ask(() =>
      this.opts.tracker.call(TRACKER.createBucket, { spec, initial }, createBucketReplySchema),
    );
    this.apply(reply.catalog);
    return reply.outcome;
  }

  async putBucketConfig(bucket: BucketRef, kind: BucketConfigKind, value: unknown): Promise<boolean> {
    const reply = await this.ask(() =>
      this.opts.tracker.call(
        TRACKER.putConfig,
        { bucket: { name: bucket.name, id: bucket.id }, kind, ...(value === undefined ? {} : { value }) },
        putConfigReplySchema,
      ),
    );
    this.apply(reply.catalog);
    return reply.ok;
  }

  async isCurrent(bucket: BucketRef): Promise<boolean> {
    if (this.opts.now() < this.leaseUntil && !this.closing.has(bucket.id))
      return this.byName.get(bucket.name)?.id === bucket.id;
    const reply = await this.ask(() =>
      this.opts.tracker.call(
        TRACKER.isCurrent,
        { bucket: { name: bucket.name, id: bucket.id } },
        isCurrentReplySchema,
        { timeoutMs: 90_000 },
      ),
    );
    return reply.current;
  }

  async deleteBucket(bucket: BucketRef, isEmpty: () => Promise<boolean>): Promise<DeleteBucketOutcome> {
    const ref = { name: bucket.name, id: bucket.id };
    const closing = this.ask(() => this.opts.tracker.call(TRACKER.close, { bucket: ref }, closeReplySchema));
    // The tracker waits until every gateway has seen the closing, this one included: poll until it answers.
    let answered = false;
    void closing
      .finally(() => {
        answered = true;
      })
      .catch(() => undefined);
    void (async () => {
      while (!answered) {
        await this.poll().catch(() => undefined);
        if (!answered) await new Promise((r) => setTimeout(r, CLOSE_POLL_MS));
      }
    })();
    const c = await closing;
    if (c.outcome === 'no-such-bucket' || c.token === undefined) return 'no-such-bucket';
    const finish = (empty: boolean) =>
      this.ask(() =>
        this.opts.tracker.call(
          TRACKER.closeFinish,
          { bucket: ref, token: c.token, empty },
          closeFinishReplySchema,
        ),
      );
    let empty: boolean;
    try {
      empty = await isEmpty();
    } catch (err) {
      await finish(false).catch(() => undefined);
      throw err;
    }
    const fin = await finish(empty);
    this.apply(fin.catalog);
    return fin.outcome;
  }

  /** A call that needs the tracker: unreachable or busy becomes S3's retryable 503. */
  private async ask<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof TrackerUnreachable || (err instanceof TrackerRefused && err.status === 503))
        throw new S3Error('ServiceUnavailable', 'The cluster directory is unavailable; retry the request.');
      throw err;
    }
  }
}
