// What replication asks of a storage node (replica.ts implements it on StorageNode; http-client.ts over HTTP).
// The unit of replication is one version of one key: (bucket id, key, version id — `null` or the stamp id).
// Its state on a node is present (an ObjectRecord and its bytes) or removed (a tombstone), at an opver; a node
// applies a state only if its opver is newer than what it holds for that unit (apply-if-newer, idempotent).
import type { ObjectRecord, Opver, ReadHandle, VersionSelector } from './api.ts';

export interface ReplicaState {
  bucket: string;
  key: Buffer;
  /** `null` (NULL_VERSION) or the version's stamp id. */
  versionId: string;
  /** The opver of the last change of this version on the node that reports it. */
  opver: Opver;
  /** The version as it is; absent: removed at `opver` (a tombstone). */
  record?: ObjectRecord;
  /**
   * The version's creation stamp, which orders it among the key's versions (the newest is current). A real
   * version's stamp is its id; the null version's is sent here (absent: `opver`).
   */
  seq?: Opver;
}

export type ApplyResult = 'applied' | 'stale';

export interface ApplyReplicaInput {
  state: ReplicaState;
  /** The version's bytes (exactly record.size) when it has data; never read for a stale state. */
  body?: AsyncIterable<Buffer>;
  /** Apply also when the node holds the same opver (a repair of bad bytes); never an older one. */
  force?: boolean;
}

export interface ReplicaKey {
  bucket: string;
  key: Buffer;
}

export interface ReplicaApi {
  /** Every version (current, noncurrent, delete markers) and every tombstone of the key. */
  replicaStates(bucket: string, key: Buffer): Promise<ReplicaState[]>;
  /** Under the key's lock; durable when resolved, like a local write. */
  applyReplica(input: ApplyReplicaInput): Promise<ApplyResult>;
  /** Every key the node holds anything for (versions or tombstones), all buckets, in (bucket, key bytes) order. */
  scanKeys(opts: { after?: ReplicaKey; limit: number }): Promise<ReplicaKey[]>;
}

/** One side of a copy (replica-ship.ts): a local StorageNode or a remote node's HTTP client. */
export interface ReplicaEnd extends ReplicaApi {
  openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined>;
}
