// Versioned binary encodings of what the node persists: index values (LMDB) and the caller-owned
// `meta` block of volume entries. Everything in the index is derivable from the volume metas plus
// each entry's key, opver and location, so the index can be rebuilt from the volumes alone.
//
// Every encoding starts with a version byte (FORMAT_V1; object metas and values FORMAT_V2, which adds the
// version fields). Volume metas then hold a kind byte.
import type {
  AclGrantee,
  AclPermission,
  ChecksumAlgorithm,
  Checksums,
  ObjectAcl,
  ObjectRetention,
  ObjectTag,
  Opver,
  StoredHeaders,
} from './api.ts';
import { Reader, Writer } from './codec.ts';
import type { Location } from './volume-port.ts';

export const FORMAT_V1 = 1;
/** Object metas and object index values with the version fields (flags, stamp, tags, lock). */
export const FORMAT_V2 = 2;

/** An entry somewhere on this node: which volume and where in it. */
export interface VolLoc {
  volumeId: string;
  location: Location;
}

/**
 * Where a version's bytes are. `parts` on an inline or blob body: a multipart object replicated from another
 * node as one body (replica.ts), which keeps its parts list so GET ?partNumber=N answers as on the source.
 */
export type ObjectBody =
  | { kind: 'inline'; parts?: PartList }
  | { kind: 'blob'; blobId: Buffer; parts?: PartList }
  | { kind: 'multipart'; uploadId: string; parts: Array<{ partNumber: number; size: number; etag: string }> };

export type PartList = Array<{ partNumber: number; size: number; etag: string }>;

/** Stored in an object entry's meta (key 'O' + objectKey). */
export interface ObjectMeta {
  size: number;
  etag: string;
  lastModifiedMs: number;
  headers: StoredHeaders;
  checksums: Checksums;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  body: ObjectBody;
  /**
   * The version's creation opver: orders the versions of a key and is the version id of a non-null
   * version. Absent only in entries written before versioning existed (their entry opver is it).
   */
  seq?: Opver;
  /** A real version (id from `seq`, entry 'V'); absent: the null version (entry 'O'). */
  versioned?: boolean;
  deleteMarker?: boolean;
  tags?: ObjectTag[];
  retention?: ObjectRetention;
  legalHold?: boolean;
  acl?: ObjectAcl;
}

/** The index value for an object: its meta plus where things are. */
export interface ObjectValue extends ObjectMeta {
  opver: Opver;
  at: VolLoc;
  /** For body.kind 'blob': the singlefile holding the data. */
  blobAt?: VolLoc;
}

/** Stored in an upload marker's meta (key 'U' + uploadId). */
export interface UploadMeta {
  bucket: string;
  key: Buffer;
  headers: StoredHeaders;
  initiatedMs: number;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** x-amz-tagging of CreateMultipartUpload: the completed object's tags. */
  tags?: ObjectTag[];
  /** The completed object's ACL, when CreateMultipartUpload asked for one. */
  acl?: ObjectAcl;
  /** x-amz-object-lock-* of CreateMultipartUpload (format 2 metas only). */
  retention?: ObjectRetention;
  legalHold?: boolean;
}

export interface UploadValue extends UploadMeta {
  uploadId: string;
  opver: Opver;
  at: VolLoc;
}

/** Stored in a part entry's meta (key 'P' + uploadId + partNumber). */
export interface PartMeta {
  size: number;
  etag: string;
  checksums: Checksums;
  lastModifiedMs: number;
  /** Small parts keep their data in the part entry; large ones in a blob singlefile. */
  blobId?: Buffer;
}

export interface PartValue extends PartMeta {
  opver: Opver;
  at: VolLoc;
  blobAt?: VolLoc;
}

const META_OBJECT = 1;
const META_UPLOAD = 2;
const META_PART = 3;
const META_BLOB = 4;
const META_TOMBSTONE = 5;
const META_UPLOAD_REMOVED = 6;

const HEADER_FIELDS = [
  'contentType',
  'cacheControl',
  'contentDisposition',
  'contentEncoding',
  'contentLanguage',
  'expires',
] as const;
const ALGORITHMS: ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

// Headers added after FORMAT_V1 travel in the user-metadata map under names no HTTP header can have (a
// metadata name is a header-name token, which never holds ':'), so older entries read unchanged.
const WEBSITE_REDIRECT = ':website-redirect-location';

function writeHeaders(w: Writer, h: StoredHeaders): void {
  for (const f of HEADER_FIELDS) w.optStr(h[f]);
  w.strMap(
    h.websiteRedirectLocation === undefined
      ? h.userMeta
      : { ...h.userMeta, [WEBSITE_REDIRECT]: h.websiteRedirectLocation },
  );
}
function readHeaders(r: Reader): StoredHeaders {
  const h: StoredHeaders = { userMeta: {} };
  for (const f of HEADER_FIELDS) {
    const v = r.optStr();
    if (v !== undefined) h[f] = v;
  }
  h.userMeta = r.strMap();
  const redirect = h.userMeta[WEBSITE_REDIRECT];
  if (redirect !== undefined) {
    h.websiteRedirectLocation = redirect;
    delete h.userMeta[WEBSITE_REDIRECT];
  }
  return h;
}

function writeChecksums(w: Writer, c: Checksums): void {
  w.strMap(c as Record<string, string>);
}
function readChecksums(r: Reader): Checksums {
  const m = r.strMap();
  const out: Checksums = {};
  for (const a of ALGORITHMS) if (m[a] !== undefined) out[a] = m[a];
  return out;
}

function writeOpver(w: Writer, o: Opver): void {
  w.u64(o.counter).u32(o.nodeId);
}
function readOpver(r: Reader): Opver {
  return { counter: r.u64(), nodeId: r.u32() };
}

const LOC_KINDS = ['chunk', 'single'] as const;
function writeVolLoc(w: Writer, v: VolLoc): void {
  const l = v.location;
  w.str(v.volumeId)
    .u8(l.kind === 'chunk' ? 0 : 1)
    .num(l.fileId)
    .num(l.offset)
    .num(l.allocBytes);
}
function readVolLoc(r: Reader): VolLoc {
  const volumeId = r.str();
  const kind = LOC_KINDS[r.u8()] ?? 'single';
  return { volumeId, location: { kind, fileId: r.num(), offset: r.num(), allocBytes: r.num() } };
}
function writeOptVolLoc(w: Writer, v: VolLoc | undefined): void {
  if (v === undefined) w.u8(0);
  else {
    w.u8(1);
    writeVolLoc(w, v);
  }
}
function readOptVolLoc(r: Reader): VolLoc | undefined {
  return r.u8() === 0 ? undefined : readVolLoc(r);
}

const CHECKSUM_TYPES = [undefined, 'FULL_OBJECT', 'COMPOSITE'] as const;

const F_VERSIONED = 1;
const F_DELETE_MARKER = 2;
const F_LEGAL_HOLD = 4;
const F_RETENTION = 8;
const F_ACL = 16;
const RETENTION_MODES = ['GOVERNANCE', 'COMPLIANCE'] as const;
const ACL_PERMISSIONS: readonly AclPermission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];

/** owner | u32 grants | per grant: u8 kind (0 user, 1 group), id or URI, u8 permission. */
function writeAcl(w: Writer, acl: ObjectAcl): void {
  w.str(acl.owner).u32(acl.grants.length);
  for (const { grantee, permission } of acl.grants) {
    if (grantee.type === 'CanonicalUser') w.u8(0).str(grantee.id);
    else w.u8(1).str(grantee.uri);
    w.u8(ACL_PERMISSIONS.indexOf(permission));
  }
}
function readAcl(r: Reader): ObjectAcl {
  const owner = r.str();
  const n = r.u32();
  const grants: ObjectAcl['grants'] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.u8();
    const value = r.str();
    const grantee: AclGrantee =
      kind === 0 ? { type: 'CanonicalUser', id: value } : { type: 'Group', uri: value };
    grants.push({ grantee, permission: ACL_PERMISSIONS[r.u8()] ?? 'READ' });
  }
  return { owner, grants };
}

/** v2 object meta: flags u8 | seq | the v1 fields | tags | retention (if flagged) | ACL (if flagged). */
function writeObjectMeta(w: Writer, m: ObjectMeta): void {
  if (!m.seq) throw new Error('an object version needs its stamp');
  let flags = 0;
  if (m.versioned) flags |= F_VERSIONED;
  if (m.deleteMarker) flags |= F_DELETE_MARKER;
  if (m.legalHold) flags |= F_LEGAL_HOLD;
  if (m.retention) flags |= F_RETENTION;
  if (m.acl) flags |= F_ACL;
  w.u8(flags);
  writeOpver(w, m.seq);
  writeObjectMetaV1(w, m);
  writeTags(w, m.tags);
  if (m.retention) w.u8(RETENTION_MODES.indexOf(m.retention.mode)).num(m.retention.retainUntilMs);
  if (m.acl) writeAcl(w, m.acl);
}
function readObjectMeta(r: Reader, version: number): ObjectMeta {
  if (version === FORMAT_V1) return readObjectMetaV1(r);
  const flags = r.u8();
  const seq = readOpver(r);
  const m = readObjectMetaV1(r);
  m.seq = seq;
  if (flags & F_VERSIONED) m.versioned = true;
  if (flags & F_DELETE_MARKER) m.deleteMarker = true;
  if (flags & F_LEGAL_HOLD) m.legalHold = true;
  const tags = readTags(r);
  if (tags) m.tags = tags;
  if (flags & F_RETENTION) m.retention = readRetention(r);
  if (flags & F_ACL) m.acl = readAcl(r);
  return m;
}

function writeObjectMetaV1(w: Writer, m: ObjectMeta): void {
  w.num(m.size).str(m.etag).num(m.lastModifiedMs);
  writeHeaders(w, m.headers);
  writeChecksums(w, m.checksums);
  w.u8(CHECKSUM_TYPES.indexOf(m.checksumType));
  const b = m.body;
  // Body tags: 0 inline, 1 blob, 2 multipart, 3 inline with a parts list, 4 blob with a parts list.
  if (b.kind === 'inline') w.u8(b.parts ? 3 : 0);
  else if (b.kind === 'blob') w.u8(b.parts ? 4 : 1).bytes(b.blobId);
  else w.u8(2).str(b.uploadId);
  const parts = b.parts;
  if (parts) writeParts(w, parts);
}

function writeParts(w: Writer, parts: PartList): void {
  w.u32(parts.length);
  for (const p of parts) w.u32(p.partNumber).num(p.size).str(p.etag);
}
function readParts(r: Reader): PartList {
  const parts: PartList = [];
  for (let n = r.u32(); n > 0; n--) parts.push({ partNumber: r.u32(), size: r.num(), etag: r.str() });
  return parts;
}
function readObjectMetaV1(r: Reader): ObjectMeta {
  const size = r.num();
  const etag = r.str();
  const lastModifiedMs = r.num();
  const headers = readHeaders(r);
  const checksums = readChecksums(r);
  const checksumType = CHECKSUM_TYPES[r.u8()];
  const tag = r.u8();
  let body: ObjectBody;
  if (tag === 0) body = { kind: 'inline' };
  else if (tag === 1) body = { kind: 'blob', blobId: r.bytes() };
  else if (tag === 3) body = { kind: 'inline', parts: readParts(r) };
  else if (tag === 4) body = { kind: 'blob', blobId: r.bytes(), parts: readParts(r) };
  else body = { kind: 'multipart', uploadId: r.str(), parts: readParts(r) };
  const m: ObjectMeta = { size, etag, lastModifiedMs, headers, checksums, body };
  if (checksumType) m.checksumType = checksumType;
  return m;
}

/**
 * Format 1: bucket, key, initiated, checksum algorithm, headers (then, in an entry meta or an index value,
 * possibly the trailing tags and ACL of readUploadTags). Format 2 adds what the completed version starts
 * with: flags u8 (legal hold, retention, ACL) | tags | retention if flagged | ACL if flagged.
 */
function writeUploadMeta(w: Writer, m: UploadMeta, version: number): void {
  w.str(m.bucket).bytes(m.key).num(m.initiatedMs).optStr(m.checksumAlgorithm);
  writeHeaders(w, m.headers);
  if (version === FORMAT_V1) return;
  const flags = (m.legalHold ? F_LEGAL_HOLD : 0) | (m.retention ? F_RETENTION : 0) | (m.acl ? F_ACL : 0);
  w.u8(flags);
  writeTags(w, m.tags);
  if (m.retention) w.u8(RETENTION_MODES.indexOf(m.retention.mode)).num(m.retention.retainUntilMs);
  if (m.acl) writeAcl(w, m.acl);
}
function readUploadMeta(r: Reader, version: number): UploadMeta {
  const m: UploadMeta = { bucket: r.str(), key: r.bytes(), initiatedMs: r.num(), headers: { userMeta: {} } };
  const alg = r.optStr();
  if (alg) m.checksumAlgorithm = alg as ChecksumAlgorithm;
  m.headers = readHeaders(r);
  if (version === FORMAT_V1) return m;
  const flags = r.u8();
  const tags = readTags(r);
  if (tags) m.tags = tags;
  if (flags & F_RETENTION) m.retention = readRetention(r);
  if (flags & F_LEGAL_HOLD) m.legalHold = true;
  if (flags & F_ACL) m.acl = readAcl(r);
  return m;
}

function writeTags(w: Writer, tags: ObjectTag[] | undefined): void {
  w.u32(tags?.length ?? 0);
  for (const t of tags ?? []) w.str(t.key).str(t.value);
}
function readTags(r: Reader): ObjectTag[] | undefined {
  const n = r.u32();
  if (n === 0) return undefined;
  const tags: ObjectTag[] = [];
  for (let i = 0; i < n; i++) tags.push({ key: r.str(), value: r.str() });
  return tags;
}
function readRetention(r: Reader): ObjectRetention {
  const mode = RETENTION_MODES[r.u8()] ?? 'GOVERNANCE';
  return { mode, retainUntilMs: r.num() };
}

function writePartMeta(w: Writer, m: PartMeta): void {
  w.num(m.size).str(m.etag).num(m.lastModifiedMs);
  writeChecksums(w, m.checksums);
  if (m.blobId) w.u8(1).bytes(m.blobId);
  else w.u8(0);
}
function readPartMeta(r: Reader): PartMeta {
  const m: PartMeta = { size: r.num(), etag: r.str(), lastModifiedMs: r.num(), checksums: readChecksums(r) };
  if (r.u8() === 1) m.blobId = r.bytes();
  return m;
}

function checkVersion(r: Reader, allowed = FORMAT_V1): number {
  const v = r.u8();
  if (v !== FORMAT_V1 && v !== allowed) throw new Error(`unknown record format version ${v}`);
  return v;
}

// ---- volume entry metas ----

export type EntryMeta =
  | { kind: 'object'; meta: ObjectMeta }
  | { kind: 'upload'; meta: UploadMeta }
  | { kind: 'part'; meta: PartMeta }
  /**
   * A large body; `owner` is the index row that will point at it (objects or parts table, its key):
   * lets recovery check a blob against that one row (older blobs carry none and are kept).
   */
  | { kind: 'blob'; owner?: { table: 'objects' | 'parts'; key: Buffer } }
  /** An object deleted while a read still pinned its entry: outranks that entry in a rebuild. */
  | { kind: 'tombstone' }
  /**
   * A removed (completed, aborted, expired) upload, on its marker's entry key 'U' + upload id: outranks the marker
   * and every part of that upload whatever their opvers (replica-uploads.ts).
   */
  | { kind: 'upload-removed'; bucket: string; key: Buffer };

export function encodeEntryMeta(e: EntryMeta): Buffer {
  const w = new Writer(128).u8(e.kind === 'object' || e.kind === 'upload' ? FORMAT_V2 : FORMAT_V1);
  if (e.kind === 'object') writeObjectMeta(w.u8(META_OBJECT), e.meta);
  else if (e.kind === 'upload') writeUploadMeta(w.u8(META_UPLOAD), e.meta, FORMAT_V2);
  else if (e.kind === 'part') writePartMeta(w.u8(META_PART), e.meta);
  else if (e.kind === 'blob') {
    w.u8(META_BLOB);
    if (e.owner) w.u8(e.owner.table === 'objects' ? 1 : 2).bytes(e.owner.key);
  } else if (e.kind === 'upload-removed') w.u8(META_UPLOAD_REMOVED).str(e.bucket).bytes(e.key);
  else w.u8(META_TOMBSTONE);
  return w.done();
}

export function decodeEntryMeta(buf: Buffer): EntryMeta {
  const r = new Reader(buf);
  const version = checkVersion(r, FORMAT_V2);
  const kind = r.u8();
  if (kind === META_OBJECT) return { kind: 'object', meta: readObjectMeta(r, version) };
  if (kind === META_UPLOAD) {
    const m = readUploadMeta(r, version);
    return { kind: 'upload', meta: version === FORMAT_V1 ? readUploadTags(r, m) : m };
  }
  if (version !== FORMAT_V1) throw new Error(`unknown entry meta version ${version}`);
  if (kind === META_PART) return { kind: 'part', meta: readPartMeta(r) };
  if (kind === META_BLOB) {
    if (r.remaining === 0) return { kind: 'blob' };
    const table = r.u8() === 1 ? 'objects' : 'parts';
    return { kind: 'blob', owner: { table, key: r.bytes() } };
  }
  if (kind === META_TOMBSTONE) return { kind: 'tombstone' };
  if (kind === META_UPLOAD_REMOVED) return { kind: 'upload-removed', bucket: r.str(), key: r.bytes() };
  throw new Error(`unknown entry meta kind ${kind}`);
}

// ---- index values ----

export function encodeObjectValue(v: ObjectValue): Buffer {
  const w = new Writer(192).u8(FORMAT_V2);
  writeObjectMeta(w, v);
  writeOpver(w, v.opver);
  writeVolLoc(w, v.at);
  writeOptVolLoc(w, v.blobAt);
  return w.done();
}
/**
 * The same bytes as encodeObjectValue, from an already encoded object entry meta (whose object
 * fields sit after its version and kind bytes): a PUT encodes its metadata once.
 */
export function objectValueFromEntryMeta(
  entryMeta: Buffer,
  opver: Opver,
  at: VolLoc,
  blobAt?: VolLoc,
): Buffer {
  if (entryMeta[0] !== FORMAT_V2 || entryMeta[1] !== META_OBJECT) throw new Error('not an object entry meta');
  const w = new Writer(entryMeta.length + 64).u8(FORMAT_V2).raw(entryMeta.subarray(2));
  writeOpver(w, opver);
  writeVolLoc(w, at);
  writeOptVolLoc(w, blobAt);
  return w.done();
}

export function decodeObjectValue(buf: Buffer): ObjectValue {
  const r = new Reader(buf);
  checkValueVersion(r);
  const m = readObjectMeta(r, FORMAT_V2);
  const v: ObjectValue = { ...m, opver: readOpver(r), at: readVolLoc(r) };
  const blobAt = readOptVolLoc(r);
  if (blobAt) v.blobAt = blobAt;
  return v;
}

function checkValueVersion(r: Reader): void {
  const v = r.u8();
  if (v !== FORMAT_V2) throw new Error(`unknown object value format version ${v}`);
}

/** An object value's opver and, for a multipart body, its upload id, without decoding the rest. */
export function decodeObjectOpver(buf: Buffer): { opver: Opver; uploadId?: string } {
  const r = new Reader(buf);
  checkValueVersion(r);
  r.skip(1 + 12);
  r.skip(8).skip().skip(8);
  for (let i = 0; i < HEADER_FIELDS.length; i++) if (r.u8() === 1) r.skip();
  for (let maps = 0; maps < 2; maps++) for (let n = r.u32(); n > 0; n--) r.skip().skip();
  r.skip(1);
  const tag = r.u8();
  let uploadId: string | undefined;
  if (tag === 1 || tag === 4) r.skip();
  if (tag === 2) uploadId = r.str();
  if (tag >= 2) for (let n = r.u32(); n > 0; n--) r.skip(12).skip();
  for (let n = r.u32(); n > 0; n--) r.skip().skip();
  if (buf[1]! & F_RETENTION) r.skip(9);
  if (buf[1]! & F_ACL) {
    r.skip();
    for (let n = r.u32(); n > 0; n--) r.skip(1).skip().skip(1);
  }
  const opver = readOpver(r);
  return uploadId === undefined ? { opver } : { opver, uploadId };
}

/** Just what a listing needs (the fields every object value starts with). */
export function decodeObjectSummary(buf: Buffer): {
  size: number;
  etag: string;
  lastModifiedMs: number;
  deleteMarker: boolean;
  versioned: boolean;
  seq: Opver;
} {
  const r = new Reader(buf);
  checkValueVersion(r);
  const flags = r.u8();
  const seq = readOpver(r);
  return {
    size: r.num(),
    etag: r.str(),
    lastModifiedMs: r.num(),
    deleteMarker: (flags & F_DELETE_MARKER) !== 0,
    versioned: (flags & F_VERSIONED) !== 0,
    seq,
  };
}

/** Whether an object value is a delete marker (first byte after the version: the flags). */
export function isDeleteMarkerValue(buf: Buffer): boolean {
  return (buf[1]! & F_DELETE_MARKER) !== 0;
}

export function encodeUploadValue(v: UploadValue): Buffer {
  const w = new Writer(128).u8(FORMAT_V2);
  writeUploadMeta(w, v, FORMAT_V2);
  w.str(v.uploadId);
  writeOpver(w, v.opver);
  writeVolLoc(w, v.at);
  return w.done();
}
export function decodeUploadValue(buf: Buffer): UploadValue {
  const r = new Reader(buf);
  const version = checkVersion(r, FORMAT_V2);
  const m = readUploadMeta(r, version);
  const v: UploadValue = { ...m, uploadId: r.str(), opver: readOpver(r), at: readVolLoc(r) };
  return version === FORMAT_V1 ? readUploadTags(r, v) : v;
}

/**
 * Format 1 uploads written with tags or an ACL carry them after the meta (and after the index value's own
 * fields): the tag count (possibly 0), the tags, then the ACL if anything remains.
 */
function readUploadTags<T extends UploadMeta>(r: Reader, m: T): T {
  if (r.remaining === 0) return m;
  const tags: ObjectTag[] = [];
  for (let n = r.u32(); n > 0; n--) tags.push({ key: r.str(), value: r.str() });
  if (tags.length > 0) m.tags = tags;
  if (r.remaining > 0) m.acl = readAcl(r);
  return m;
}

export function encodePartValue(v: PartValue): Buffer {
  const w = new Writer(128).u8(FORMAT_V1);
  writePartMeta(w, v);
  writeOpver(w, v.opver);
  writeVolLoc(w, v.at);
  writeOptVolLoc(w, v.blobAt);
  return w.done();
}
export function decodePartValue(buf: Buffer): PartValue {
  const r = new Reader(buf);
  checkVersion(r);
  const m = readPartMeta(r);
  const v: PartValue = { ...m, opver: readOpver(r), at: readVolLoc(r) };
  const blobAt = readOptVolLoc(r);
  if (blobAt) v.blobAt = blobAt;
  return v;
}

// ---- replication tombstones (index table `tombstones`, replica.ts) ----

/** A version removed at `opver`: kept so an older replicated write cannot bring it back. */
export interface TombstoneValue {
  opver: Opver;
  /** When this node recorded the removal: the tombstone expires by age. */
  createdMs: number;
  /** Its volume entry (META_TOMBSTONE on the version's entry key), so a rebuild restores it. */
  at?: VolLoc;
}

export function encodeTombstoneValue(v: TombstoneValue): Buffer {
  const w = new Writer(64).u8(FORMAT_V1);
  writeOpver(w, v.opver);
  w.num(v.createdMs);
  writeOptVolLoc(w, v.at);
  return w.done();
}
export function decodeTombstoneValue(buf: Buffer): TombstoneValue {
  const r = new Reader(buf);
  checkVersion(r);
  const v: TombstoneValue = { opver: readOpver(r), createdMs: r.num() };
  const at = readOptVolLoc(r);
  if (at) v.at = at;
  return v;
}

export function compareOpver(a: Opver, b: Opver): number {
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.nodeId - b.nodeId;
}

// ---- deferred deletes and the binlog checkpoint (index rows) ----

/** A delete postponed while a read pins `at`; `tombstone` (if any) is removed after `at`. */
export interface PendingValue {
  at: VolLoc;
  tombstone?: VolLoc;
}

export function encodePendingValue(v: PendingValue): Buffer {
  const w = new Writer(64).u8(FORMAT_V1);
  writeVolLoc(w, v.at);
  writeOptVolLoc(w, v.tombstone);
  return w.done();
}
export function decodePendingValue(buf: Buffer): PendingValue {
  const r = new Reader(buf);
  checkVersion(r);
  const v: PendingValue = { at: readVolLoc(r) };
  const t = readOptVolLoc(r);
  if (t) v.tombstone = t;
  return v;
}

/**
 * Every binlog record before `file`/`offset` is settled, and every op of this node with an opver
 * counter <= `counter` has a durable binlog record: recovery checks only what lies beyond.
 */
export interface BinlogCheckpoint {
  file: number;
  offset: number;
  counter: bigint;
}

export function encodeCheckpoint(c: BinlogCheckpoint): Buffer {
  return new Writer(24).u8(FORMAT_V1).u32(c.file).num(c.offset).u64(c.counter).done();
}
export function decodeCheckpoint(buf: Buffer): BinlogCheckpoint {
  const r = new Reader(buf);
  checkVersion(r);
  return { file: r.u32(), offset: r.num(), counter: r.u64() };
}
