// What replication asks of a storage node (replica.ts implements it on StorageNode; http-client.ts over HTTP).
// The unit of replication is one version of one key: (bucket id, key, version id — `null` or the stamp id).
// Its state on a node is present (an ObjectRecord and its bytes) or removed (a tombstone), at an opver; a node
// applies a state only if its opver is newer than what it holds for that unit (apply-if-newer, idempotent).
import type {
  Checksums,
  ObjectRecord,
  Opver,
  ReadHandle,
  UploadDescription,
  VersionSelector,
} from './api.ts';

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
  /**
   * Sent without bytes by a multipart completion to its mirrors: the upload the version was completed from. A node
   * that holds that upload with every part of `record.parts` (same sizes and ETags) builds the version from them,
   * as the completion did, and removes the upload; otherwise it answers NoSuchUpload, and the bytes are sent.
   */
  fromUpload?: string;
}

export type ApplyResult = 'applied' | 'stale';

export interface ApplyReplicaInput {
  state: ReplicaState;
  /** The version's bytes (exactly record.size) when it has data; never read for a stale state. */
  body?: AsyncIterable<Buffer>;
  /** Apply also when the node holds the same opver (a repair of bad bytes); never an older one. */
  force?: boolean;
}

/**
 * A multipart upload in progress is replicated as units too (replica-uploads.ts): the upload itself (bucket id,
 * key, upload id: what CreateMultipartUpload made of it) and each part (upload id, part number: its meta and
 * bytes), each at the opver of its last change, applied only if newer. An upload removed (completed, aborted,
 * expired) is a tombstone of the upload, which outranks the upload and every part of it whatever their opvers:
 * an upload id is never used again, so nothing may bring it back.
 */
export interface UploadState {
  bucket: string;
  key: Buffer;
  uploadId: string;
  /** Absent: the upload itself; 1..10000: one of its parts. */
  partNumber?: number;
  opver: Opver;
  /** The upload as created (the upload unit). Absent on the upload unit: removed at `opver` (a tombstone). */
  upload?: UploadDescription;
  /** The part (a part unit always has it: parts are removed only with their upload). */
  part?: UploadedPart;
}

export interface UploadedPart {
  size: number;
  etag: string;
  checksums: Checksums;
  lastModifiedMs: number;
}

export interface ApplyUploadInput {
  state: UploadState;
  /** A part's bytes (exactly part.size); never read for a stale state. */
  body?: AsyncIterable<Buffer>;
}

/** An uploaded part's bytes, held until released (replica-ship.ts copies them). */
export interface PartHandle {
  /** The part as it is now (it may be newer than a state listed before). */
  state: UploadState;
  stream(): AsyncIterable<Buffer>;
  release(): void;
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
  /**
   * Every key the node holds anything for (versions, tombstones, uploads in progress, upload tombstones), all
   * buckets, in (bucket, key bytes) order.
   */
  scanKeys(opts: { after?: ReplicaKey; limit: number }): Promise<ReplicaKey[]>;
  /** Every upload in progress of the key (each followed by its parts) and every upload tombstone of the key. */
  uploadStates(bucket: string, key: Buffer): Promise<UploadState[]>;
  /**
   * Under the upload's lock; durable when resolved, like a local write. A part of an upload this node neither
   * holds nor knows removed is refused with NoSuchUpload (its upload comes first, then it is sent again).
   */
  applyUpload(input: ApplyUploadInput): Promise<ApplyResult>;
}

/** One side of a copy (replica-ship.ts): a local StorageNode or a remote node's HTTP client. */
export interface ReplicaEnd extends ReplicaApi {
  openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined>;
  /** A part of an upload in progress, with its bytes; undefined when the node does not hold it (any more). */
  openPart(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber: number,
  ): Promise<PartHandle | undefined>;
}
