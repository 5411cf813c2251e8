// A piscina pool that hashes large uploads off the event loop. Each upload is one task holding a
// MessagePort: the event loop copies chunks into batches and transfers them (microseconds per chunk),
// the worker keeps the MD5/CRC/SHA state and answers with the digests at the end.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HashName } from './hashers.mjs';

export interface HashingPoolOptions {
  /** Worker threads at most; hashing is CPU-bound, so about the core count. */
  maxThreads: number;
  /** Threads kept warm so the first large upload does not pay thread start-up. */
  minThreads: number;
  /** An idle thread above minThreads exits after this long. */
  idleTimeoutMs: number;
  /** Uploads hashed at once by one thread (their chunks interleave). */
  uploadsPerThread: number;
  /** Bytes copied into one transferred batch; fewer, larger messages cost less. */
  batchBytes: number;
  /** Unacknowledged bytes of one upload at which update() starts returning a promise (backpressure). */
  inFlightBytesMax: number;
  /**
   * Unacknowledged bytes of all uploads together: with many uploads at once each gets an equal share (at least
   * two batches), so memory queued for the workers stays bounded however many requests run.
   */
  poolInFlightBytesMax: number;
}

const DEFAULTS: HashingPoolOptions = {
  maxThreads: 2,
  minThreads: 1,
  idleTimeoutMs: 30_000,
  uploadsPerThread: 32,
  batchBytes: 256 * 1024,
  inFlightBytesMax: 8 * 1024 * 1024,
  poolInFlightBytesMax: 16 * 1024 * 1024,
};

/**
 * Batch buffers come back from the worker with its ack and are reused: a 64 MiB upload would otherwise allocate
 * 256 fresh zeroed 256 KiB buffers, and their churn shows up as GC pauses in other requests' latency.
 */
class BatchBuffers {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    readonly batchBytes: number,
    private readonly keepMax: number,
  ) {}

  take(): Uint8Array {
    const reused = this.free.pop();
    // Every byte handed to the worker is written first, so a fresh batch needs no zeroing.
    return reused ? new Uint8Array(reused) : new Uint8Array(Buffer.allocUnsafeSlow(this.batchBytes).buffer);
  }

  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.batchBytes && this.free.length < this.keepMax) this.free.push(buffer);
  }
}

export class HashingPool {
  readonly options: HashingPoolOptions;
  private readonly pool: Piscina;
  private readonly buffers: BatchBuffers;
  /** Uploads being hashed now (their share of poolInFlightBytesMax). */
  private sessions = 0;

  constructor(options: Partial<HashingPoolOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.pool = new Piscina({
      filename: new URL('./hash-worker.mjs', import.meta.url).href,
      minThreads: this.options.minThreads,
      maxThreads: this.options.maxThreads,
      idleTimeout: this.options.idleTimeoutMs,
      concurrentTasksPerWorker: this.options.uploadsPerThread,
      // Tasks wait on port messages, so the worker's event loop must keep running between them.
      atomics: 'disabled',
    });
    // Enough for one upload's bytes in flight; more uploads at once allocate beyond it.
    this.buffers = new BatchBuffers(
      this.options.batchBytes,
      Math.ceil(this.options.inFlightBytesMax / this.options.batchBytes),
    );
  }

  /** Starts hashing one upload with the given hashes. */
  open(names: readonly HashName[]): PooledHashSession {
    const { port1, port2 } = new MessageChannel();
    const result = this.pool.run(
      { port: port2, names: [...names] },
      { transferList: [port2] },
    ) as Promise<Record<string, ArrayBuffer> | null>;
    this.sessions++;
    let open = true;
    return new PooledHashSession(port1, result, names, this.buffers, {
      inFlightMax: () =>
        Math.max(
          2 * this.options.batchBytes,
          Math.min(this.options.inFlightBytesMax, this.options.poolInFlightBytesMax / this.sessions),
        ),
      closed: () => {
        if (open) this.sessions--;
        open = false;
      },
    });
  }

  /** Stops the worker threads; uploads still being hashed fail. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

export function createHashingPool(options: Partial<HashingPoolOptions> = {}): HashingPool {
  return new HashingPool(options);
}

export class PooledHashSession {
  private batch: Uint8Array;
  private batchUsed = 0;
  private inFlight = 0;
  private waiter: (() => void) | undefined;
  private finished = false;

  constructor(
    private readonly port: MessagePort,
    private readonly result: Promise<Record<string, ArrayBuffer> | null>,
    private readonly names: readonly HashName[],
    private readonly buffers: BatchBuffers,
    private readonly share: { inFlightMax(): number; closed(): void },
  ) {
    this.batch = buffers.take();
    port.on('message', (acked: ArrayBuffer | number) => {
      if (typeof acked === 'number') {
        this.inFlight -= acked;
      } else {
        this.inFlight -= acked.byteLength;
        buffers.give(acked);
      }
      if (this.waiter && this.inFlight <= this.share.inFlightMax() / 2) {
        const wake = this.waiter;
        this.waiter = undefined;
        wake();
      }
    });
    // If the worker dies the task rejects: wake a writer waiting on backpressure (digest() then reports the
    // failure) and keep the rejection from being unhandled before digest() is called.
    result.catch(() => {}).finally(() => this.waiter?.());
  }

  /** Queues bytes for hashing; returns a promise when too many bytes are still unhashed. */
  update(data: Uint8Array): void | Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(data.length - offset, this.batch.length - this.batchUsed);
      this.batch.set(data.subarray(offset, offset + n), this.batchUsed);
      this.batchUsed += n;
      offset += n;
      if (this.batchUsed === this.batch.length) this.flush();
    }
    if (this.inFlight > this.share.inFlightMax()) {
      return new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  async digest(): Promise<Map<HashName, Buffer>> {
    this.flush();
    this.finished = true;
    this.share.closed();
    this.buffers.give(this.batch.buffer as ArrayBuffer);
    this.port.postMessage('end');
    try {
      const out = await this.result;
      if (!out) throw new Error('hashing task was aborted');
      return new Map(this.names.map((name) => [name, Buffer.from(out[name] as ArrayBuffer)]));
    } finally {
      this.port.close();
    }
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.share.closed();
    this.buffers.give(this.batch.buffer as ArrayBuffer);
    this.port.postMessage('abort');
    this.port.close();
    this.waiter?.();
  }

  private flush(): void {
    if (this.batchUsed === 0) return;
    const full = this.batch.buffer.byteLength === this.batchUsed;
    // A full batch is handed over (transferred); a partial one is copied out and its memory kept.
    const buf = full ? this.batch.buffer : this.batch.slice(0, this.batchUsed).buffer;
    this.inFlight += this.batchUsed;
    this.port.postMessage(buf, [buf as ArrayBuffer]);
    if (full) this.batch = this.buffers.take();
    this.batchUsed = 0;
  }
}
