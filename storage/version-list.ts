// ListObjectVersions over the index: the current versions (`objects`) and the noncurrent ones
// (`versions`) merged in S3's order — key ascending, then newest first (the current version, then the
// noncurrent ones, which the versions table already holds newest first). Both tables are range
// scans from the marker; neither is read further than the page needs.
import type { ListedVersion, Opver } from './api.ts';
import {
  boundMarker,
  bucketPrefix,
  decodeVersionKey,
  OBJECT_KEY_BYTES_MAX,
  objectKey,
  parseVersionId,
  prefixEnd,
  successor,
  versionIdOf,
  versionKey,
  versionKeyPrefix,
  versionScanPrefix,
} from './keys.ts';
import type { ObjectRows } from './object-rows.ts';
import { decodeObjectSummary } from './records.ts';

export interface ListVersionsOptions {
  prefix: Buffer;
  afterKey?: Buffer;
  afterVersionId?: string;
  limit: number;
}

export function listVersions(rows: ObjectRows, bucket: string, opts: ListVersionsOptions): ListedVersion[] {
  const out: ListedVersion[] = [];
  if (opts.limit <= 0 || opts.prefix.length > OBJECT_KEY_BYTES_MAX) return out;
  const curLo = objectKey(bucket, opts.prefix);
  const verLo = versionScanPrefix(bucket, opts.prefix);
  let curStart = curLo;
  let verStart = verLo;
  const after = opts.afterKey && boundMarker(opts.afterKey, OBJECT_KEY_BYTES_MAX);
  if (after) {
    // Past the marker key's current version in every case (it comes first among its versions).
    curStart = max(curStart, successor(objectKey(bucket, after)));
    const stamp =
      opts.afterVersionId !== undefined ? markerStamp(rows, bucket, after, opts.afterVersionId) : undefined;
    // After one version: the noncurrent ones older than it; otherwise past every version of the key.
    const v = stamp
      ? successor(versionKey(bucket, after, stamp))
      : prefixEnd(versionKeyPrefix(bucket, after));
    if (v) verStart = max(verStart, v);
  }
  const head = bucketPrefix(bucket).length;
  const cur = rows.range(curStart, prefixEnd(curLo), opts.limit)[Symbol.iterator]();
  const ver = rows.versionRange(verStart, prefixEnd(verLo), opts.limit)[Symbol.iterator]();
  let c = nextCurrent(cur, head);
  let n = nextNoncurrent(ver);
  while (out.length < opts.limit && (c || n)) {
    if (c && (!n || Buffer.compare(c.key, n.key) <= 0)) {
      out.push(c);
      c = nextCurrent(cur, head);
    } else if (n) {
      out.push(n);
      n = nextNoncurrent(ver);
    }
  }
  return out;
}

/** The stamp the version-id-marker stands for; the current version's when it names the current one. */
function markerStamp(rows: ObjectRows, bucket: string, key: Buffer, versionId: string): Opver | undefined {
  const parsed = parseVersionId(versionId);
  if (parsed) return parsed;
  // `null`: wherever the null version is.
  const curRow = rows.get(objectKey(bucket, key));
  if (curRow) {
    const s = decodeObjectSummary(curRow);
    if (!s.versioned) return s.seq;
  }
  const lo = versionKeyPrefix(bucket, key);
  for (const { value } of rows.versionRange(lo, prefixEnd(lo), Infinity)) {
    const s = decodeObjectSummary(value);
    if (!s.versioned) return s.seq;
  }
  return undefined;
}

function nextCurrent(it: Iterator<{ key: Buffer; value: Buffer }>, head: number): ListedVersion | undefined {
  const r = it.next();
  if (r.done) return undefined;
  return listed(Buffer.from(r.value.key.subarray(head)), r.value.value, true);
}

function nextNoncurrent(it: Iterator<{ key: Buffer; value: Buffer }>): ListedVersion | undefined {
  const r = it.next();
  if (r.done) return undefined;
  return listed(decodeVersionKey(r.value.key).key, r.value.value, false);
}

function listed(key: Buffer, row: Buffer, isLatest: boolean): ListedVersion {
  const s = decodeObjectSummary(row);
  return {
    key,
    versionId: s.versioned ? versionIdOf(s.seq) : 'null',
    isLatest,
    deleteMarker: s.deleteMarker,
    size: s.size,
    etag: s.etag,
    lastModifiedMs: s.lastModifiedMs,
  };
}

function max(a: Buffer, b: Buffer): Buffer {
  return Buffer.compare(a, b) >= 0 ? a : b;
}
