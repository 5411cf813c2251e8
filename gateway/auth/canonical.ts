// The canonical request and string to sign of SigV4 (AWS "Signature Calculations for the Authorization
// Header"): method, URI, query, signed headers with their values, the signed-header list, payload hash.
import { ALGORITHM, hmacHex, sha256Hex } from './crypto.ts';

export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * A header's canonical value: duplicates joined with ',', trimmed, inner runs of spaces (and tabs) collapsed.
 * Only ASCII blanks: a UTF-8 value reaches us as latin1 chars, and its 0xA0 bytes (inside '報', say) are not
 * spaces; JS's \s would count them and break the signature of every value holding one.
 */
export function canonicalHeaderValue(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const joined = Array.isArray(value) ? value.map(trimBlanks).join(',') : value;
  return trimBlanks(joined).replace(/[ \t]+/g, ' ');
}

function trimBlanks(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

export interface CanonicalParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** Lower-case names in the order the client listed them in SignedHeaders. */
  signedHeaders: readonly string[];
  headers: HeaderMap;
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalParts): string {
  let headerLines = '';
  for (const name of p.signedHeaders) headerLines += `${name}:${canonicalHeaderValue(p.headers[name])}\n`;
  return `${p.method}\n${p.canonicalUri}\n${p.canonicalQuery}\n${headerLines}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

export function signatureHex(signingKey: Buffer, toSign: string): string {
  return hmacHex(signingKey, toSign);
}
