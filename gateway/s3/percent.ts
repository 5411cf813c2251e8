// Percent-decoding of raw request-target pieces and S3's `encoding-type=url` encoding.
// Node hands us the request target as a latin1 string (one char per byte), so decoding works on bytes
// and only then checks that the result is valid UTF-8: S3 keys are UTF-8 bytes, never normalised.

import { S3Error } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Bytes of a raw target piece: `%XX` decoded, other chars taken as bytes (UTF-8 if above 0xFF). */
export function percentDecodeBytes(raw: string, plusIsSpace: boolean): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw new S3Error('InvalidURI');
      out.push(hi * 16 + lo);
      i += 2;
    } else if (c === 0x2b && plusIsSpace) {
      out.push(0x20);
    } else if (c <= 0xff) {
      out.push(c);
    } else {
      // Only reachable when a caller passes an already-decoded JS string; keep its UTF-8 bytes.
      const cp = raw.codePointAt(i)!;
      const bytes = Buffer.from(String.fromCodePoint(cp), 'utf8');
      for (const b of bytes) out.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return Buffer.from(out);
}

/** True when `raw` is plain ASCII with nothing to decode (no `%`, no `+` when it means a space). */
function isPlainAscii(raw: string, plusIsSpace: boolean): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 || c > 0x7f || (c === 0x2b && plusIsSpace)) return false;
  }
  return true;
}

/** Decodes a raw piece to a string; bytes that are not valid UTF-8 are `InvalidURI`, as AWS answers. */
export function percentDecode(raw: string, plusIsSpace: boolean): string {
  // Most keys and parameters are plain ASCII: they decode to themselves.
  if (isPlainAscii(raw, plusIsSpace)) return raw;
  const bytes = percentDecodeBytes(raw, plusIsSpace);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** True when the bytes are valid UTF-8 (lone surrogates in a JS string never survive a round trip). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// AWS encodes listing values like Java's form encoder, except that `/` stays literal (measured: `a b` ->
// `a+b`, `+` -> `%2B`, `한/x` -> `%ED%95%9C/x`). Unreserved: A-Z a-z 0-9 - _ . * /
const KEEP = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*/') {
  KEEP[ch.charCodeAt(0)] = 1;
}
const HEX = '0123456789ABCDEF';

/** `encoding-type=url` form of a key, prefix, delimiter or marker, byte for byte as AWS sends it. */
export function s3UrlEncode(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    if (b < 128 && KEEP[b] === 1) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}
