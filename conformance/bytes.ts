// Deterministic test data and the digests the suite compares against.
import { createHash } from 'node:crypto';

/** A small seeded PRNG (xorshift32): tests must be repeatable, so no Math.random(). */
export function makeRandom(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `size` pseudo-random bytes fixed by `seed`. */
export function seededBytes(seed: number, size: number): Buffer {
  const next = makeRandom(seed);
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, size);
}

export function md5hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5b64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

export function sha256hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** S3's multipart ETag: md5 of the concatenated binary part md5s, then `-N`, quoted. */
export function multipartEtag(parts: Uint8Array[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}
