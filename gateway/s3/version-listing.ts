// The ListObjectVersions page: the list algorithm of listing.ts (prefix, delimiter, CommonPrefixes, a seek past
// each common prefix) over a source that yields every version of a key, newest first, resuming after a
// (key, version id) marker instead of after a key.
import type { ListedVersion } from '../../storage/api.ts';
import { commonPrefixOf, initialCursor, MAX_KEYS_LIMIT, PAST, startsWith } from './listing.ts';

/** Versions after the cursor (after every version of `afterKey` when no version id), at most `limit`. */
export type VersionSource = (
  cursor: { afterKey?: Buffer; afterVersionId?: string },
  prefix: Buffer,
  limit: number,
) => Promise<ListedVersion[]>;

export interface VersionListParams {
  prefix: Buffer;
  delimiter?: Buffer;
  keyMarker?: Buffer;
  versionIdMarker?: string;
  maxKeys: number;
}

export interface VersionPage {
  versions: ListedVersion[];
  commonPrefixes: Buffer[];
  isTruncated: boolean;
  /** The last version or common prefix returned, when truncated. */
  nextKeyMarker?: Buffer;
  nextVersionIdMarker?: string;
}

const PROBE_MIN = 16;

export async function listVersionsPage(source: VersionSource, p: VersionListParams): Promise<VersionPage> {
  const maxKeys = Math.max(0, Math.min(p.maxKeys, MAX_KEYS_LIMIT));
  const delimiter = p.delimiter !== undefined && p.delimiter.length > 0 ? p.delimiter : undefined;
  const page: VersionPage = { versions: [], commonPrefixes: [], isTruncated: false };
  if (maxKeys === 0) return page;
  let cursor: { afterKey?: Buffer; afterVersionId?: string } = {};
  if (p.keyMarker !== undefined) {
    const at = initialCursor({ prefix: p.prefix, startAfter: p.keyMarker, maxKeys }, delimiter);
    // A marker that is a common prefix resumes past it; otherwise after its version (or all its versions).
    cursor =
      at !== undefined && at.length !== p.keyMarker.length
        ? { afterKey: at }
        : {
            afterKey: p.keyMarker,
            ...(p.versionIdMarker !== undefined ? { afterVersionId: p.versionIdMarker } : {}),
          };
  }
  let lastCp: Buffer | undefined;
  let last: { kind: 'version'; v: ListedVersion } | { kind: 'prefix'; cp: Buffer } | undefined;
  let probe = PROBE_MIN;
  for (;;) {
    const wanted = maxKeys - page.versions.length - page.commonPrefixes.length + 1;
    const want = Math.min(wanted, delimiter === undefined ? Number.MAX_SAFE_INTEGER : probe);
    const batch = await source(cursor, p.prefix, want);
    let seeked = false;
    for (const v of batch) {
      if (!startsWith(v.key, p.prefix) || (lastCp !== undefined && startsWith(v.key, lastCp))) {
        cursor = { afterKey: v.key, afterVersionId: v.versionId }; // defensive: always move forward
        continue;
      }
      if (page.versions.length + page.commonPrefixes.length === maxKeys) {
        page.isTruncated = true;
        if (last?.kind === 'prefix') page.nextKeyMarker = last.cp;
        else if (last) {
          page.nextKeyMarker = last.v.key;
          page.nextVersionIdMarker = last.v.versionId;
        }
        return page;
      }
      const cp = commonPrefixOf(v.key, p.prefix, delimiter);
      if (cp !== undefined) {
        const prefix = Buffer.from(cp);
        page.commonPrefixes.push(prefix);
        last = { kind: 'prefix', cp: prefix };
        lastCp = prefix;
        cursor = { afterKey: Buffer.concat([prefix, PAST]) };
        seeked = true;
        break;
      }
      page.versions.push(v);
      last = { kind: 'version', v };
      cursor = { afterKey: v.key, afterVersionId: v.versionId };
    }
    if (!seeked && batch.length < want) return page;
    probe = seeked ? PROBE_MIN : Math.min(probe * 2, MAX_KEYS_LIMIT + 1);
  }
}
