// The cluster catalog the tracker owns: S3 buckets, who owns them, and which incarnation each name is now.
// Small, never per-object. Kept in LMDB; every change is awaited until flushed to disk before it is acknowledged.
//
// A bucket is its incarnation, not its name: each creation gets a fresh id, and storage keys everything
// (objects, uploads, parts) by that id. Deleting a bucket leaves a tombstone for its id until the next start
// purges what late requests may still have written under it (see `deadBucketIds`).
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { type Database, open, type RootDatabase } from 'lmdb';
import { BucketClosings } from './closing.ts';

export interface BucketInfo {
  readonly name: string;
  /**
   * The incarnation: what storage keys this bucket's data by. `~` + 32 hex digits for buckets created since
   * incarnations exist (`~` never appears in a bucket name, so it cannot collide); buckets created before
   * keep their name as id.
   */
  readonly id: string;
  /** Access key id that created the bucket; only it may use the bucket (policies come later). */
  readonly owner: string;
  readonly createdMs: number;
  readonly region: string;
}

/** What the creator supplies; the catalog assigns the id. */
export type NewBucket = Omit<BucketInfo, 'id'>;

/** Names one incarnation of a bucket. */
export interface BucketRef {
  readonly name: string;
  readonly id: string;
}

export type CreateBucketOutcome = 'created' | 'owned-by-you' | 'owned-by-other';
export type DeleteBucketOutcome = 'deleted' | 'not-empty' | 'no-such-bucket';

/** A deleted incarnation whose leftovers may still need purging from storage. */
export interface DeadBucket {
  readonly id: string;
  readonly name: string;
  readonly deletedMs: number;
}

/** v1: no id (the name is the id); v2: id. */
const CATALOG_VERSION = 2;

type StoredBucket = Omit<BucketInfo, 'id'> & { id?: string; v: number };

export interface CatalogOptions {
  /** Source of incarnation ids (tests make it deterministic). */
  randomBytes?: (n: number) => Buffer;
  /** Wall-clock ms, only to date tombstones. */
  clock?: () => number;
}

export class Catalog {
  /** Every request asks for its bucket: the catalog is small, so it is read once and kept in memory. */
  private readonly cache = new Map<string, BucketInfo>();
  private readonly dead = new Map<string, DeadBucket>();
  private readonly closings = new BucketClosings();

  private constructor(
    private readonly root: RootDatabase,
    private readonly buckets: Database<StoredBucket, string>,
    private readonly tombstones: Database<DeadBucket & { v: number }, string>,
    private readonly randomBytes: (n: number) => Buffer,
    private readonly clock: () => number,
  ) {}

  static open(dir: string, opts: CatalogOptions = {}): Catalog {
    const root = open({
      path: dir,
      // Durable by default: commits are synced; we await `flushed` before acknowledging.
      noSync: false,
      overlappingSync: true,
      compression: false,
      maxDbs: 8,
    });
    const buckets = root.openDB<StoredBucket, string>({ name: 'buckets', encoding: 'msgpack' });
    const tombstones = root.openDB<DeadBucket & { v: number }, string>({
      name: 'dead-buckets',
      encoding: 'msgpack',
    });
    const catalog = new Catalog(
      root,
      buckets,
      tombstones,
      opts.randomBytes ?? cryptoRandomBytes,
      opts.clock ?? (() => Date.now()),
    );
    for (const { key, value } of buckets.getRange({ snapshot: false })) catalog.cache.set(key, toInfo(value));
    for (const { value } of tombstones.getRange({ snapshot: false }))
      catalog.dead.set(value.id, { id: value.id, name: value.name, deletedMs: value.deletedMs });
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

  async createBucket(spec: NewBucket): Promise<CreateBucketOutcome> {
    const info: BucketInfo = { ...spec, id: `~${this.randomBytes(16).toString('hex')}` };
    const outcome = await this.buckets.transaction((): CreateBucketOutcome => {
      const existing = this.buckets.get(info.name);
      if (existing) return existing.owner === info.owner ? 'owned-by-you' : 'owned-by-other';
      this.buckets.put(info.name, { ...info, v: CATALOG_VERSION });
      return 'created';
    });
    await this.root.flushed;
    if (outcome === 'created') this.cache.set(info.name, info);
    return outcome;
  }

  /**
   * True while `bucket` is the current incarnation of its name. A request checks this after its storage
   * call: while a delete of the incarnation is deciding, the answer waits for its outcome, so a write that
   * the delete's emptiness check could not see is never acknowledged in a bucket that then disappears.
   */
  async isCurrent(bucket: BucketRef): Promise<boolean> {
    await this.closings.settled(bucket.id);
    return this.cache.get(bucket.name)?.id === bucket.id;
  }

  /**
   * Deletes this incarnation if `isEmpty` (asked while the incarnation is marked closing) says so. Only the
   * given incarnation is ever removed: a later bucket of the same name is left alone. Leaves a tombstone.
   */
  async deleteBucket(bucket: BucketRef, isEmpty: () => Promise<boolean>): Promise<DeleteBucketOutcome> {
    return this.closings.run(bucket.id, async (): Promise<DeleteBucketOutcome> => {
      if (this.cache.get(bucket.name)?.id !== bucket.id) return 'no-such-bucket';
      if (!(await isEmpty())) return 'not-empty';
      const tombstone: DeadBucket = { id: bucket.id, name: bucket.name, deletedMs: this.clock() };
      const removed = await this.buckets.transaction(() => {
        const row = this.buckets.get(bucket.name);
        if (!row || toInfo(row).id !== bucket.id) return false;
        this.buckets.remove(bucket.name);
        this.tombstones.put(bucket.id, { ...tombstone, v: 1 });
        return true;
      });
      await this.root.flushed;
      if (!removed) return 'no-such-bucket';
      this.cache.delete(bucket.name);
      this.dead.set(bucket.id, tombstone);
      return 'deleted';
    });
  }

  /** Deleted incarnations whose storage may still hold leftovers of requests admitted before the delete. */
  deadBuckets(): DeadBucket[] {
    return [...this.dead.values()];
  }

  /** Called once storage holds nothing of `id` and no request admitted for it can still be running. */
  async forgetDeadBucket(id: string): Promise<void> {
    await this.tombstones.remove(id);
    await this.root.flushed;
    this.dead.delete(id);
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}

function toInfo(v: StoredBucket): BucketInfo {
  // v1 rows predate incarnations: the data of such a bucket is stored under its name.
  return { name: v.name, id: v.id ?? v.name, owner: v.owner, createdMs: v.createdMs, region: v.region };
}
