// Object headers in (PUT, CreateMultipartUpload, CopyObject REPLACE) and out (GET, HEAD).
// Header values are kept exactly as Node received them (latin1, one char per byte), so whatever bytes
// a client sent in x-amz-meta-* go back out unchanged; we do no RFC 2047 decoding.

import type { ObjectRecord, StoredHeaders } from '../../storage/api.ts';
import { S3Error } from '../errors.ts';
import { type Headers, headerValue } from './operation.ts';
import { validateUserMetadata } from './validate.ts';

const META_PREFIX = 'x-amz-meta-';
/** AWS's Content-Type for objects stored without one. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

const STANDARD: Array<[keyof Omit<StoredHeaders, 'userMeta'>, string]> = [
  ['contentType', 'content-type'],
  ['cacheControl', 'cache-control'],
  ['contentDisposition', 'content-disposition'],
  ['contentEncoding', 'content-encoding'],
  ['contentLanguage', 'content-language'],
  ['expires', 'expires'],
];

/** Collects the headers S3 stores with an object; throws MetadataTooLarge past 2 KiB of user metadata. */
export function storedHeadersFromRequest(headers: Headers): StoredHeaders {
  const stored: StoredHeaders = { userMeta: {} };
  for (const [field, name] of STANDARD) {
    const value = headerValue(headers, name);
    if (value !== undefined) stored[field] = value;
  }
  // `aws-chunked` describes how this request's body was framed, not the object: S3 does not store it.
  if (stored.contentEncoding !== undefined) {
    const kept = stored.contentEncoding
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked');
    if (kept.length === 0) delete stored.contentEncoding;
    else stored.contentEncoding = kept.join(',');
  }
  for (const [rawName, raw] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!name.startsWith(META_PREFIX) || raw === undefined) continue;
    const metaName = name.slice(META_PREFIX.length);
    if (metaName === '') continue;
    // Repeated headers are joined with ',' as HTTP allows (Node joins unknown ones with ', ').
    stored.userMeta[metaName] = Array.isArray(raw) ? raw.join(',') : raw;
  }
  validateUserMetadata(stored.userMeta);
  const redirect = websiteRedirectFromRequest(headers);
  if (redirect !== undefined) stored.websiteRedirectLocation = redirect;
  return stored;
}

/** x-amz-website-redirect-location, validated; undefined when the request has none. */
export function websiteRedirectFromRequest(headers: Headers): string | undefined {
  const value = headerValue(headers, WEBSITE_REDIRECT_HEADER);
  return value === undefined ? undefined : validateWebsiteRedirect(value);
}

export const WEBSITE_REDIRECT_HEADER = 'x-amz-website-redirect-location';

/** As AWS: a path in the same bucket (`/...`) or an absolute http(s) URL, at most 2 KiB. */
function validateWebsiteRedirect(value: string): string {
  if (!/^(\/|https?:\/\/)/.test(value)) {
    throw new S3Error(
      'InvalidArgument',
      "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
      { ArgumentName: WEBSITE_REDIRECT_HEADER, ArgumentValue: value.slice(0, 256) },
    );
  }
  if (Buffer.byteLength(value, 'latin1') > 2048) {
    throw new S3Error(
      'InvalidArgument',
      'The length of website redirect location cannot exceed 2,048 characters.',
      {
        ArgumentName: WEBSITE_REDIRECT_HEADER,
      },
    );
  }
  return value;
}

/** The range being answered, as the read handler selected it (Range header or partNumber). */
export interface ResponseRange {
  start: number;
  end: number;
  partial: boolean;
  partsCount?: number;
}

export interface ResponseOptions {
  /** `response-*` overrides from responseOverrides(): header names and wire values. */
  overrides?: ResponseOverrides;
  /** `x-amz-checksum-mode: ENABLED` was sent. */
  checksumMode?: boolean;
  range?: ResponseRange;
}

/** (header name, value as Node sends it: one latin1 char per byte of the UTF-8 text). */
export type ResponseOverrides = ReadonlyArray<readonly [name: string, wireValue: string]>;

const OVERRIDES: Array<[string, string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

// HTTP dates have one-second resolution and objects read together were often written together: remember the
// last second formatted.
let lastDateSecond = Number.NaN;
let lastDateText = '';

/** The IMF-fixdate form of a time (`Sun, 06 Nov 1994 08:49:37 GMT`), as Last-Modified carries it. */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastDateSecond) {
    lastDateText = new Date(second * 1000).toUTCString();
    lastDateSecond = second;
  }
  return lastDateText;
}

/** Response headers for GET/HEAD (lower-case names); the caller sets the status (200/206). */
export function objectResponseHeaders(
  record: ObjectRecord,
  opts: ResponseOptions = {},
): Record<string, string> {
  const h = record.headers;
  const out: Record<string, string> = {
    'last-modified': httpDate(record.lastModifiedMs),
    etag: `"${record.etag}"`,
    'accept-ranges': 'bytes',
    'content-type': h.contentType ?? DEFAULT_CONTENT_TYPE,
  };
  for (const [field, name] of STANDARD) {
    const value = h[field];
    if (value !== undefined && field !== 'contentType') out[name] = value;
  }
  for (const [name, value] of Object.entries(h.userMeta)) out[`${META_PREFIX}${name}`] = value;
  if (h.websiteRedirectLocation !== undefined) out[WEBSITE_REDIRECT_HEADER] = h.websiteRedirectLocation;
  const range = opts.range;
  const length = range === undefined ? record.size : Math.max(0, range.end - range.start + 1);
  out['content-length'] = String(length);
  if (range?.partial) out['content-range'] = `bytes ${range.start}-${range.end}/${record.size}`;
  if (range?.partsCount !== undefined && record.parts !== undefined) {
    out['x-amz-mp-parts-count'] = String(range.partsCount);
  }
  // A checksum describes the whole object; AWS sends none with a partial answer.
  if (opts.checksumMode && !range?.partial) Object.assign(out, checksumHeaders(record));
  for (const [name, value] of opts.overrides ?? []) out[name] = value;
  return out;
}

// What a header value may hold on the wire: TAB, visible ASCII, space and bytes 0x80-0xFF (UTF-8 text).
const HEADER_VALUE_BYTES = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A decoded (UTF-8) text as Node sends a header value: its UTF-8 bytes as latin1 chars; undefined if it cannot be one. */
export function headerWireValue(text: string): string | undefined {
  const wire = Buffer.from(text, 'utf8').toString('latin1');
  return HEADER_VALUE_BYTES.test(wire) ? wire : undefined;
}

/**
 * The `response-*` overrides of a GET or HEAD (every request of ours is signed, so all are allowed), checked
 * before anything is read. A value goes out byte for byte as its UTF-8 text (Node writes header strings as
 * latin1, one char per byte); one that cannot be a header value (CR, LF, other controls) is InvalidArgument.
 */
export function responseOverrides(query: ReadonlyMap<string, string>): ResponseOverrides {
  const out: Array<readonly [string, string]> = [];
  for (const [param, name] of OVERRIDES) {
    const value = query.get(param);
    if (value === undefined) continue;
    const wire = headerWireValue(value);
    if (wire === undefined) {
      throw new S3Error('InvalidArgument', `The value of ${param} cannot be sent as an HTTP header value.`, {
        ArgumentName: param,
        ArgumentValue: value.slice(0, 256),
      });
    }
    out.push([name, wire]);
  }
  return out;
}

function checksumHeaders(record: ObjectRecord): Record<string, string> {
  const out: Record<string, string> = {};
  const composite = record.checksumType === 'COMPOSITE' && record.parts !== undefined;
  for (const [algo, value] of Object.entries(record.checksums)) {
    if (value === undefined) continue;
    // A composite (checksum of checksums) value is sent with its part count, as AWS does.
    out[`x-amz-checksum-${algo.toLowerCase()}`] =
      composite && !/-\d+$/.test(value) ? `${value}-${record.parts!.length}` : value;
  }
  if (Object.keys(out).length > 0 && record.checksumType !== undefined) {
    out['x-amz-checksum-type'] = record.checksumType;
  }
  return out;
}
