// Canonical URI and query string for SigV4, built from the request target exactly as sent on the wire.
// A WHATWG URL would rewrite '/a/../b' and '%2e%2e' and so change what the client signed (and the key).
// The query is the one the request parser reads (s3/query.ts): decoded once, by one decoder.
import { percentDecodeBytes } from '../s3/percent.ts';
import type { QueryPairs } from '../s3/query.ts';

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

function isPlainUnreserved(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isUnreserved(s.charCodeAt(i))) return false;
  return true;
}

/** One decoded query component in SigV4 form (its UTF-8 bytes, percent-encoded). */
function canonicalComponent(decoded: string): string {
  return isPlainUnreserved(decoded) ? decoded : uriEncodeBytes(Buffer.from(decoded, 'utf8'));
}

/**
 * Canonical query string: every decoded parameter (except those `omit` names) re-encoded the SigV4 way,
 * sorted by encoded name then encoded value, a parameter without a value written as 'name='.
 */
export function canonicalQuery(params: QueryPairs, omit?: (name: string) => boolean): string {
  if (params.length === 0) return '';
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of params) {
    if (omit?.(name)) continue;
    pairs.push([canonicalComponent(name), canonicalComponent(value)]);
  }
  // Encoded components are ASCII: string order is byte order.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * The canonical URIs to try, best first. S3 signs the path as the client put it on the wire (the AWS SDKs
 * and botocore encode each key segment once and sign that string), so the raw path comes first. Clients
 * that leave characters such as '!' or '(' unencoded, or use lower-case hex, signed the decoded-and-re-
 * encoded form instead; it is offered second. Both name the same object: the request parser decodes the
 * path with the same decoder (s3/percent.ts), `+` staying a literal plus in a path.
 */
export function canonicalUriCandidates(rawPath: string): string[] {
  if (isCanonicalAsIs(rawPath)) return [rawPath];
  const reencoded = uriEncodeBytes(percentDecodeBytes(rawPath, false), true);
  return reencoded === rawPath ? [rawPath] : [rawPath, reencoded];
}
