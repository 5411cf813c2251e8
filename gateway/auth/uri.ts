// Canonical URI and query string for SigV4, built from the request target exactly as sent on the wire.
// A WHATWG URL would rewrite '/a/../b' and '%2e%2e' and so change what the client signed (and the key).
import { S3Error } from '../errors.ts';

export interface SplitTarget {
  /** Raw path, starting with '/'. */
  path: string;
  /** Raw query string without '?', '' when absent. */
  query: string;
}

export function splitTarget(rawTarget: string): SplitTarget {
  let target = rawTarget;
  // Absolute-form ('http://host/path?q'), as proxies send it: keep only path and query.
  const scheme = target.startsWith('/') ? null : /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(target);
  if (scheme) target = target.slice(scheme[0].length) || '/';
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  if (!path.startsWith('/')) throw new S3Error('InvalidURI');
  return { path, query: q >= 0 ? target.slice(q + 1) : '' };
}

const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes to raw bytes; a '%' not followed by two hex digits stays literal (S3 keys are bytes). */
export function percentDecode(s: string): Buffer {
  const src = Buffer.from(s, 'utf8');
  if (!src.includes(0x25)) return src;
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as number;
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1] as number);
      const lo = hexValue(src[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[n++] = c;
  }
  return out.subarray(0, n);
}

/** True when a path has only unreserved characters and '/': its SigV4 encoding is itself. */
function isCanonicalAsIs(rawPath: string): boolean {
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (!(isUnreserved(c) || c === 0x2f)) return false;
  }
  return true;
}

/** SigV4 URI encoding of raw bytes: unreserved kept, everything else %XX with upper-case hex. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash = false): string {
  let out = '';
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Canonical form of one query component: decode what the client sent, re-encode the SigV4 way. */
export function canonicalComponent(raw: string): string {
  return uriEncodeBytes(percentDecode(raw));
}

/**
 * Canonical query string: every parameter (except those `omit` names) decoded and re-encoded, sorted by
 * encoded name then encoded value, a parameter without '=' written as 'name='.
 */
export function canonicalQuery(rawQuery: string, omit?: (name: string) => boolean): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq >= 0 ? part.slice(0, eq) : part;
    if (omit?.(percentDecode(rawName).toString('utf8'))) continue;
    pairs.push([canonicalComponent(rawName), eq >= 0 ? canonicalComponent(part.slice(eq + 1)) : '']);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Query parameters decoded as UTF-8 strings (first occurrence wins), for reading X-Amz-* values. */
export function queryParams(rawQuery: string): Map<string, string> {
  const params = new Map<string, string>();
  if (rawQuery === '') return params;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = percentDecode(eq >= 0 ? part.slice(0, eq) : part).toString('utf8');
    const value = eq >= 0 ? percentDecode(part.slice(eq + 1)).toString('utf8') : '';
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

/**
 * The canonical URIs to try, best first. S3 signs the path as the client put it on the wire (the AWS SDKs
 * and botocore encode each key segment once and sign that string), so the raw path comes first. Clients
 * that leave characters such as '!' or '(' unencoded, or use lower-case hex, signed the decoded-and-re-
 * encoded form instead; it is offered second. Both name the same object (the key is the decoded path).
 */
export function canonicalUriCandidates(rawPath: string): string[] {
  if (isCanonicalAsIs(rawPath)) return [rawPath];
  const reencoded = uriEncodeBytes(percentDecode(rawPath), true);
  return reencoded === rawPath ? [rawPath] : [rawPath, reencoded];
}
