// Hashes one request body with several algorithms at once: inline for small bodies (a worker round trip
// costs more than hashing them), in the hashing pool for large or unknown-length ones.
import { createRawHasher, type HashName } from './hashers.mjs';
import type { HashingPool } from './pool.ts';

/** Below this many bytes a body is hashed on the calling thread. */
export const INLINE_HASH_BYTES_MAX = 256 * 1024;

export interface BodyHasher {
  /** Feeds bytes; a returned promise means "wait before feeding more" (the worker is behind). */
  update(data: Uint8Array): void | Promise<void>;
  /** Finishes and returns every digest (raw big-endian bytes). */
  digest(): Promise<Map<HashName, Buffer>>;
  /** Drops the work (request failed); safe to call more than once. */
  abort(): void;
}

export function openBodyHasher(
  names: readonly HashName[],
  opts: { expectedBytes: number | undefined; pool: HashingPool | undefined },
): BodyHasher {
  const small = opts.expectedBytes !== undefined && opts.expectedBytes < INLINE_HASH_BYTES_MAX;
  if (opts.pool && !small) return opts.pool.open(names);
  return new InlineHasher(names);
}

class InlineHasher implements BodyHasher {
  private readonly hashers: Array<[HashName, ReturnType<typeof createRawHasher>]>;

  constructor(names: readonly HashName[]) {
    this.hashers = names.map((name) => [name, createRawHasher(name)]);
  }

  update(data: Uint8Array): void {
    for (const [, h] of this.hashers) h.update(data);
  }

  async digest(): Promise<Map<HashName, Buffer>> {
    return new Map(this.hashers.map(([name, h]) => [name, h.digest()]));
  }

  abort(): void {}
}
