// Conditional requests with AWS's precedence (RFC 9110 §13.2.2): If-Match, else If-Unmodified-Since;
// then If-None-Match, else If-Modified-Since. So If-Match true + If-Unmodified-Since false → 200, and
// If-None-Match false + If-Modified-Since true → 304, as the GetObject reference states.

import type { WriteCondition } from '../../storage/api.ts';
import { S3Error } from '../errors.ts';
import { type Headers, headerValue } from './operation.ts';

export type ConditionOutcome = 'ok' | 'not-modified' | 'precondition-failed';

export interface Validators {
  /** Without quotes. */
  etag: string;
  lastModifiedMs: number;
}

/** Entity tags in an If-Match / If-None-Match list, unquoted; W/ is dropped (S3 has only strong tags). */
export function parseEtagList(value: string): string[] {
  return value
    .split(',')
    .map((t) =>
      t
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((t) => t !== '');
}

function etagMatches(list: string, etag: string): boolean {
  return parseEtagList(list).some((t) => t === '*' || t === etag);
}

/** HTTP dates compare at whole seconds: Last-Modified is sent without milliseconds. Invalid → ignored. */
function parseHttpDateMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

interface ConditionHeaders {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

/** The failing condition's header name for error details, or undefined when all hold. */
function evaluate(
  h: ConditionHeaders,
  v: Validators,
): { outcome: ConditionOutcome; failed?: keyof ConditionHeaders } {
  const modified = seconds(v.lastModifiedMs);
  if (h.ifMatch !== undefined) {
    if (!etagMatches(h.ifMatch, v.etag)) return { outcome: 'precondition-failed', failed: 'ifMatch' };
  } else {
    const since = parseHttpDateMs(h.ifUnmodifiedSince);
    if (since !== undefined && modified > seconds(since)) {
      return { outcome: 'precondition-failed', failed: 'ifUnmodifiedSince' };
    }
  }
  if (h.ifNoneMatch !== undefined) {
    if (etagMatches(h.ifNoneMatch, v.etag)) return { outcome: 'not-modified', failed: 'ifNoneMatch' };
  } else {
    const since = parseHttpDateMs(h.ifModifiedSince);
    if (since !== undefined && modified <= seconds(since)) {
      return { outcome: 'not-modified', failed: 'ifModifiedSince' };
    }
  }
  return { outcome: 'ok' };
}

/** GET/HEAD: 'not-modified' → 304 with ETag and Last-Modified; 'precondition-failed' → 412. */
export function evaluateReadConditions(headers: Headers, v: Validators): ConditionOutcome {
  return evaluate(
    {
      ifMatch: headerValue(headers, 'if-match'),
      ifNoneMatch: headerValue(headers, 'if-none-match'),
      ifModifiedSince: headerValue(headers, 'if-modified-since'),
      ifUnmodifiedSince: headerValue(headers, 'if-unmodified-since'),
    },
    v,
  ).outcome;
}

const COPY_NAMES = {
  ifMatch: 'x-amz-copy-source-If-Match',
  ifNoneMatch: 'x-amz-copy-source-If-None-Match',
  ifModifiedSince: 'x-amz-copy-source-If-Modified-Since',
  ifUnmodifiedSince: 'x-amz-copy-source-If-Unmodified-Since',
} as const;

/** The x-amz-copy-source-if-* failure as AWS reports it (412 PreconditionFailed naming the header). */
export function copySourceConditionError(headers: Headers, v: Validators): S3Error | undefined {
  const { outcome, failed } = evaluate(
    {
      ifMatch: headerValue(headers, 'x-amz-copy-source-if-match'),
      ifNoneMatch: headerValue(headers, 'x-amz-copy-source-if-none-match'),
      ifModifiedSince: headerValue(headers, 'x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: headerValue(headers, 'x-amz-copy-source-if-unmodified-since'),
    },
    v,
  );
  if (outcome === 'ok' || failed === undefined) return undefined;
  return new S3Error('PreconditionFailed', undefined, { Condition: COPY_NAMES[failed] });
}

/** CopyObject / UploadPartCopy: a copy never answers 304; every failed condition is 412. */
export function evaluateCopySourceConditions(headers: Headers, v: Validators): ConditionOutcome {
  return copySourceConditionError(headers, v) === undefined ? 'ok' : 'precondition-failed';
}

/**
 * PUT / CompleteMultipartUpload / CopyObject destination conditions. Only `If-None-Match: *` exists
 * for writes; any other If-None-Match value is NotImplemented. The check itself must run atomically
 * with the commit (storage does it); `checkWriteCondition` is the rule it applies.
 */
export function parseWriteCondition(headers: Headers): WriteCondition | undefined {
  const ifNoneMatch = headerValue(headers, 'if-none-match');
  const ifMatch = headerValue(headers, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  const condition: WriteCondition = {};
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      throw new S3Error('NotImplemented', undefined, { Header: 'If-None-Match' });
    }
    condition.ifNoneMatchStar = true;
  }
  if (ifMatch !== undefined) {
    const [etag] = parseEtagList(ifMatch);
    condition.ifMatchEtag = etag ?? '';
  }
  return condition;
}

/** Throws as AWS does: existing key + If-None-Match:* → 412; If-Match on a missing key → 404 NoSuchKey. */
export function checkWriteCondition(
  condition: WriteCondition | undefined,
  existing: { etag: string } | undefined,
  key: string,
): void {
  if (condition === undefined) return;
  if (condition.ifNoneMatchStar && existing !== undefined) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  }
  if (condition.ifMatchEtag !== undefined) {
    if (existing === undefined) throw new S3Error('NoSuchKey', undefined, { Key: key });
    if (condition.ifMatchEtag !== '*' && condition.ifMatchEtag !== existing.etag) {
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }
}
