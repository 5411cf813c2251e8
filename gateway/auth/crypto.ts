// The SigV4 primitives: HMAC chain, signing-key derivation (cached), constant-time comparison.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** One-shot SHA-256 (crypto.hash: no Hash object per call; strings are hashed as UTF-8). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** HMAC-SHA256 as lower-case hex, digested straight to a string (no intermediate Buffer). */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

// The key depends only on (secret, date, region, service) and takes four HMACs to derive, so keep it.
// Bounded: entries are evicted oldest first (Map iteration order is insertion order).
const SIGNING_KEY_CACHE_MAX = 1024;
const signingKeys = new Map<string, Buffer>();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\n${region}\n${service}\n${secret}`;
  const hit = signingKeys.get(cacheKey);
  if (hit) return hit;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  if (signingKeys.size >= SIGNING_KEY_CACHE_MAX) {
    const oldest = signingKeys.keys().next().value;
    if (oldest !== undefined) signingKeys.delete(oldest);
  }
  signingKeys.set(cacheKey, key);
  return key;
}

/** Constant-time equality of a computed hex signature and the one the client sent. */
export function signaturesEqual(computedHex: string, givenHex: string): boolean {
  const a = Buffer.from(computedHex, 'utf8');
  const b = Buffer.from(givenHex, 'utf8');
  // Lengths are not secret (always 64 for a well-formed signature); compare in constant time otherwise.
  return a.length === b.length && timingSafeEqual(a, b);
}
