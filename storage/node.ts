// The storage node: volumes + the LMDB index + the binlog, behind StorageApi. This file wires the
// parts and holds what belongs to the node as a whole (open, recovery, listing, stats, close):
//   opver-clock.ts  the opver counter and the binlog checkpoint
//   placement.ts    which volume an entry goes to; freeing entries
//   read-path.ts    GET/HEAD: row + pins in one step (pins.ts), deferred frees
//   write-path.ts   PUT, the object commit protocols, DELETE, CopyObject
//   multipart.ts    uploads and parts
//   moved-router.ts the index follows compaction; compactor.ts runs it in the background
//   recovery.ts     what open does after a clean or an unclean stop; checkpoints.ts bounds it
//
// Entry keys in the volumes (keys.ts EntryKind): 'O'+objectKey (the null version of an object: inline
// data, or a manifest for blob/multipart bodies), 'V'+objectKey+stamp (any other version, the same), 'B'+blobId (a large body, written before its manifest because its
// ETag is known only after streaming), 'U'+uploadId (upload marker), 'P'+uploadId+partNumber.
// The volume is the truth: every index row is derivable from entry keys, metas, opvers and
// locations (rebuild.ts). After an unclean stop, recovery (recovery.ts) settles what changed since
// the checkpoints (checkpoints.ts), or rebuilds the index from the volumes, and reconciles the
// binlog with it (binlog-reconcile.ts); old versions are freed last, or later if a pinned read
// still uses them (protected first, so a crash before the free leaves them to recovery).
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Disk, nodeDisk } from '../common/disk.ts';
import { mkdirDurable } from '../common/durable-file.ts';
import type {
  BodyFinish,
  CopyDestination,
  CopySource,
  DeleteOptions,
  DroppedBucket,
  ListedObject,
  ListedUpload,
  ListedVersion,
  ListPartsResult,
  NodeStats,
  ObjectRecord,
  PutObjectInput,
  ReadHandle,
  RemoveObjectInput,
  RemoveObjectResult,
  StorageApi,
  UpdateAttributesInput,
  UploadPartCopyInput,
  UploadPartInput,
  VersionSelector,
} from './api.ts';
import { Binlog } from './binlog.ts';
import { CHECKPOINT_KEY, loadCheckpoint } from './binlog-reconcile.ts';
import { md5Tee } from './body.ts';
import { dropBucket } from './bucket-purge.ts';
import { Checkpoints } from './checkpoints.ts';
import { type CompactionSettings, Compactor, type CompactorLog } from './compactor.ts';
import { writeCheckpointFile, writeFileDurable } from './durable-file.ts';
import { OperationEpochs } from './epochs.ts';
import { NodeIndex } from './index-db.ts';
import { guardIndexClosed, guardIndexOpen } from './index-guard.ts';
import {
  boundMarker,
  bucketPrefix,
  decodeObjectKey,
  decodeUploadKey,
  OBJECT_KEY_BYTES_MAX,
  objectKey,
  prefixEnd,
  successor,
  versionKeyPrefix,
} from './keys.ts';
import { type LifecycleLog, type LifecycleSettings, LifecycleWorker } from './lifecycle-worker.ts';
import { KeyedLock } from './locks.ts';
import { MovedRouter } from './moved-router.ts';
import { Multipart } from './multipart.ts';
import { removalRefusal } from './object-lock.ts';
import { ObjectRows } from './object-rows.ts';
import { OpverClock } from './opver-clock.ts';
import { freeBytes, Placement } from './placement.ts';
import { ReadPath, toRecord } from './read-path.ts';
import {
  compareOpver,
  decodeObjectSummary,
  decodeObjectValue,
  encodeCheckpoint,
  isDeleteMarkerValue,
  type ObjectValue,
} from './records.ts';
import { type RecoveryReport, recoverNode } from './recovery.ts';
import { Replica } from './replica.ts';
import type {
  ApplyReplicaInput,
  ApplyResult,
  ApplyUploadInput,
  PartHandle,
  ReplicaApi,
  ReplicaEnd,
  ReplicaKey,
  ReplicaState,
  UploadState,
} from './replica-api.ts';
import { Repairer } from './replica-repair.ts';
import { UploadReplica } from './replica-uploads.ts';
import { type ListVersionsOptions, listVersions } from './version-list.ts';
import type { EntryMoved, VolumeOpener, VolumePort, VolumeSpec, VolumeTuning } from './volume-port.ts';
import { WritePath } from './write-path.ts';

export interface StorageNodeOptions {
  dataDir: string;
  nodeId: number;
  volumes: VolumeSpec[];
  /** How volumes are opened; default: packing's Volume. */
  volumeOpener?: VolumeOpener;
  /** Bodies up to this size are inline entries; larger ones are blobs (singlefiles). */
  smallObjectMaxBytes?: number;
  /** S3's 5 MiB minimum for every part but the last; lowered in tests. */
  minPartBytes?: number;
  /** 'none' skips fsyncs of the index and binlog: tests and benchmarks only. */
  durability?: 'fsync' | 'none';
  /**
   * 'ack' (default, what DESIGN.md requires): an object write is acknowledged only when its volume
   * entry and binlog record are durable AND its index commit is flushed to disk. 'background': the
   * index flushes on its own (it is rebuilt from the volumes after an unclean stop, and a machine
   * crash is detected by index-guard.ts) — faster, for operators who accept a rebuild after a crash.
   */
  indexSync?: 'background' | 'ack';
  binlogMaxFileBytes?: number;
  /** Recorded ops between two checkpoints of volumes, index and binlog (checkpoints.ts); default 20,000. */
  checkpointEveryOps?: number;
  /** Random source for upload and blob ids. */
  random?: (bytes: number) => Buffer;
  /** Where volumes and the node's files live (default: the real disk); the LMDB index is always a real file. */
  disk?: Disk;
  /** Volume engine settings (tests: small chunkfiles). */
  volumeTuning?: VolumeTuning;
  /** Background compaction of sparse chunkfiles (compactor.ts); absent: only on request (tests). */
  compaction?: CompactionSettings & { log?: CompactorLog };
  /**
   * Background lifecycle passes (lifecycle-worker.ts); absent: none. `through`: what its removals go through
   * (a cluster node's MirroringNode, so mirrors get them); default the node itself.
   */
  lifecycle?: LifecycleSettings & {
    log?: LifecycleLog;
    through?: () => Pick<StorageApi, 'deleteObject' | 'removeObject' | 'abortUpload'> | undefined;
  };
  /** How long a removed version's tombstone is kept (replica.ts); default 7 days. */
  tombstoneRetentionMs?: number;
  /** How often expired tombstones are purged; default hourly, 0: never (tests call purgeTombstones). */
  tombstonePurgeIntervalMs?: number;
  /** The node's wall clock, which dates tombstones (default Date.now; tests move it). */
  now?: () => number;
  /**
   * The syncgroup's other live members (a cluster's storage command, from the membership): a version whose
   * bytes fail their checksum is repaired from one of them (replica-repair.ts). Absent: bad bytes are refused.
   */
  mirrors?: () => readonly ReplicaEnd[];
  /** Where repairs are logged. */
  repairLog?: { warn(obj: object, msg: string): void };
}

export { locKey } from './pins.ts';

/** Recorded ops between two node checkpoints (checkpoints.ts): bounds what a reopen after a crash reads. */
const CHECKPOINT_EVERY_OPS = 20_000;
const TOMBSTONE_RETENTION_MS = 7 * 24 * 3600_000;
const TOMBSTONE_PURGE_INTERVAL_MS = 3600_000;

export class StorageNode implements StorageApi, ReplicaApi {
  /** @internal */ readonly clock: OpverClock;
  /** @internal */ readonly rows: ObjectRows;
  /** @internal */ readonly placement: Placement;
  /** @internal */ readonly reads: ReadPath;
  /** @internal */ readonly writes: WritePath;
  /** @internal */ readonly multipart: Multipart;
  /** Rewrites sparse chunkfiles in the background (started by open when `compaction` is set). */
  readonly compactor: Compactor;
  /** Executes the buckets' lifecycle rules in the background (started by open when `lifecycle` is set). */
  readonly lifecycle: LifecycleWorker;
  /** Volume, index and binlog checkpoints, in the background (checkpoints.ts). @internal */
  readonly checkpoints: Checkpoints;
  /** What recovery did at open (logged by the caller). */
  recovery: RecoveryReport | undefined;
  /** @internal */ readonly replica: Replica;
  /** @internal */ readonly uploadReplica: UploadReplica;
  private readonly repairer: Repairer | undefined;
  /** Applies in flight (ids below zero, apart from opver counters): volume checkpoints wait for them. */
  private readonly applying = new Set<bigint>();
  private applyIds = 0n;
  private purgeTimer: NodeJS.Timeout | undefined;

  private constructor(
    /** @internal */ readonly opts: StorageNodeOptions,
    /** @internal */ readonly index: NodeIndex,
    /** @internal */ readonly binlog: Binlog,
    /** @internal */ readonly volumes: Map<string, VolumePort>,
  ) {
    // Reads (pins) and locked writes are the operations compaction waits for before it forgets a move.
    const epochs = new OperationEpochs();
    const locks = new KeyedLock(epochs);
    const random = opts.random ?? randomBytes;
    const smallObjectMaxBytes = opts.smallObjectMaxBytes ?? 1024 * 1024;
    const now = opts.now ?? Date.now;
    this.clock = new OpverClock(opts.nodeId);
    this.rows = new ObjectRows(index);
    this.placement = new Placement(volumes);
    this.reads = new ReadPath({ index, rows: this.rows, placement: this.placement, epochs });
    // What local writes and replicated applies both commit through.
    const commits = {
      index,
      rows: this.rows,
      locks,
      clock: this.clock,
      placement: this.placement,
      reads: this.reads,
      indexSync: opts.indexSync ?? 'ack',
      smallObjectMaxBytes,
      random,
      now,
    } as const;
    this.writes = new WritePath({ ...commits, binlog });
    const track = {
      begin: () => {
        const id = --this.applyIds;
        this.applying.add(id);
        return id;
      },
      end: (id: bigint) => {
        this.applying.delete(id);
        this.checkpoints.recorded(id);
      },
    };
    this.replica = new Replica({
      ...commits,
      track,
      removeUpload: (u, o) => this.uploadReplica.removeLocked(u, o),
    });
    this.uploadReplica = new UploadReplica({
      ...commits,
      pins: this.reads.pins,
      track,
      completedParts: (bucket, key, uploadId) => {
        const body = this.completedVersion(bucket, key, uploadId)?.meta.body;
        return body?.kind === 'multipart' ? new Set(body.parts.map((p) => p.partNumber)) : undefined;
      },
    });
    if (opts.mirrors) {
      const self: ReplicaEnd = {
        replicaStates: (b, k) => this.replicaStates(b, k),
        applyReplica: (i) => this.applyReplica(i),
        scanKeys: (o) => this.scanKeys(o),
        uploadStates: (b, k) => this.uploadStates(b, k),
        applyUpload: (i) => this.applyUpload(i),
        openObject: (b, k, w) => this.reads.open(b, k, w),
        openPart: (b, k, id, n) => this.openPart(b, k, id, n),
      };
      this.repairer = new Repairer({
        self,
        mirrors: opts.mirrors,
        ...(opts.repairLog ? { log: opts.repairLog } : {}),
      });
    }
    this.multipart = new Multipart({
      index,
      binlog,
      locks,
      clock: this.clock,
      placement: this.placement,
      commitObject: (c) => this.writes.commitObject(c),
      completedVersion: (bucket, key, uploadId) => this.completedVersion(bucket, key, uploadId),
      removeUpload: (u, o) => this.uploadReplica.removeLocked(u, o),
      random,
      smallObjectMaxBytes,
      minPartBytes: opts.minPartBytes ?? 5 * 1024 * 1024,
    });
    this.checkpoints = new Checkpoints(
      {
        volumes,
        unrecorded: () => [...this.clock.pendingRecords(), ...this.applying],
        writeIndexCheckpoint: async () => {
          const cp = this.clock.checkpoint(binlog.confirmed);
          await index.write(() => index.meta.put(CHECKPOINT_KEY, encodeCheckpoint(cp)));
          // Also beside the index: a lost index must not send recovery before the removed segments.
          await writeCheckpointFile(opts.dataDir, cp, opts.disk);
          return cp;
        },
        pruneBinlog: (floor) => binlog.prune(floor),
        // A failed checkpoint leaves the previous one in force: recovery reads more, nothing is lost.
        onError: () => undefined,
      },
      opts.checkpointEveryOps ?? CHECKPOINT_EVERY_OPS,
    );
    this.clock.onRecorded = (counter) => this.checkpoints.recorded(counter);
    const { log, ...settings } = opts.compaction ?? { liveRatioBelow: 0, bytesPerSecond: 0, intervalMs: 0 };
    this.compactor = new Compactor(
      {
        volumes: () => this.volumes.entries(),
        indexDurable: async () => {
          await this.rows.settled();
          await this.index.env.flushed;
        },
        ...(log ? { log } : {}),
      },
      settings,
    );
    const {
      log: lifecycleLog,
      through: _through,
      ...lifecycle
    } = opts.lifecycle ?? {
      intervalMs: 0,
      opsPerSecond: 0,
    };
    this.lifecycle = new LifecycleWorker(
      {
        nextBucket: (after) => this.nextBucket(after),
        listObjects: (b, o) => this.listObjects(b, o),
        headObject: (b, k, w) => this.headObject(b, k, w),
        // Object Lock: never a held version, judged again under the key's lock by the delete itself.
        deleteObject: (b, k, o) =>
          (opts.lifecycle?.through?.() ?? this).deleteObject(b, k, {
            ...o,
            lock: { bypassGovernance: false },
            nowMs: (opts.lifecycle?.clock ?? Date.now)(),
          }),
        removeObject: (input) =>
          (opts.lifecycle?.through?.() ?? this).removeObject({ ...input, lock: { bypassGovernance: false } }),
        listObjectVersions: (b, o) => this.listObjectVersions(b, o),
        mayDelete: (_b, record, nowMs) => removalRefusal(record, nowMs, false) === undefined,
        listUploads: (b, o) => this.listUploads(b, o),
        // Through the MirroringNode in a cluster too: the mirrors get the upload's tombstone.
        abortUpload: (b, k, id) => (opts.lifecycle?.through?.() ?? this).abortUpload(b, k, id),
        ...(lifecycleLog ? { log: lifecycleLog } : {}),
      },
      opts.lifecycle ? { ...lifecycle, rulesFor: opts.lifecycle.rulesFor } : undefined,
    );
  }

  /** The version of `key` a multipart completion of `uploadId` produced: the current one, or a noncurrent one. */
  private completedVersion(
    bucket: string,
    key: Buffer,
    uploadId: string,
  ): { meta: ObjectValue; record: ObjectRecord } | undefined {
    const fromUpload = (v: ObjectValue | undefined) =>
      v?.body.kind === 'multipart' && v.body.uploadId === uploadId && !v.deleteMarker;
    const cur = this.reads.current(objectKey(bucket, key));
    if (fromUpload(cur)) return { meta: cur!, record: toRecord(bucket, key, cur!, cur!.opver) };
    const lo = versionKeyPrefix(bucket, key);
    for (const { value } of this.rows.versionRange(lo, prefixEnd(lo), Number.POSITIVE_INFINITY)) {
      const v = decodeObjectValue(value);
      if (fromUpload(v)) return { meta: v, record: toRecord(bucket, key, v, v.opver, false) };
    }
    return undefined;
  }

  /** The next incarnation id after `after` (index order) that holds objects or uploads. */
  nextBucket(after: string | undefined): string | undefined {
    const start = after === undefined ? Buffer.alloc(0) : prefixEnd(bucketPrefix(after));
    if (!start) return undefined;
    let next: string | undefined;
    for (const { key } of this.rows.range(start, undefined, 1)) next = decodeObjectKey(key).bucket;
    for (const { key } of this.index.uploads.getRange({ start, limit: 1, snapshot: false })) {
      const b = decodeUploadKey(key).bucket;
      if (next === undefined || Buffer.compare(bucketPrefix(b), bucketPrefix(next)) < 0) next = b;
    }
    return next;
  }

  static async open(opts: StorageNodeOptions): Promise<StorageNode> {
    const disk = opts.disk ?? nodeDisk;
    await mkdirDurable(disk, opts.dataDir);
    const opener = opts.volumeOpener ?? (await import('./packing-opener.ts')).packingOpener;
    const specs = opts.volumes.map((s) => ({ ...s, volumeId: s.volumeId ?? basename(s.dir) }));
    const listed = await listedVolumes(disk, opts.dataDir);
    await writeNodeFile(disk, opts.dataDir, opts.nodeId, specs);
    const moved = new MovedRouter();
    const volumes = new Map<string, VolumePort>();
    for (const spec of specs) {
      const hooks = {
        durability: opts.durability ?? 'fsync',
        onMoved: (m: EntryMoved) => moved.route(spec.volumeId, m),
        forwardsUnused: () => moved.unused(),
        disk,
        tuning: opts.volumeTuning,
      };
      volumes.set(spec.volumeId, await opener.openOrCreate(spec, opts.nodeId, hooks));
    }
    const sync = indexSyncMode(opts);
    const guard = await guardIndexOpen(opts.dataDir, join(opts.dataDir, 'index'), sync);
    const { index, fresh } = await openIndex(join(opts.dataDir, 'index'), sync);
    const binlog = await Binlog.open({
      dir: join(opts.dataDir, 'binlog'),
      validUpTo: await loadCheckpoint(index, opts.dataDir, disk),
      durability: opts.durability ?? 'fsync',
      maxFileBytes: opts.binlogMaxFileBytes,
      disk,
    });
    const node = new StorageNode(opts, index, binlog, volumes);
    node.recovery = await recoverNode(node, {
      movedBeforeOpen: moved.movedBeforeReady,
      indexFresh: fresh || guard.discarded,
      sameBoot: guard.sameBoot,
      indexFlushed: sync === 'flush',
      replacedVolumes: [...volumes]
        .filter(([id, v]) => listed.has(id) && v.recovery?.mode === 'new')
        .map(([id]) => id),
    });
    moved.deps = {
      index,
      rows: node.rows,
      pins: node.reads.pins,
      placement: node.placement,
      unused: () => node.reads.unusedBefore(),
    };
    node.compactor.start();
    node.lifecycle.start();
    const every = opts.tombstonePurgeIntervalMs ?? TOMBSTONE_PURGE_INTERVAL_MS;
    if (every > 0) {
      node.purgeTimer = setInterval(() => void node.purgeTombstones().catch(() => undefined), every);
      node.purgeTimer.unref();
    }
    return node;
  }

  /** The opver counter (tests). @internal */
  get counter(): bigint {
    return this.clock.counter;
  }

  // ---- objects (read-path.ts, write-path.ts) ----

  putObject(input: PutObjectInput): Promise<ObjectRecord> {
    return this.writes.putObject(input);
  }

  async headObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ObjectRecord | undefined> {
    return this.reads.head(bucket, key, which);
  }

  async openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined> {
    const h = await this.reads.open(bucket, key, which);
    // With mirrors, bad bytes are repaired from one of them while the read goes on (replica-repair.ts).
    return h && this.repairer && !h.record.deleteMarker ? this.repairer.wrap(h, bucket, key) : h;
  }

  /** Versions whose bad bytes were repaired from a mirror since the node started (heartbeats, metrics). */
  get repairs(): number {
    return this.repairer?.repairs ?? 0;
  }

  deleteObject(bucket: string, key: Buffer, opts: DeleteOptions = {}): Promise<boolean> {
    return this.writes.deleteObject(bucket, key, opts);
  }

  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult> {
    return this.writes.removeObject(input);
  }

  updateObjectAttributes(input: UpdateAttributesInput): Promise<ObjectRecord> {
    return this.writes.updateAttributes(input);
  }

  async listObjectVersions(bucket: string, opts: ListVersionsOptions): Promise<ListedVersion[]> {
    return listVersions(this.rows, bucket, opts);
  }

  copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    return this.writes.copyObject(src, dst);
  }

  /** Resolves when the frees that released reads handed back are done (tests; close). @internal */
  deferredFreesDone(): Promise<void> {
    return this.reads.deferredFreesDone();
  }

  async listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    // No key is longer than OBJECT_KEY_BYTES_MAX: a longer prefix matches nothing, a longer marker is cut.
    if (opts.limit <= 0 || opts.prefix.length > OBJECT_KEY_BYTES_MAX) return out;
    const lo = objectKey(bucket, opts.prefix);
    const after = opts.after && boundMarker(opts.after, OBJECT_KEY_BYTES_MAX);
    const afterKey = after ? successor(objectKey(bucket, after)) : undefined;
    const start = afterKey && Buffer.compare(afterKey, lo) > 0 ? afterKey : lo;
    const end = prefixEnd(lo);
    const head = bucketPrefix(bucket).length;
    let from = start;
    // Keys whose current version is a delete marker are not listed: read on past them.
    for (;;) {
      let seen = 0;
      let last: Buffer | undefined;
      const want = opts.limit - out.length;
      for (const { key, value } of this.rows.range(from, end, want)) {
        seen++;
        last = key;
        if (isDeleteMarkerValue(value)) continue;
        const v = decodeObjectSummary(value);
        out.push({
          key: Buffer.from(key.subarray(head)),
          size: v.size,
          etag: v.etag,
          lastModifiedMs: v.lastModifiedMs,
        });
      }
      if (seen < want || out.length >= opts.limit || !last) return out;
      from = successor(last);
    }
  }

  async hasObjects(bucket: string): Promise<boolean> {
    const lo = bucketPrefix(bucket);
    for (const _ of this.rows.range(lo, prefixEnd(lo), 1)) return true;
    return false;
  }

  dropBucket(bucket: string): Promise<DroppedBucket> {
    return dropBucket(this, bucket);
  }

  // ---- replication (replica.ts) ----

  async replicaStates(bucket: string, key: Buffer): Promise<ReplicaState[]> {
    return this.replica.states(bucket, key);
  }
  applyReplica(input: ApplyReplicaInput): Promise<ApplyResult> {
    return this.replica.apply(input);
  }
  async scanKeys(opts: { after?: ReplicaKey; limit: number }): Promise<ReplicaKey[]> {
    return this.replica.scanKeys(opts);
  }
  async uploadStates(bucket: string, key: Buffer): Promise<UploadState[]> {
    return this.uploadReplica.states(bucket, key);
  }
  /** One upload unit's state (the upload or its tombstone, or one part): what a mirrored call changed. */
  async uploadUnit(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber?: number,
  ): Promise<UploadState | undefined> {
    return this.uploadReplica.unit(bucket, key, uploadId, partNumber);
  }
  applyUpload(input: ApplyUploadInput): Promise<ApplyResult> {
    return this.uploadReplica.apply(input);
  }
  openPart(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber: number,
  ): Promise<PartHandle | undefined> {
    return this.uploadReplica.openPart(bucket, key, uploadId, partNumber);
  }
  /** Removes the tombstones (of versions and of uploads) older than the retention; returns how many. */
  purgeTombstones(): Promise<number> {
    return this.replica.purgeExpired(this.opts.tombstoneRetentionMs ?? TOMBSTONE_RETENTION_MS);
  }

  // ---- multipart (multipart.ts) ----

  createUpload(...a: Parameters<Multipart['create']>): Promise<string> {
    return this.multipart.create(...a);
  }
  uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    return this.multipart.uploadPart(input);
  }
  async uploadPartCopy(input: UploadPartCopyInput): Promise<BodyFinish> {
    const h = await this.writes.openSource(input.src);
    try {
      const r = input.src.range;
      const size = r ? r.end - r.start + 1 : h.record.size;
      const tee = md5Tee(h.stream(r));
      const { src: _src, ...rest } = input;
      return await this.multipart.uploadPart({
        ...rest,
        size,
        body: tee.body,
        finish: async () => ({ etag: tee.etag(), checksums: {} }),
      });
    } finally {
      h.release();
    }
  }
  completeUpload(...a: Parameters<Multipart['complete']>): Promise<ObjectRecord> {
    return this.multipart.complete(...a);
  }
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    return this.multipart.abort(bucket, key, uploadId);
  }
  listParts(...a: Parameters<Multipart['listParts']>): Promise<ListPartsResult> {
    return this.multipart.listParts(...a);
  }
  listUploads(...a: Parameters<Multipart['listUploads']>): Promise<ListedUpload[]> {
    return this.multipart.listUploads(...a);
  }
  /** Aborts uploads initiated before `nowMs - maxAgeMs`, freeing their space; returns how many. */
  expireUploads(nowMs: number, maxAgeMs: number): Promise<number> {
    return this.multipart.expire(nowMs, maxAgeMs);
  }

  // ---- node ----

  async stats(): Promise<NodeStats> {
    const volumes = [...this.volumes.values()].map((v) => {
      const s = v.stats();
      const free = freeBytes(v);
      return {
        volumeId: s.volumeId,
        liveBytes: s.liveBytes,
        holeBytes: s.holeBytes,
        diskBytes: s.diskBytes,
        liveEntries: s.liveEntries,
        freeBytes: free,
        full: free <= 0,
      };
    });
    return {
      nodeId: this.opts.nodeId,
      volumes,
      objects: this.index.objects.getCount(),
      uploads: this.index.uploads.getCount(),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.purgeTimer);
    await this.lifecycle.stop();
    await this.compactor.stop();
    await this.checkpoints.close();
    await this.reads.deferredFreesDone();
    await this.rows.settle();
    await this.binlog.close();
    for (const v of this.volumes.values()) await v.close();
    await writeCheckpointFile(
      this.opts.dataDir,
      this.clock.checkpoint(this.binlog.confirmed),
      this.opts.disk,
    );
    await this.index.write(() => this.writes.putCheckpoint());
    await this.index.setClean(true);
    await this.index.syncToDisk();
    await this.index.close();
    await guardIndexClosed(this.opts.dataDir, indexSyncMode(this.opts));
  }
}

/** 'ack' needs every commit flushed; otherwise the OS writes the index back (index-guard.ts). */
function indexSyncMode(opts: StorageNodeOptions): 'flush' | 'os' {
  return opts.indexSync !== 'background' && opts.durability !== 'none' ? 'flush' : 'os';
}

/** A damaged index is thrown away: the volumes hold everything it had. */
async function openIndex(path: string, sync: 'flush' | 'os'): Promise<{ index: NodeIndex; fresh: boolean }> {
  try {
    const index = NodeIndex.open(path, { sync });
    index.readCounter();
    index.wasClean();
    // Unreadable, or of another format: discarded; the fresh index is rebuilt from the volumes (and stamped).
    if (index.formatIsCurrent()) return { index, fresh: false };
    await index.close();
  } catch {
    // unreadable
  }
  await rm(path, { recursive: true, force: true });
  return { index: NodeIndex.open(path, { sync }), fresh: true };
}

/** The volume ids node.json listed at the last open (none when it is missing or unreadable). */
async function listedVolumes(disk: Disk, dataDir: string): Promise<Set<string>> {
  try {
    const kept = JSON.parse((await disk.readFile(join(dataDir, 'node.json'))).toString()) as {
      volumes?: Array<{ volumeId?: unknown }>;
    };
    return new Set((kept.volumes ?? []).map((v) => v.volumeId).filter((id) => typeof id === 'string'));
  } catch {
    return new Set();
  }
}

function writeNodeFile(disk: Disk, dataDir: string, nodeId: number, volumes: VolumeSpec[]): Promise<void> {
  return writeFileDurable(dataDir, 'node.json', JSON.stringify({ nodeId, volumes }, null, 2), disk);
}

export { compareOpver };
