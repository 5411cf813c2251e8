// Which gateways may answer "is this bucket incarnation still current?" from their own copy of the catalog.
//
// Every poll renews a gateway's lease (leaseMs from when the tracker received it; the gateway counts from when
// it sent the poll, so it always stops trusting its copy first) and says which catalog version the gateway has
// applied. A DeleteBucket marks the incarnation closing and then waits here until every gateway holding a lease
// has applied a catalog that shows the closing, or has let its lease run out; only then does it look whether the
// bucket is empty. So a write a gateway acknowledged after an emptiness check can only come from a gateway that
// already knew the bucket was closing, and such a gateway asks the tracker for the verdict instead.
//
// Holders are kept in `gateways.json` so a restarted tracker still waits for gateways that held a lease before
// it stopped (each such lease is counted from the restart).
import { readFile } from 'node:fs/promises';
import { nodeDisk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';

const FILE = 'gateways.json';

export class LeaseBusy extends Error {}

interface Holder {
  lastMs: number;
  acked: string | undefined;
}

export interface LeaseOptions {
  dir: string;
  leaseMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

export class GatewayLeases {
  private readonly holders = new Map<string, Holder>();
  private readonly waiters = new Set<() => void>();
  private persisting: Promise<void> = Promise.resolve();
  /** Until then, gateways this tracker cannot know of (it lost gateways.json) may still hold a lease. */
  private unknownUntil = Number.NEGATIVE_INFINITY;

  private constructor(private readonly opts: LeaseOptions) {}

  static async open(opts: LeaseOptions): Promise<GatewayLeases> {
    const leases = new GatewayLeases(opts);
    const text = await readFile(`${opts.dir}/${FILE}`, 'utf8').catch(() => '[]');
    let ids: unknown;
    try {
      ids = JSON.parse(text);
    } catch {
      ids = [];
    }
    // Leases granted before a restart: assume each was renewed just now.
    if (Array.isArray(ids))
      for (const id of ids)
        if (typeof id === 'string') leases.holders.set(id, { lastMs: opts.now(), acked: undefined });
    return leases;
  }

  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /** A poll: renews the lease and records the catalog version the gateway has applied. */
  async renew(gatewayId: string, acked: string | undefined): Promise<void> {
    const isNew = !this.holders.has(gatewayId);
    this.holders.set(gatewayId, { lastMs: this.opts.now(), acked });
    if (isNew) await this.persist();
    for (const wake of [...this.waiters]) wake();
  }

  /** A gateway that stops cleanly gives its lease back, so deletes need not wait for it to expire. */
  async release(gatewayId: string): Promise<void> {
    if (!this.holders.delete(gatewayId)) return;
    await this.persist();
    for (const wake of [...this.waiters]) wake();
  }

  list(): Array<{ gatewayId: string; leaseLeftMs: number }> {
    this.dropExpired();
    const now = this.opts.now();
    return [...this.holders].map(([gatewayId, h]) => ({
      gatewayId,
      leaseLeftMs: Math.max(0, h.lastMs + this.opts.leaseMs - now),
    }));
  }

  /**
   * A tracker rebuilt from the storage nodes (its directory was wiped) lost the list of lease holders: any gateway
   * may have polled the old tracker up to a lease ago. Closings wait until `untilMs` (monotonic) for them.
   */
  assumeUnknownHolders(untilMs: number): void {
    this.unknownUntil = Math.max(this.unknownUntil, untilMs);
  }

  /**
   * Resolves once every live holder's applied version satisfies `covers`; throws LeaseBusy after `timeoutMs`
   * naming the gateways that neither confirmed nor let their lease run out.
   */
  async waitAll(covers: (acked: string | undefined) => boolean, timeoutMs: number): Promise<void> {
    const deadline = this.opts.now() + timeoutMs;
    for (;;) {
      this.dropExpired();
      const missing = [...this.holders].filter(([, h]) => !covers(h.acked));
      const now = this.opts.now();
      const unknown = now < this.unknownUntil;
      if (missing.length === 0 && !unknown) return;
      if (now >= deadline) {
        throw new LeaseBusy(
          unknown
            ? `this tracker was rebuilt from the storage nodes and cannot know which gateways still hold a lease for ${Math.ceil((this.unknownUntil - now) / 1000)} s more; retry later`
            : `gateway(s) ${missing.map(([id]) => id).join(', ')} have not confirmed the closing (their lease ends within ${Math.ceil(this.opts.leaseMs / 1000)} s); retry later`,
        );
      }
      const nextExpiry = Math.min(
        ...missing.map(([, h]) => h.lastMs + this.opts.leaseMs),
        unknown ? this.unknownUntil : Number.POSITIVE_INFINITY,
      );
      // Wakes on the next poll or leave, or when the earliest lease runs out, or at the deadline.
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, Math.min(deadline, nextExpiry) - now));
        this.waiters.add(wake);
      });
    }
  }

  private dropExpired(): void {
    const now = this.opts.now();
    let dropped = false;
    for (const [id, h] of this.holders) {
      if (h.lastMs + this.opts.leaseMs <= now) {
        this.holders.delete(id);
        dropped = true;
      }
    }
    if (dropped) void this.persist().catch(() => undefined);
  }

  private persist(): Promise<void> {
    const ids = JSON.stringify([...this.holders.keys()]);
    this.persisting = this.persisting
      .catch(() => undefined)
      .then(() => writeFileDurable(nodeDisk, this.opts.dir, FILE, ids));
    return this.persisting;
  }
}
