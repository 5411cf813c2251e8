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
  /** The catalog change (`seq`) that deleted it (0 for tombstones written before changes were numbered). */
  readonly seq: number;
}

/** The most tombstones kept: storage nodes drop leftovers of these; older deletions are forgotten. */
export const MAX_TOMBSTONES = 10_000;

/** A whole catalog as a storage node keeps it, for a wiped tracker to adopt (see `adopt`). */
export interface CatalogContent {
  seq: number;
  buckets: readonly BucketInfo[];
  configs: ReadonlyArray<{ id: string; kind: BucketConfigKind; value: unknown }>;
  deleted: ReadonlyArray<{ id: string; seq: number }>;
}

/**
 * The per-bucket settings S3 lets an owner configure, one value per kind. The catalog stores each value
 * opaquely (msgpack); the module that owns a kind validates it (zod) before putting it and shapes it for
 * its API. Kept in memory, since the gateway reads some of them (policy, CORS, versioning) on every request.
 */
export type BucketConfigKind =
  | 'versioning'
  | 'object-lock'
  | 'lifecycle'
  | 'tagging'
  | 'policy'
  | 'acl'
  | 'ownership'
  | 'public-access-block'
  | 'cors'
  | 'website'
  | 'replication-mode';

/** Settings that start with the bucket (e.g. object lock and versioning, a canned ACL), set atomically with it. */
export type InitialBucketConfig = Partial<Record<BucketConfigKind, unknown>>;

/** v1: no id (the name is the id); v2: id. */
const CATALOG_VERSION = 2;
const SEQ = 'seq';

type StoredBucket = Omit<BucketInfo, 'id'> & { id?: string; v: number };

export interface CatalogOptions {
  /** Source of incarnation ids (tests make it deterministic). */
  randomBytes?: (n: number) => Buffer;
  /** Wall-clock ms, only to date tombstones. */
  clock?: () => number;
  /** How many tombstones are kept (the oldest go first); default MAX_TOMBSTONES. */
  maxTombstones?: number;
}

export class Catalog {
  /** Every request asks for its bucket: the catalog is small, so it is read once and kept in memory. */
  private readonly cache = new Map<string, BucketInfo>();
  /** Incarnation id → its settings (mirror of the `bucket-config` table). */
  private readonly configs = new Map<string, Map<BucketConfigKind, unknown>>();
  private readonly dead = new Map<string, DeadBucket>();
  private readonly closings = new BucketClosings();
  private seqNow = 0;

  private constructor(
    private readonly root: RootDatabase,
    private readonly buckets: Database<StoredBucket, string>,
    private readonly tombstones: Database<Omit<DeadBucket, 'seq'> & { seq?: number; v: number }, string>,
    /** Key: incarnation id + '/' + kind. */
    private readonly settings: Database<unknown, string>,
    /** `seq`: the number of the last durable change. */
    private readonly meta: Database<number, string>,
    private readonly randomBytes: (n: number) => Buffer,
    private readonly clock: () => number,
    private readonly maxTombstones: number,
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
    const tombstones = root.openDB<Omit<DeadBucket, 'seq'> & { seq?: number; v: number }, string>({
      name: 'dead-buckets',
      encoding: 'msgpack',
    });
    const settings = root.openDB<unknown, string>({ name: 'bucket-config', encoding: 'msgpack' });
    const meta = root.openDB<number, string>({ name: 'meta', encoding: 'msgpack' });
    const catalog = new Catalog(
      root,
      buckets,
      tombstones,
      settings,
      meta,
      opts.randomBytes ?? cryptoRandomBytes,
      opts.clock ?? (() => Date.now()),
      opts.maxTombstones ?? MAX_TOMBSTONES,
    );
    catalog.load();
    return catalog;
  }

  private load(): void {
    this.cache.clear();
    this.configs.clear();
    this.dead.clear();
    for (const { key, value } of this.buckets.getRange({ snapshot: false }))
      this.cache.set(key, toInfo(value));
    for (const { value } of this.tombstones.getRange({ snapshot: false }))
      this.dead.set(value.id, {
        id: value.id,
        name: value.name,
        deletedMs: value.deletedMs,
        seq: value.seq ?? 0,
      });
    for (const { key, value } of this.settings.getRange({ snapshot: false })) {
      const [id, kind] = splitConfigKey(key);
      this.configMap(id).set(kind, value);
    }
    this.seqNow = this.meta.get(SEQ) ?? 0;
  }

  /**
   * The number of the last durable change (bucket created or deleted, a setting put). It survives restarts and
   * only grows, so catalog copies kept by storage nodes compare: a wiped tracker adopts the highest.
   */
  get seq(): number {
    return this.seqNow;
  }

  /** Inside a transaction: numbers this change. */
  private bump(): number {
    const next = (this.meta.get(SEQ) ?? 0) + 1;
    this.meta.put(SEQ, next);
    return next;
  }

  /** The most recently deleted incarnations, newest first, at most `limit`. */
  deletedIncarnations(limit = this.maxTombstones): Array<{ id: string; seq: number }> {
    return [...this.dead.values()]
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit)
      .map((d) => ({ id: d.id, seq: d.seq }));
  }

  /**
   * Replaces the whole catalog with a copy a storage node kept (a tracker whose directory was wiped rebuilds
   * from the newest copy the nodes offer). One transaction: a crash leaves the old content or the new.
   */
  async adopt(content: CatalogContent): Promise<void> {
    await this.buckets.transaction(() => {
      for (const { key } of this.buckets.getRange({ snapshot: false })) this.buckets.remove(key);
      for (const { key } of this.settings.getRange({ snapshot: false })) this.settings.remove(key);
      for (const { key } of this.tombstones.getRange({ snapshot: false })) this.tombstones.remove(key);
      for (const b of content.buckets) this.buckets.put(b.name, { ...b, v: CATALOG_VERSION });
      for (const c of content.configs) this.settings.put(configKey(c.id, c.kind), c.value);
      // The name is not in the copy: storage needs only the id; the date is the adoption's.
      for (const d of content.deleted)
        this.tombstones.put(d.id, { id: d.id, name: '', deletedMs: this.clock(), seq: d.seq, v: 1 });
      this.meta.put(SEQ, content.seq);
    });
    await this.root.flushed;
    this.load();
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

  async createBucket(spec: NewBucket, initial: InitialBucketConfig = {}): Promise<CreateBucketOutcome> {
    const info: BucketInfo = { ...spec, id: `~${this.randomBytes(16).toString('hex')}` };
    const initialEntries = Object.entries(initial).filter(([, v]) => v !== undefined) as [
      BucketConfigKind,
      unknown,
    ][];
    const outcome = await this.buckets.transaction((): CreateBucketOutcome => {
      const existing = this.buckets.get(info.name);
      if (existing) return existing.owner === info.owner ? 'owned-by-you' : 'owned-by-other';
      this.buckets.put(info.name, { ...info, v: CATALOG_VERSION });
      for (const [kind, value] of initialEntries) this.settings.put(configKey(info.id, kind), value);
      this.bump();
      return 'created';
    });
    await this.root.flushed;
    if (outcome === 'created') {
      this.seqNow = this.meta.get(SEQ) ?? this.seqNow;
      this.cache.set(info.name, info);
      for (const [kind, value] of initialEntries) this.configMap(info.id).set(kind, value);
    }
    return outcome;
  }

  /** The incarnation's setting of this kind, or undefined when it has none (synchronous: from memory). */
  getBucketConfig<T = unknown>(bucket: BucketRef, kind: BucketConfigKind): T | undefined {
    return this.configs.get(bucket.id)?.get(kind) as T | undefined;
  }

  /**
   * Sets (or, with `undefined`, removes) one setting of this incarnation, durably. False when the incarnation
   * is no longer the current one of its name (deleted meanwhile): nothing is written then.
   */
  async putBucketConfig(bucket: BucketRef, kind: BucketConfigKind, value: unknown): Promise<boolean> {
    const key = configKey(bucket.id, kind);
    const done = await this.buckets.transaction(() => {
      const row = this.buckets.get(bucket.name);
      if (!row || toInfo(row).id !== bucket.id) return false;
      if (value === undefined) this.settings.remove(key);
      else this.settings.put(key, value);
      this.bump();
      return true;
    });
    await this.root.flushed;
    if (!done) return false;
    this.seqNow = this.meta.get(SEQ) ?? this.seqNow;
    if (value === undefined) this.configs.get(bucket.id)?.delete(kind);
    else this.configMap(bucket.id).set(kind, value);
    return true;
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
   * `isCurrent` without waiting, for the hot path (every request asks): the answer now, or undefined while a
   * delete of the incarnation is deciding (then ask `isCurrent`, which waits for the verdict).
   */
  currentNow(bucket: BucketRef): boolean | undefined {
    if (this.closings.deciding(bucket.id)) return undefined;
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
      let tombstone: DeadBucket | undefined;
      // Past the bound, the oldest tombstones go (in the same transaction).
      const excess = [...this.dead.values()]
        .sort((a, b) => a.seq - b.seq)
        .slice(0, Math.max(0, this.dead.size + 1 - this.maxTombstones));
      const removed = await this.buckets.transaction(() => {
        const row = this.buckets.get(bucket.name);
        if (!row || toInfo(row).id !== bucket.id) return false;
        this.buckets.remove(bucket.name);
        tombstone = { id: bucket.id, name: bucket.name, deletedMs: this.clock(), seq: this.bump() };
        this.tombstones.put(bucket.id, { ...tombstone, v: 1 });
        for (const old of excess) this.tombstones.remove(old.id);
        for (const kind of this.configs.get(bucket.id)?.keys() ?? [])
          this.settings.remove(configKey(bucket.id, kind));
        return true;
      });
      await this.root.flushed;
      if (!removed || !tombstone) return 'no-such-bucket';
      this.seqNow = tombstone.seq;
      this.cache.delete(bucket.name);
      this.configs.delete(bucket.id);
      for (const old of excess) this.dead.delete(old.id);
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

  private configMap(id: string): Map<BucketConfigKind, unknown> {
    let map = this.configs.get(id);
    if (!map) {
      map = new Map();
      this.configs.set(id, map);
    }
    return map;
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

function configKey(id: string, kind: BucketConfigKind): string {
  return `${id}/${kind}`;
}

function splitConfigKey(key: string): [string, BucketConfigKind] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1) as BucketConfigKind];
}
