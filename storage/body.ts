// Request-body helpers: exact-length checks and the MD5 a server-side copy needs.
import { createHash, type Hash } from 'node:crypto';
import { IncompleteBodyError } from './errors.ts';

/** The whole body as one Buffer (small objects only); exactly `size` bytes or IncompleteBody. */
export async function collectBody(body: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > size) throw new IncompleteBodyError(`body longer than ${size} bytes`);
    chunks.push(c);
  }
  if (n !== size) throw new IncompleteBodyError(`expected ${size} bytes, got ${n}`);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
}

/** Passes chunks through, failing with IncompleteBody if the total is not exactly `size`. */
export async function* exactly(
  body: AsyncIterable<Buffer>,
  size: number,
  hash?: Hash,
): AsyncIterable<Buffer> {
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > size) throw new IncompleteBodyError(`body longer than ${size} bytes`);
    hash?.update(c);
    yield c;
  }
  if (n !== size) throw new IncompleteBodyError(`expected ${size} bytes, got ${n}`);
}

/** A body wrapper that MD5s what flows through, for server-side copies (ETag = MD5 of the bytes). */
export function md5Tee(body: AsyncIterable<Buffer>): { body: AsyncIterable<Buffer>; etag: () => string } {
  const hash = createHash('md5');
  let digest: string | undefined;
  async function* pass() {
    for await (const c of body) {
      hash.update(c);
      yield c;
    }
  }
  return { body: pass(), etag: () => (digest ??= hash.digest('hex')) };
}

export function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}
