// The cluster catalog the tracker owns: S3 buckets and who owns them. Small, never per-object.
// Kept in LMDB; every change is awaited until flushed to disk before it is acknowledged.
import { type Database, open, type RootDatabase } from 'lmdb';

export interface BucketInfo {
  readonly name: string;
  /** Access key id that created the bucket; only it may use the bucket (policies come later). */
  readonly owner: string;
  readonly createdMs: number;
  readonly region: string;
}

export type CreateBucketOutcome = 'created' | 'owned-by-you' | 'owned-by-other';

const CATALOG_VERSION = 1;

export class Catalog {
  /** Every request asks for its bucket: the catalog is small, so it is read once and kept in memory. */
  private readonly cache = new Map<string, BucketInfo>();

  private constructor(
    private readonly root: RootDatabase,
    private readonly buckets: Database<BucketInfo & { v: number }, string>,
  ) {}

  static open(dir: string): Catalog {
    const root = open({
      path: dir,
      // Durable by default: commits are synced; we await `flushed` before acknowledging.
      noSync: false,
      overlappingSync: true,
      compression: false,
      maxDbs: 8,
    });
    const buckets = root.openDB<BucketInfo & { v: number }, string>({ name: 'buckets', encoding: 'msgpack' });
    const catalog = new Catalog(root, buckets);
    for (const { key, value } of buckets.getRange({ snapshot: false })) catalog.cache.set(key, toInfo(value));
    return catalog;
  }

  getBucket(name: string): BucketInfo | undefined {
    return this.cache.get(name);
  }

  /** Buckets in name order; only the owner's when `owner` is given. */
  listBuckets(owner?: string): BucketInfo[] {
    return [...this.cache.values()]
      .filter((b) => owner === undefined || b.owner === owner)
      .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  }

  async createBucket(info: BucketInfo): Promise<CreateBucketOutcome> {
    const outcome = await this.buckets.transaction((): CreateBucketOutcome => {
      const existing = this.buckets.get(info.name);
      if (existing) return existing.owner === info.owner ? 'owned-by-you' : 'owned-by-other';
      this.buckets.put(info.name, { ...info, v: CATALOG_VERSION });
      return 'created';
    });
    await this.root.flushed;
    if (outcome === 'created') this.cache.set(info.name, toInfo({ ...info, v: CATALOG_VERSION }));
    return outcome;
  }

  async deleteBucket(name: string): Promise<boolean> {
    const removed = await this.buckets.remove(name);
    await this.root.flushed;
    this.cache.delete(name);
    return removed;
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}

function toInfo(v: BucketInfo & { v: number }): BucketInfo {
  return { name: v.name, owner: v.owner, createdMs: v.createdMs, region: v.region };
}
