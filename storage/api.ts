// The storage node's public interface: what the gateway codes against, in-process or over HTTP.
// Keys are raw S3 key bytes (Buffer): they may hold NUL and invalid UTF-8 and are never normalised.
//
// Refinements of the brief (names and meaning kept):
// - `uploadPartCopy` takes the source object and inclusive byte range; it returns the part's ETag
//   (computed here, MD5 of the copied bytes) and no checksums.
// - `listParts` also returns the upload's bucket/key-independent description (`upload`).
// - `stats()` returns one row per volume plus node-wide counters.

export interface StoredHeaders {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
  /** x-amz-website-redirect-location: where the website endpoint sends a reader of this object (301). */
  websiteRedirectLocation?: string;
  userMeta: Record<string, string>;
}

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
export type Checksums = Partial<Record<ChecksumAlgorithm, string>>;

export interface Opver {
  counter: bigint;
  nodeId: number;
}

export interface PartInfo {
  /** As the client numbered it (numbers may skip). */
  partNumber: number;
  size: number;
  etag: string;
}

/** One object tag (S3 tagging); the list keeps the client's order. */
export interface ObjectTag {
  key: string;
  value: string;
}

/** Object Lock retention of one version. */
export interface ObjectRetention {
  mode: 'GOVERNANCE' | 'COMPLIANCE';
  retainUntilMs: number;
}

/**
 * The bucket's versioning state, which travels with every write (storage never sees bucket settings):
 * 'unversioned' (never enabled) and 'suspended' write the `null` version; 'enabled' makes a new version.
 */
export type VersioningMode = 'unversioned' | 'enabled' | 'suspended';

/** The id of the null version (every version of an unversioned bucket, and writes while suspended). */
export const NULL_VERSION = 'null';

export type AclPermission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export type AclGrantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string };
/** A version's access control list: kept with the version, decided on by the gateway's authorization. */
export interface ObjectAcl {
  /** Access key id. */
  owner: string;
  grants: Array<{ grantee: AclGrantee; permission: AclPermission }>;
}

/**
 * The headers of a copy: REPLACE's new ones, else the source's except its website redirect, which belongs to
 * each object and comes only from the copy request (as AWS). One rule for every StorageApi implementation.
 */
export function copyHeaders(dst: CopyDestination, source: StoredHeaders): StoredHeaders {
  if (dst.headers !== undefined) return dst.headers;
  const { websiteRedirectLocation: _source, ...rest } = source;
  return dst.websiteRedirectLocation === undefined
    ? rest
    : { ...rest, websiteRedirectLocation: dst.websiteRedirectLocation };
}

export interface ObjectRecord {
  bucket: string;
  key: Buffer;
  size: number;
  /** Without quotes. */
  etag: string;
  lastModifiedMs: number;
  headers: StoredHeaders;
  /** base64 values. */
  checksums: Checksums;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  /** Present for multipart objects: each part's size (GetObject?partNumber=N needs it) and ETag. */
  parts?: PartInfo[];
  opver: Opver;
  /** Opaque, URL-safe, unique per key; `null` (NULL_VERSION) for the null version. */
  versionId: string;
  /** This version is a delete marker (no data; size 0). */
  deleteMarker?: boolean;
  /** Only present when reading one version: whether it is the key's current version. */
  isLatest?: boolean;
  tags?: ObjectTag[];
  retention?: ObjectRetention;
  legalHold?: boolean;
  /** Absent: the default ACL (the bucket owner's full control). */
  acl?: ObjectAcl;
}

export interface BodyFinish {
  etag: string;
  checksums: Checksums;
}

export interface WriteCondition {
  /** If-None-Match: * — fail with PreconditionFailed when the key exists. */
  ifNoneMatchStar?: boolean;
  /** If-Match: etag — NoSuchKey when absent, PreconditionFailed when the ETag differs. */
  ifMatchEtag?: string;
}

/** DeleteObject's only condition (If-Match, or a DeleteObjects entry's <ETag>). */
export type DeleteCondition = Pick<WriteCondition, 'ifMatchEtag'>;

export interface DeleteOptions {
  /** Checked under the key's lock, atomically with the delete: a concurrent replace cannot slip between. */
  condition?: DeleteCondition;
}

/** DeleteObject with everything versioning adds (removeObject). */
export interface RemoveObjectInput {
  bucket: string;
  key: Buffer;
  /** Removes exactly this version (freeing its space) instead of deleting the current object. */
  versionId?: string;
  /** Without versionId: 'enabled' writes a delete marker, 'suspended' a null delete marker. */
  versioning?: VersioningMode;
  condition?: DeleteCondition;
  nowMs: number;
}

export interface RemoveObjectResult {
  /** Something was removed, or a delete marker written. */
  existed: boolean;
  /** The version removed, or the delete marker written; absent for an unversioned delete. */
  versionId?: string;
  /** The version removed is a delete marker, or one was written. */
  deleteMarker?: boolean;
}

/** What the object a multipart upload completes into starts with (x-amz-tagging on CreateMultipartUpload). */
export interface UploadAttributes {
  tags?: ObjectTag[];
  /** The completed object's ACL (x-amz-acl / x-amz-grant-* of CreateMultipartUpload). */
  acl?: ObjectAcl;
}

/** What `updateObjectAttributes` may replace; absent fields stay as they are. */
export interface AttributeUpdate {
  /** The whole tag set (an empty list removes every tag). */
  tags?: ObjectTag[];
  /** null removes the retention. */
  retention?: ObjectRetention | null;
  legalHold?: boolean;
  /** null: back to the default ACL. */
  acl?: ObjectAcl | null;
}

export interface UpdateAttributesInput {
  bucket: string;
  key: Buffer;
  /** Absent: the current version. */
  versionId?: string;
  update: AttributeUpdate;
  nowMs: number;
}

/** Which version to read; absent: the current one. */
export interface VersionSelector {
  versionId?: string;
}

export interface ListedVersion {
  key: Buffer;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

export interface PutObjectInput {
  bucket: string;
  key: Buffer;
  size: number;
  body: AsyncIterable<Buffer>;
  headers: StoredHeaders;
  nowMs: number;
  /** Called after `body` is fully consumed, before the commit; may throw (bad digest): nothing is stored. */
  finish: () => Promise<BodyFinish>;
  /** Checked atomically with the commit. */
  condition?: WriteCondition;
  /** Default 'unversioned'. */
  versioning?: VersioningMode;
  tags?: ObjectTag[];
  retention?: ObjectRetention;
  legalHold?: boolean;
  acl?: ObjectAcl;
}

export interface ByteRangeInclusive {
  start: number;
  end: number;
}

export interface ReadHandle {
  record: ObjectRecord;
  /** Streams [start, end] inclusive (default: whole object); every byte verified before it is yielded. */
  stream(range?: ByteRangeInclusive): AsyncIterable<Buffer>;
  /** Unpins the version: its space may be freed after this. Idempotent. */
  release(): void;
}

export interface ListedObject {
  key: Buffer;
  size: number;
  etag: string;
  lastModifiedMs: number;
}

export interface UploadPartInput {
  bucket: string;
  key: Buffer;
  uploadId: string;
  partNumber: number;
  size: number;
  body: AsyncIterable<Buffer>;
  finish: () => Promise<BodyFinish>;
  nowMs: number;
}

export interface UploadPartCopyInput {
  bucket: string;
  key: Buffer;
  uploadId: string;
  partNumber: number;
  src: CopySource;
  nowMs: number;
}

export interface ListedPart {
  partNumber: number;
  size: number;
  etag: string;
  lastModifiedMs: number;
  checksums: Checksums;
}

export interface UploadDescription {
  headers: StoredHeaders;
  initiatedMs: number;
  checksumAlgorithm?: ChecksumAlgorithm;
}

export interface ListPartsResult {
  parts: ListedPart[];
  isTruncated: boolean;
  upload: UploadDescription;
}

export interface ListedUpload {
  key: Buffer;
  uploadId: string;
  initiatedMs: number;
}

export interface VolumeRow {
  volumeId: string;
  liveBytes: number;
  holeBytes: number;
  diskBytes: number;
  liveEntries: number;
  /** Bytes a new write may still use (max size minus used minus reserved free space). */
  freeBytes: number;
  full: boolean;
}

export interface NodeStats {
  nodeId: number;
  volumes: VolumeRow[];
  objects: number;
  uploads: number;
}

export interface CopySource {
  bucket: string;
  key: Buffer;
  range?: ByteRangeInclusive;
  /**
   * Copy only the version with this ETag (the one the caller checked its conditions and range against);
   * PreconditionFailed when the current version differs.
   */
  etag?: string;
  /** Copy this version (absent: the current one). */
  versionId?: string;
}

export interface CopyDestination {
  bucket: string;
  key: Buffer;
  /** REPLACE directive: new headers; absent = COPY the source's headers. */
  headers?: StoredHeaders;
  /** COPY directive: the copy's website redirect; the source's is never copied (as AWS). */
  websiteRedirectLocation?: string;
  nowMs: number;
  condition?: WriteCondition;
  versioning?: VersioningMode;
  /** Absent: the source's tags (x-amz-tagging-directive COPY). */
  tags?: ObjectTag[];
  retention?: ObjectRetention;
  legalHold?: boolean;
  /** The copy's ACL (S3 never copies the source's); absent: the default. */
  acl?: ObjectAcl;
}

export interface DroppedBucket {
  objects: number;
  uploads: number;
}

export interface StorageApi {
  putObject(input: PutObjectInput): Promise<ObjectRecord>;
  /**
   * The current version (or the one named); undefined when there is none. A delete marker is returned
   * as a record with `deleteMarker` (the caller answers 404 or 405 as S3 does).
   */
  headObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ObjectRecord | undefined>;
  /**
   * Pins the version: a concurrent replace/delete cannot free its space until release(). A delete
   * marker comes back as a handle with `record.deleteMarker` and nothing to stream.
   */
  openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined>;
  /**
   * Durable when resolved; false if the key was absent. With a condition: NoSuchKey when absent,
   * PreconditionFailed when the ETag differs (`*` matches any), as AWS answers a conditional delete.
   */
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions): Promise<boolean>;
  /** DeleteObject as versioning defines it: a delete marker, a null delete marker, or one version removed. */
  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult>;
  /**
   * Replaces a version's tags, retention or legal hold without changing its data or version id (a new
   * opver, so mirrors order it). NoSuchKey / NoSuchVersion when absent, MethodNotAllowed for a delete marker.
   */
  updateObjectAttributes(input: UpdateAttributesInput): Promise<ObjectRecord>;
  /**
   * Every version and delete marker of keys starting with `prefix`, key ascending then newest first,
   * after (afterKey, afterVersionId) — or after every version of afterKey when no version id is given.
   */
  listObjectVersions(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterVersionId?: string; limit: number },
  ): Promise<ListedVersion[]>;
  /** Server-side, streaming. A range copies only those bytes (the result is a plain object). */
  copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord>;
  /** Keys > `after`, starting with `prefix`, in UTF-8 byte order, at most `limit`; delete markers skipped. */
  listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]>;
  hasObjects(bucket: string): Promise<boolean>;
  /** Removes every object and upload (with its parts) of this bucket id; durable when resolved. */
  dropBucket(bucket: string): Promise<DroppedBucket>;
  createUpload(
    bucket: string,
    key: Buffer,
    headers: StoredHeaders,
    nowMs: number,
    checksumAlgorithm?: ChecksumAlgorithm,
    attributes?: UploadAttributes,
  ): Promise<string>;
  uploadPart(input: UploadPartInput): Promise<BodyFinish>;
  uploadPartCopy(input: UploadPartCopyInput): Promise<BodyFinish>;
  completeUpload(
    bucket: string,
    key: Buffer,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
    nowMs: number,
    versioning?: VersioningMode,
  ): Promise<ObjectRecord>;
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void>;
  listParts(
    bucket: string,
    key: Buffer,
    uploadId: string,
    opts: { afterPart: number; limit: number },
  ): Promise<ListPartsResult>;
  /** Sorted by key (bytes) then upload id; paging with afterKey/afterUploadId like key-marker/upload-id-marker. */
  listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]>;
  stats(): Promise<NodeStats>;
  /** Everything durable, LMDB closed. */
  close(): Promise<void>;
}
