// DeleteBucket for gateways in other processes, in two calls around the gateway's own emptiness check:
//   close(ref)  marks the incarnation closing, waits until every gateway lease holder has seen that
//               (gateway-leases.ts), and returns a token;
//   finish(ref, token, empty)  ends it: deleted (with a tombstone) when empty, else back to normal.
// Between the two, the catalog's own closing state holds: the tracker's isCurrent waits for the verdict.
// A closing whose finish does not come within `finishTimeoutMs` (the deleting gateway died) is abandoned and
// the bucket stays; a late finish then gets Expired.
import { randomBytes } from 'node:crypto';
import type { BucketRef, Catalog, DeleteBucketOutcome } from './catalog.ts';
import type { CatalogView } from './catalog-view.ts';
import type { GatewayLeases } from './gateway-leases.ts';

export class CloseExpired extends Error {}
export class CloseBusy extends Error {}

interface Pending {
  token: string;
  decide: (empty: boolean) => void;
  done: Promise<DeleteBucketOutcome>;
}

export interface CloserOptions {
  ackTimeoutMs: number;
  finishTimeoutMs: number;
}

export class BucketCloser {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly catalog: Catalog,
    private readonly view: CatalogView,
    private readonly leases: GatewayLeases,
    private readonly opts: CloserOptions,
  ) {}

  async close(
    ref: BucketRef,
  ): Promise<{ outcome: 'closing'; token: string } | { outcome: 'no-such-bucket' }> {
    if (this.catalog.getBucket(ref.name)?.id !== ref.id) return { outcome: 'no-such-bucket' };
    if (this.pending.has(ref.id))
      throw new CloseBusy('a delete of this bucket is already in progress; retry later');
    const token = randomBytes(12).toString('hex');
    let ready!: (v: 'closing' | DeleteBucketOutcome | Error) => void;
    const readyP = new Promise<'closing' | DeleteBucketOutcome | Error>((r) => {
      ready = r;
    });
    let decide!: (empty: boolean) => void;
    const decided = new Promise<boolean>((r) => {
      decide = r;
    });
    this.view.closing.add(ref.id);
    this.view.changed();
    const markedAt = this.view.version;
    const done = this.catalog.deleteBucket(ref, async () => {
      try {
        await this.leases.waitAll((acked) => this.view.covers(acked, markedAt), this.opts.ackTimeoutMs);
      } catch (err) {
        ready(err as Error);
        throw err;
      }
      ready('closing');
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new CloseExpired('the delete was not finished in time')),
          this.opts.finishTimeoutMs,
        );
      });
      try {
        return await Promise.race([decided, expired]);
      } finally {
        clearTimeout(timer);
      }
    });
    this.pending.set(ref.id, { token, decide, done });
    const cleanup = () => {
      if (this.pending.get(ref.id)?.token === token) this.pending.delete(ref.id);
      this.view.closing.delete(ref.id);
      this.view.changed();
    };
    done.then(
      (outcome) => {
        cleanup();
        ready(outcome);
      },
      (err: unknown) => {
        cleanup();
        ready(err instanceof Error ? err : new Error(String(err)));
      },
    );
    const r = await readyP;
    if (r instanceof Error) throw r;
    if (r === 'closing') return { outcome: 'closing', token };
    return { outcome: 'no-such-bucket' };
  }

  async finish(ref: BucketRef, token: string, empty: boolean): Promise<DeleteBucketOutcome> {
    const p = this.pending.get(ref.id);
    if (!p || p.token !== token) throw new CloseExpired('this delete is no longer in progress; retry it');
    p.decide(empty);
    return p.done;
  }
}
