// Lifecycle rules as Quire holds them, and the one place that decides what a rule does to an object, a
// noncurrent version or an upload, and when. The gateway parses and validates the S3 XML into these rules
// (gateway/s3/lifecycle.ts) and announces expirations (x-amz-expiration); the storage node's worker
// (storage/lifecycle-worker.ts) executes them. Pure: no I/O, no clock (times are passed in).

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface RuleTag {
  key: string;
  value: string;
}

/** What a rule applies to: every given condition must hold (an empty filter matches everything). */
export interface RuleFilter {
  prefix?: string;
  tags?: RuleTag[];
  /** Strictly greater than, in bytes. */
  sizeGreaterThan?: number;
  /** Strictly less than, in bytes. */
  sizeLessThan?: number;
}

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  filter: RuleFilter;
  /** Exactly one of days, dateMs, expiredObjectDeleteMarker. */
  expiration?: { days?: number; dateMs?: number; expiredObjectDeleteMarker?: boolean };
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteUploadDays?: number;
}

/** An object (version) as rules see it. */
export interface RuleSubject {
  key: Buffer;
  size: number;
  tags?: readonly RuleTag[];
}

export function matchesFilter(filter: RuleFilter, o: RuleSubject): boolean {
  if (filter.prefix !== undefined && !startsWith(o.key, filter.prefix)) return false;
  if (filter.sizeGreaterThan !== undefined && !(o.size > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(o.size < filter.sizeLessThan)) return false;
  for (const t of filter.tags ?? []) {
    if (!o.tags?.some((x) => x.key === t.key && x.value === t.value)) return false;
  }
  return true;
}

function startsWith(key: Buffer, prefix: string): boolean {
  const p = Buffer.from(prefix, 'utf8');
  return key.length >= p.length && key.subarray(0, p.length).equals(p);
}

/** AWS adds the days to the start time and rounds up to the next midnight UTC. */
export function afterDays(startMs: number, days: number): number {
  return Math.ceil((startMs + days * DAY_MS) / DAY_MS) * DAY_MS;
}

export interface Expiry {
  atMs: number;
  ruleId: string;
}

/** When the current version `o` (last modified at `lastModifiedMs`) expires, by the earliest enabled rule. */
export function currentExpiry(
  rules: readonly LifecycleRule[],
  o: RuleSubject & { lastModifiedMs: number },
): Expiry | undefined {
  let best: Expiry | undefined;
  for (const r of rules) {
    const e = r.expiration;
    if (!r.enabled || !e || !matchesFilter(r.filter, o)) continue;
    const atMs =
      e.days !== undefined
        ? afterDays(o.lastModifiedMs, e.days)
        : e.dateMs !== undefined
          ? e.dateMs
          : undefined;
    if (atMs !== undefined && (!best || atMs < best.atMs)) best = { atMs, ruleId: r.id };
  }
  return best;
}

/**
 * Whether a noncurrent version expires at `nowMs`: it became noncurrent at `noncurrentSinceMs` and
 * `newerNoncurrent` noncurrent versions of its key are newer than it (NewerNoncurrentVersions keeps that many).
 */
export function noncurrentExpired(
  rules: readonly LifecycleRule[],
  o: RuleSubject & { noncurrentSinceMs: number; newerNoncurrent: number },
  nowMs: number,
): string | undefined {
  for (const r of rules) {
    const n = r.noncurrentExpiration;
    if (!r.enabled || !n || !matchesFilter(r.filter, o)) continue;
    if (n.newerNoncurrentVersions !== undefined && o.newerNoncurrent < n.newerNoncurrentVersions) continue;
    if (afterDays(o.noncurrentSinceMs, n.noncurrentDays) <= nowMs) return r.id;
  }
  return undefined;
}

/** Whether a delete marker with no older versions left is removed (ExpiredObjectDeleteMarker). */
export function expiredMarkerRule(rules: readonly LifecycleRule[], key: Buffer): string | undefined {
  for (const r of rules) {
    if (r.enabled && r.expiration?.expiredObjectDeleteMarker && matchesFilter(r.filter, { key, size: 0 }))
      return r.id;
  }
  return undefined;
}

/** Whether an incomplete multipart upload of `key`, begun at `initiatedMs`, is aborted at `nowMs`. */
export function uploadAbortRule(
  rules: readonly LifecycleRule[],
  key: Buffer,
  initiatedMs: number,
  nowMs: number,
): string | undefined {
  for (const r of rules) {
    const days = r.abortIncompleteUploadDays;
    if (!r.enabled || days === undefined) continue;
    // Uploads have neither tags nor a size yet: only the prefix applies (AWS refuses tags with this action).
    if (r.filter.prefix !== undefined && !startsWith(key, r.filter.prefix)) continue;
    if (afterDays(initiatedMs, days) <= nowMs) return r.id;
  }
  return undefined;
}
