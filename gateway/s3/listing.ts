// The list algorithm shared by ListObjectsV2, ListObjects (v1) and ListMultipartUploads: prefix,
// delimiter and CommonPrefixes over a source of keys in byte order (Buffer.compare, never JS `<`).

import { S3Error } from '../errors.ts';

export const MAX_KEYS_LIMIT = 1000;

export interface ListEntry<T> {
  key: Buffer;
  value: T;
}

/**
 * Keys that start with `prefix` and sort strictly after `after` (which may be anything, even below
 * the prefix), in byte order, at most `limit` of them. Returning fewer than `limit` means no more exist.
 */
export type ListSource<T> = (
  after: Buffer | undefined,
  prefix: Buffer,
  limit: number,
) => Promise<Array<ListEntry<T>>>;

export interface ListParams {
  prefix: Buffer;
  delimiter?: Buffer;
  /** Resume strictly after this key, or past this common prefix if it is one (a NextMarker/token). */
  startAfter?: Buffer;
  maxKeys: number;
}

export interface ListPage<T> {
  contents: Array<ListEntry<T>>;
  commonPrefixes: Buffer[];
  isTruncated: boolean;
  /** The last key or common prefix returned, when truncated: what NextMarker / the token carries. */
  nextAfter?: Buffer;
}

// Valid UTF-8 never contains 0xFF, so `prefix + 0xFF` sorts after every key under the prefix and
// before every key that does not start with it: one seek instead of reading the whole "folder".
export const PAST = Buffer.from([0xff]);
const PROBE_MIN = 16;

export function commonPrefixOf(
  key: Buffer,
  prefix: Buffer,
  delimiter: Buffer | undefined,
): Buffer | undefined {
  if (delimiter === undefined) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.subarray(0, at + delimiter.length);
}

export function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Where to resume: a marker that is itself a common prefix resumes past everything under it. */
export function initialCursor(p: ListParams, delimiter: Buffer | undefined): Buffer | undefined {
  const after = p.startAfter;
  if (after === undefined || !startsWith(after, p.prefix)) return after;
  const cp = commonPrefixOf(after, p.prefix, delimiter);
  return cp !== undefined && cp.length === after.length ? Buffer.concat([after, PAST]) : after;
}

export async function listPage<T>(source: ListSource<T>, p: ListParams): Promise<ListPage<T>> {
  const maxKeys = Math.max(0, Math.min(p.maxKeys, MAX_KEYS_LIMIT));
  const delimiter = p.delimiter !== undefined && p.delimiter.length > 0 ? p.delimiter : undefined;
  const page: ListPage<T> = { contents: [], commonPrefixes: [], isTruncated: false };
  if (maxKeys === 0) return page;
  let cursor = initialCursor(p, delimiter);
  let lastCp: Buffer | undefined;
  let count = 0;
  let probe = PROBE_MIN;
  for (;;) {
    // One more than still wanted, to learn whether the page is truncated without another call. With a
    // delimiter, ask in small batches that grow while no common prefix appears: a batch that hits one
    // is mostly keys under it, wasted reads (and network bytes from a remote syncgroup).
    const want = Math.min(maxKeys - count + 1, delimiter === undefined ? Number.MAX_SAFE_INTEGER : probe);
    const batch = await source(cursor, p.prefix, want);
    let seeked = false;
    const before = cursor;
    for (const entry of batch) {
      const key = entry.key;
      const stale = cursor !== undefined && key.compare(cursor) <= 0;
      // Defensive: tolerate a source that repeats keys, strays outside the prefix or (with non-UTF-8
      // keys) returns keys under a prefix we already emitted; always move the cursor forward.
      if (stale || !startsWith(key, p.prefix) || (lastCp !== undefined && startsWith(key, lastCp))) {
        if (!stale) cursor = key;
        continue;
      }
      if (count === maxKeys) {
        page.isTruncated = true;
        const last = page.commonPrefixes.at(-1);
        const lastKey = page.contents.at(-1)?.key;
        page.nextAfter =
          last !== undefined && (lastKey === undefined || last.compare(lastKey) > 0) ? last : lastKey;
        return page;
      }
      count++;
      const cp = commonPrefixOf(key, p.prefix, delimiter);
      if (cp !== undefined) {
        page.commonPrefixes.push(Buffer.from(cp));
        lastCp = cp;
        cursor = Buffer.concat([cp, PAST]);
        seeked = true;
        break;
      }
      page.contents.push(entry);
      cursor = key;
    }
    if (!seeked && batch.length < want) return page;
    probe = seeked ? PROBE_MIN : Math.min(probe * 2, MAX_KEYS_LIMIT + 1);
    if (cursor === before) throw new Error('list source returned no key after the cursor');
  }
}

// Continuation tokens: opaque to clients, base64url (no `+`, `/`, `=` to mangle in a query string)
// of a version byte and the last key or common prefix returned.
const TOKEN_VERSION = 1;

export function encodeContinuationToken(after: Buffer): string {
  return Buffer.concat([Buffer.from([TOKEN_VERSION]), after]).toString('base64url');
}

export function decodeContinuationToken(token: string): Buffer {
  const bytes = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
  if (bytes.length < 2 || bytes[0] !== TOKEN_VERSION || bytes.toString('base64url') !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  return bytes.subarray(1);
}

/** max-keys / max-uploads / max-parts: a non-negative integer, capped at 1000 as AWS does. */
export function parseMaxKeys(raw: string | undefined, name = 'max-keys'): number {
  if (raw === undefined) return MAX_KEYS_LIMIT;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2147483647) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: name,
      ArgumentValue: raw,
    });
  }
  return Math.min(Number(raw), MAX_KEYS_LIMIT);
}
