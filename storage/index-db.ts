// The per-node LMDB index: one root environment with named sub-databases, binary keys (our own
// order-preserving encoding, see keys.ts) and binary values (records.ts).
//
//   objects  objectKey(bucket, key)        -> ObjectValue of the current version (maybe a delete marker)
//   versions versionKey(bucket, key, stamp) -> ObjectValue of a noncurrent version (key asc., newest first)
//   uploads  uploadKey(bucket, key, id)    -> UploadValue
//   parts    partKey(uploadId, partNumber) -> PartValue (in-progress uploads and completed objects)
//   pending  volumeId 0 location           -> PendingValue: deletes deferred by a pinned read
//   tombstones tombstoneKey(bucket, key, stamp?) -> TombstoneValue: a version removed at an opver, so an
//            older replicated write cannot resurrect it (replica.ts); expires by age. Added without a format
//            bump: an index from before it has the table empty, which is what it knew.
//   meta     'opver' -> u64 counter; 'clean' -> 1 when closed cleanly; 'format' -> u32 INDEX_FORMAT;
//            'binlog' -> BinlogCheckpoint (records.ts)
//
// Durability: lmdb-js resolves a write when its transaction is committed and visible, which with
// overlappingSync is BEFORE the disk has it. In 'flush' mode `write()` awaits `flushed` as well
// (pinned by index-db.test.ts); `commit()` never does. The node opens its index in 'os' mode
// when indexSync is 'background' (the default is 'ack', which flushes before acknowledging): the
// index is then a cache of the volumes, rebuilt from them after any unclean stop (recovery.ts; the
// 'clean' flag is cleared at open), so an acknowledged write needs its volume
// entry and binlog record durable, not its index row; a machine crash under an 'os' index makes
// index-guard.ts delete it before it is read. Measured (bench/storage.ts, 64 writers, 4 KiB): the
// per-commit flush of overlappingSync cost ~20 µs of CPU per PUT, a fifth of the node's total.
import { type Database, open, type RootDatabase } from 'lmdb';

export type Db = Database<Buffer, Buffer>;

export interface IndexOptions {
  /**
   * 'flush' (default): every commit is flushed right after it (overlappingSync) and write() waits
   * for that. 'os': LMDB never syncs (noSync); the OS writes pages back when it likes, so the files
   * are consistent after a process crash but not after a machine crash: only for an index that is
   * thrown away after one (index-guard.ts) and synced with syncToDisk() before a clean close.
   */
  sync?: 'flush' | 'os';
  mapSizeBytes?: number;
}

const OPVER_KEY = Buffer.from('opver');
const CLEAN_KEY = Buffer.from('clean');
const FORMAT_KEY = Buffer.from('format');

/**
 * The layout of index keys and rows. Bumped whenever keys.ts or records.ts change what is stored: an index of
 * another format is discarded at open and rebuilt from the volumes (which do not change with it).
 *   1: upload keys escaped 0x00/0x01 (up to twice a key's length)   2: upload keys lifted (keys.ts)
 *   3: object values v2 (version stamp, flags, tags, retention, ACL), the versions table, upload values v2
 */
export const INDEX_FORMAT = 3;

export class NodeIndex {
  readonly objects: Db;
  readonly versions: Db;
  readonly uploads: Db;
  readonly parts: Db;
  readonly pending: Db;
  readonly tombstones: Db;
  readonly meta: Db;

  private constructor(readonly env: RootDatabase<Buffer, Buffer>) {
    const sub = (name: string) =>
      env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary', cache: false });
    this.objects = sub('objects');
    this.versions = sub('versions');
    this.uploads = sub('uploads');
    this.parts = sub('parts');
    this.pending = sub('pending');
    this.tombstones = sub('tombstones');
    this.meta = sub('meta');
  }

  static open(path: string, opts: IndexOptions = {}): NodeIndex {
    const env = open<Buffer, Buffer>({
      path,
      maxDbs: 8,
      keyEncoding: 'binary',
      encoding: 'binary',
      mapSize: opts.mapSizeBytes ?? 1024 * 1024 * 1024,
      // 'flush': commits are visible at once and flushed to disk right after (awaited in write()).
      overlappingSync: opts.sync !== 'os',
      noSync: opts.sync === 'os',
      commitDelay: 0,
      eventTurnBatching: true,
      compression: false,
      cache: false,
    });
    return new NodeIndex(env);
  }

  /** Runs `fn` in one write transaction (batched with others of this event turn); resolves once on disk. */
  async write(fn: () => void): Promise<void> {
    await this.env.transaction(fn);
    await this.env.flushed;
  }

  /** Forces everything committed so far onto the disk (needed before a clean close in 'os' mode). */
  syncToDisk(): Promise<void> {
    return new Promise((resolve, reject) => {
      // lmdb-js has env.sync(callback) (open.js) but leaves it out of its typings.
      const env = this.env as unknown as { sync(cb: (err?: unknown) => void): void };
      env.sync((err) => (err ? reject(err) : resolve()));
    });
  }

  /** Like write(), but resolves when the commit is visible, before it is on disk. */
  async commit(fn: () => void): Promise<void> {
    await this.env.transaction(fn);
  }

  get(db: Db, key: Buffer): Buffer | undefined {
    return db.getBinary(key) as Buffer | undefined;
  }

  readCounter(): bigint {
    const v = this.get(this.meta, OPVER_KEY);
    return v ? v.readBigUInt64LE(0) : 0n;
  }

  /** Inside a write transaction: persist the node-wide opver counter. */
  putCounter(counter: bigint): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(counter);
    this.meta.put(OPVER_KEY, b);
  }

  /** True if this index was built in the current INDEX_FORMAT. */
  formatIsCurrent(): boolean {
    const v = this.get(this.meta, FORMAT_KEY);
    return v?.length === 4 && v.readUInt32BE(0) === INDEX_FORMAT;
  }

  /** Inside a write transaction, once the rows are in the current format (after a rebuild). */
  putFormat(): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(INDEX_FORMAT);
    this.meta.put(FORMAT_KEY, b);
  }

  wasClean(): boolean {
    return this.get(this.meta, CLEAN_KEY)?.[0] === 1;
  }

  async setClean(clean: boolean): Promise<void> {
    await this.write(() => this.meta.put(CLEAN_KEY, Buffer.from([clean ? 1 : 0])));
  }

  async close(): Promise<void> {
    await this.env.flushed;
    await this.env.close();
  }
}
