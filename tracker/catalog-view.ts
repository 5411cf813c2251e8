// The catalog as gateways copy it: a numbered snapshot (buckets, their settings, the incarnations being closed).
// The version is `<epoch>.<n>`: a fresh random epoch per tracker start, so a gateway never mistakes a restarted
// tracker's version 3 for the one it already holds. Versions only say "same or not"; the snapshot's `seq` (the
// catalog's durable change number) orders copies across restarts. Storage nodes get more (`forNodes`): the access
// keys and the deleted incarnations, since their copy is what a wiped tracker rebuilds from.
import { randomBytes } from 'node:crypto';
import type { AccessKey, CatalogSnapshot } from '../common/cluster-wire.ts';
import type { BucketConfigKind, Catalog } from './catalog.ts';

const KINDS: BucketConfigKind[] = [
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
];

export class CatalogView {
  private readonly epoch = randomBytes(4).toString('hex');
  private n = 1;
  private cached: CatalogSnapshot | undefined;
  private cachedForNodes: CatalogSnapshot | undefined;
  /** Incarnation ids a DeleteBucket is deciding on. */
  readonly closing = new Set<string>();

  constructor(private readonly catalog: Catalog) {}

  get version(): string {
    return `${this.epoch}.${this.n}`;
  }

  /** Call after every change of the catalog or of `closing`. */
  changed(): void {
    this.n += 1;
    this.cached = undefined;
    this.cachedForNodes = undefined;
  }

  /** Whether a gateway that applied `acked` has seen everything up to `version`. */
  covers(acked: string | undefined, version: string): boolean {
    if (acked === undefined) return false;
    const [e1, n1] = acked.split('.');
    const [e2, n2] = version.split('.');
    return e1 === e2 && Number(n1) >= Number(n2);
  }

  snapshot(): CatalogSnapshot {
    if (this.cached) return this.cached;
    const buckets = this.catalog.listBuckets();
    const configs: CatalogSnapshot['configs'] = [];
    for (const b of buckets) {
      for (const kind of KINDS) {
        const value = this.catalog.getBucketConfig(b, kind);
        if (value !== undefined) configs.push({ id: b.id, kind, value });
      }
    }
    this.cached = {
      version: this.version,
      seq: this.catalog.seq,
      buckets,
      configs,
      closing: [...this.closing],
    };
    return this.cached;
  }

  /** The snapshot storage nodes keep: also the access keys and the recently deleted incarnations. */
  forNodes(keys: readonly AccessKey[]): CatalogSnapshot {
    this.cachedForNodes ??= {
      ...this.snapshot(),
      keys: [...keys],
      deleted: this.catalog.deletedIncarnations(),
    };
    return this.cachedForNodes;
  }
}
