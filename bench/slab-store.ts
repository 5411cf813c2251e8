// The ceiling's in-memory object store. Bodies are copied into a few 64 MiB slabs and the map holds
// only numbers: hundreds of thousands of separate Buffers would each carry an external backing
// store, and V8's full GCs over them (triggered by the large bodies streaming through) showed up
// as ~100 ms pauses in the ceiling's own latency figures. Replaced or deleted bodies are not
// reclaimed: the ceiling lives for one benchmark run.

const SLAB_BYTES = 64 << 20;

export class SlabStore {
  readonly #slabs: Buffer[] = [];
  #used = SLAB_BYTES;
  /** key -> entry number; entry n is (slab, offset, length) at 3n .. 3n+2. */
  readonly #index = new Map<string, number>();
  #entries = new Int32Array(3 * 1024);
  #count = 0;
  /** Objects larger than a slab are only counted: GET answers them with zeros of the same size. */
  readonly #largeBytes = new Map<string, number>();

  /** Stores a copy of `chunks` (together `bytes` long) under `key`. */
  set(key: string, chunks: readonly Buffer[], bytes: number): void {
    this.delete(key);
    if (bytes > SLAB_BYTES / 4) {
      this.#largeBytes.set(key, bytes);
      return;
    }
    if (this.#used + bytes > SLAB_BYTES) {
      this.#slabs.push(Buffer.allocUnsafe(SLAB_BYTES));
      this.#used = 0;
    }
    const slab = this.#slabs.length - 1;
    const target = this.#slabs[slab]!;
    let at = this.#used;
    for (const c of chunks) at += c.copy(target, at);
    this.#record(key, slab, this.#used, bytes);
    this.#used += bytes;
  }

  /** Records the size only (the body was not kept). */
  setSizeOnly(key: string, bytes: number): void {
    this.delete(key);
    this.#largeBytes.set(key, bytes);
  }

  /** A view of the stored body, or its size if only the size was kept, or undefined. */
  get(key: string): Buffer | number | undefined {
    const n = this.#index.get(key);
    if (n === undefined) return this.#largeBytes.get(key);
    const e = this.#entries;
    return this.#slabs[e[3 * n]!]!.subarray(e[3 * n + 1]!, e[3 * n + 1]! + e[3 * n + 2]!);
  }

  delete(key: string): void {
    this.#index.delete(key);
    this.#largeBytes.delete(key);
  }

  #record(key: string, slab: number, offset: number, bytes: number): void {
    if (3 * (this.#count + 1) > this.#entries.length) {
      const grown = new Int32Array(this.#entries.length * 2);
      grown.set(this.#entries);
      this.#entries = grown;
    }
    const n = this.#count++;
    this.#entries[3 * n] = slab;
    this.#entries[3 * n + 1] = offset;
    this.#entries[3 * n + 2] = bytes;
    this.#index.set(key, n);
  }
}
