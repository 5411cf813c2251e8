// A tracker started with a fresh data directory (a new cluster, or a tracker whose disk was wiped) does not know
// yet whether the cluster already has a catalog. Every storage node keeps a copy of the catalog it last saw (with
// its change number `seq`) and the layout; the rebuilding tracker asks each node that heartbeats for them (the
// heartbeat reply says `offer`), and decides once it has heard from at least one node of every syncgroup, or the
// wait ran out with at least one offer: the highest `seq` wins, and so does the highest layout version. Until then
// bucket changes and gateway polls answer 503 ServiceUnavailable (gateways keep serving from their copy), so
// nothing can be decided on an empty catalog that would lock out the old buckets and keys.
import type { CatalogCopy, CatalogOffer } from '../common/cluster-wire.ts';
import type { Layout } from '../common/layout.ts';

export interface RebuildDecision {
  /** The newest catalog copy offered (absent: no node holds one: a new cluster). */
  catalog: CatalogCopy | undefined;
  /** The highest layout version offered (absent: no node holds one). */
  layout: Layout | undefined;
  /** Who offered the adopted catalog, and how many nodes offered anything. */
  catalogFrom: string | undefined;
  offers: number;
}

export interface RebuildOptions {
  /** The syncgroups of --syncgroups, if given: whose nodes to wait for when no node holds a layout. */
  syncgroups: readonly string[] | undefined;
  /** After this long (monotonic ms from the start), decide with whatever was offered (at least one offer). */
  waitMs: number;
  now: () => number;
  /** Makes the decision durable and returns once the tracker may serve with it; a throw stops the tracker. */
  decide: (d: RebuildDecision) => Promise<void>;
  /** One line when the wait ran out without any offer (logged once). */
  onStillWaiting?: (why: string) => void;
}

export class CatalogRebuild {
  private readonly offers = new Map<string, CatalogOffer>();
  private readonly startMs: number;
  private deciding: Promise<void> | undefined;
  private done = false;
  private warned = false;
  private failure: ((err: unknown) => void) | undefined;
  /** Resolves with the error when the decision failed (e.g. --syncgroups contradicts the nodes' layout): the tracker stops. */
  readonly failed: Promise<unknown>;

  constructor(private readonly opts: RebuildOptions) {
    this.startMs = opts.now();
    this.failed = new Promise((resolve) => {
      this.failure = resolve;
    });
  }

  get decided(): boolean {
    return this.done;
  }

  /** Whether the heartbeat reply should ask this node for its copy. */
  wants(nodeId: string): boolean {
    return !this.done && !this.offers.has(nodeId);
  }

  /** Records a node's offer (a later one from the same node replaces it), then decides if it may. */
  async offer(o: CatalogOffer): Promise<void> {
    if (this.done || this.deciding) return;
    this.offers.set(o.nodeId, o);
    await this.maybeDecide();
  }

  /** Called on every heartbeat and by a timer: decides once the wait ran out. */
  async maybeDecide(): Promise<void> {
    if (this.done) return;
    if (this.deciding) return this.deciding;
    const why = this.notYet();
    if (why !== undefined) {
      if (this.opts.now() - this.startMs >= this.opts.waitMs && !this.warned) {
        this.warned = true;
        this.opts.onStillWaiting?.(why);
      }
      return;
    }
    const decision = this.best();
    this.deciding = this.opts.decide(decision).then(
      () => {
        this.done = true;
      },
      (err: unknown) => {
        this.failure?.(err);
        throw err;
      },
    );
    return this.deciding;
  }

  /** Undefined when the tracker may decide now; otherwise why not. */
  private notYet(): string | undefined {
    const best = this.best();
    const groups = best.layout?.syncgroups ?? this.opts.syncgroups;
    if (!groups)
      return 'no storage node holding a layout has reported yet; if this is a new cluster, restart the tracker with --syncgroups a,b';
    const heard = new Set([...this.offers.values()].map((o) => o.syncgroup));
    if (groups.every((g) => heard.has(g))) return undefined;
    if (this.offers.size > 0 && this.opts.now() - this.startMs >= this.opts.waitMs) return undefined;
    return `waiting for a storage node of syncgroup(s) ${groups.filter((g) => !heard.has(g)).join(', ')} to report its catalog copy`;
  }

  private best(): RebuildDecision {
    let catalog: CatalogCopy | undefined;
    let catalogFrom: string | undefined;
    let layout: Layout | undefined;
    for (const o of this.offers.values()) {
      if (o.catalog && (!catalog || o.catalog.seq > catalog.seq)) {
        catalog = o.catalog;
        catalogFrom = o.nodeId;
      }
      if (o.layout && (!layout || o.layout.version > layout.version)) layout = o.layout;
    }
    return { catalog, layout, catalogFrom, offers: this.offers.size };
  }
}
