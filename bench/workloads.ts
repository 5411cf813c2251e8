// The S3 workloads the benchmark drives, each bounded by a count or a time limit, each returning
// one rate. The same functions run against the ceiling and against Quire.
import type { LoadResult, Outcome } from './load.ts';
import { quantile, replyOutcome, runLoad } from './load.ts';
import type { BenchS3Client } from './s3client.ts';

export const BUCKET = 'bench';
export const FILL_BUCKET = 'bench-fill';
export const SMALL_BYTES = 4 << 10;
export const MEDIUM_BYTES = 1 << 20;
export const LARGE_BYTES = 64 << 20;
const STREAM_CHUNK_BYTES = 1 << 20;
const MEDIUM_OBJECTS = 64;

/** One server under test and what has been written to it so far. */
export interface HttpTarget {
  readonly name: string;
  readonly client: BenchS3Client;
  /** Small objects s/0 .. s/(smallWritten-1) exist (the GET workload reads them). */
  smallWritten: number;
  mediumWritten: number;
}

/** Reusable bodies: never changed once made, so they are safe to send from many requests at once. */
export const bodies = {
  small: patterned(SMALL_BYTES, 1),
  medium: patterned(MEDIUM_BYTES, 2),
  streamChunk: patterned(STREAM_CHUNK_BYTES, 3),
};

function patterned(bytes: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let x = seed * 0x9e3779b1;
  for (let i = 0; i < bytes; i += 4) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6b) | 0;
    buf.writeInt32LE(x, i);
  }
  return buf;
}

/** Spreads consecutive numbers over the key space (a bijection on 32 bits), so inserts are not in key order. */
export function spreadKey(prefix: string, i: number): string {
  return prefix + (Math.imul(i, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0');
}

export interface Rate {
  readonly opsPerSec: number;
  /** Decimal MB/s (1e6 bytes) of payload moved. */
  readonly mbPerSec: number;
  readonly result: LoadResult;
}

function rate(result: LoadResult): Rate {
  if (result.errors > 0 && result.ops === 0) throw new Error(`every request failed: ${result.firstError}`);
  return {
    opsPerSec: result.ops / result.seconds,
    mbPerSec: result.units / result.seconds / 1e6,
    result,
  };
}

export async function putSmall(t: HttpTarget, concurrency: number, durationMs: number): Promise<Rate> {
  const base = t.smallWritten;
  const result = await runLoad({
    concurrency,
    durationMs,
    op: async (i) =>
      replyOutcome(await t.client.put(BUCKET, spreadKey('s/', base + i), bodies.small), SMALL_BYTES),
  });
  // Keys are handed out in order and every worker finishes its last one, so [0, base + issued) exist.
  if (result.errors === 0) t.smallWritten = base + result.ops;
  return rate(result);
}

export async function getSmall(t: HttpTarget, concurrency: number, durationMs: number): Promise<Rate> {
  return rate(await runLoad({ concurrency, durationMs, op: (i) => getSmallOp(t, i) }));
}

async function getSmallOp(t: HttpTarget, i: number): Promise<Outcome> {
  if (t.smallWritten === 0) return { ok: false, units: 0, detail: 'no small objects written' };
  const n = Math.imul(i, 7919) >>> 0;
  return replyOutcome(await t.client.get(BUCKET, spreadKey('s/', n % t.smallWritten)), 0);
}

export async function getMedium(t: HttpTarget, concurrency: number, durationMs: number): Promise<Rate> {
  if (t.mediumWritten < MEDIUM_OBJECTS) {
    const made = await runLoad({
      concurrency: 8,
      durationMs: 120_000,
      maxOps: MEDIUM_OBJECTS,
      op: async (i) => replyOutcome(await t.client.put(BUCKET, `m/${i}`, bodies.medium), MEDIUM_BYTES),
    });
    if (made.errors > 0) throw new Error(`writing 1 MiB objects failed: ${made.firstError}`);
    t.mediumWritten = MEDIUM_OBJECTS;
  }
  return rate(
    await runLoad({
      concurrency,
      durationMs,
      op: async (i) => replyOutcome(await t.client.get(BUCKET, `m/${i % MEDIUM_OBJECTS}`), 0),
    }),
  );
}

/** `count` 64 MiB objects streamed from one reusable 1 MiB buffer; keys are reused so disk use stays bounded. */
export async function putLarge(
  t: HttpTarget,
  count: number,
  concurrency: number,
  timeLimitMs: number,
): Promise<Rate> {
  return rate(
    await runLoad({ concurrency, durationMs: timeLimitMs, maxOps: count, op: (i) => putLargeOp(t, i) }),
  );
}

async function putLargeOp(t: HttpTarget, i: number): Promise<Outcome> {
  const reply = await t.client.putRepeated(BUCKET, `L/${i % 8}`, bodies.streamChunk, LARGE_BYTES);
  return replyOutcome(reply, LARGE_BYTES);
}

export interface ListRate {
  readonly keysPerSec: number;
  readonly pagesPerSec: number;
  readonly result: LoadResult;
}

/**
 * ListObjectsV2 pages of 1,000 keys from `concurrency` cursors spread over the fill bucket's key
 * space (each starts after a different 8-hex-digit point and pages on with continuation tokens).
 */
export async function listPages(t: HttpTarget, concurrency: number, durationMs: number): Promise<ListRate> {
  const cursors: Array<string | null> = Array.from({ length: concurrency }, () => null);
  const starts = cursors.map(
    (_c, w) =>
      `fill/${Math.floor((w * 0x1_0000_0000) / concurrency)
        .toString(16)
        .padStart(8, '0')}`,
  );
  let worker = 0;
  const result = await runLoad({
    concurrency,
    durationMs,
    op: async () => {
      const w = worker++ % concurrency;
      const token = cursors[w] ?? undefined;
      const page = await t.client.listPage(FILL_BUCKET, {
        maxKeys: 1000,
        ...(token === undefined ? { startAfter: starts[w]! } : { continuationToken: token }),
      });
      if (page.status !== 200) {
        return { ok: false, units: 0, detail: `HTTP ${page.status} ${page.body.toString('utf8', 0, 300)}` };
      }
      cursors[w] = page.truncated ? page.nextToken : null;
      return { ok: true, units: page.keys };
    },
  });
  if (result.ops === 0) throw new Error(`every list request failed: ${result.firstError}`);
  return { keysPerSec: result.units / result.seconds, pagesPerSec: result.ops / result.seconds, result };
}

export interface LatencyFigures {
  readonly idleP50Ms: number;
  readonly idleP99Ms: number;
  readonly loadedP50Ms: number;
  readonly loadedP99Ms: number;
  /** 64 MiB PUT MB/s achieved meanwhile. */
  readonly largeMbPerSec: number;
}

/** Small-GET latency with nothing else running, then while 64 MiB PUTs stream in. */
export async function getLatencyUnderLargePuts(
  t: HttpTarget,
  getters: number,
  putters: number,
  durationMs: number,
): Promise<LatencyFigures> {
  const probe = () =>
    runLoad({ concurrency: getters, durationMs, recordLatency: true, op: (i) => getSmallOp(t, i) });
  const idle = await probe();
  const [loaded, large] = await Promise.all([
    probe(),
    runLoad({ concurrency: putters, durationMs, op: (i) => putLargeOp(t, i) }),
  ]);
  if (idle.ops === 0 || loaded.ops === 0) throw new Error(`latency probe failed: ${loaded.firstError}`);
  return {
    idleP50Ms: quantile(idle.latenciesMs, 0.5),
    idleP99Ms: quantile(idle.latenciesMs, 0.99),
    loadedP50Ms: quantile(loaded.latenciesMs, 0.5),
    loadedP99Ms: quantile(loaded.latenciesMs, 0.99),
    largeMbPerSec: large.units / large.seconds / 1e6,
  };
}

export interface FillStep {
  /** Objects in the bucket when this step started. */
  readonly level: number;
  readonly putsPerSec: number;
}

/**
 * Fills the fill bucket with 4 KiB objects up to `target` in `steps` equal steps and records the
 * PUT rate of each step. Stops early (returning the steps done) when `timeLimitMs` runs out.
 */
export async function fillCurve(
  t: HttpTarget,
  target: number,
  steps: number,
  concurrency: number,
  timeLimitMs: number,
  onStep?: (s: FillStep) => void,
): Promise<FillStep[]> {
  const stepOps = Math.ceil(target / steps);
  const deadline = performance.now() + timeLimitMs;
  const out: FillStep[] = [];
  for (let level = 0; level < target; level += stepOps) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    const result = await runLoad({
      concurrency,
      durationMs: left,
      maxOps: Math.min(stepOps, target - level),
      op: async (i) =>
        replyOutcome(
          await t.client.put(FILL_BUCKET, spreadKey('fill/', level + i), bodies.small),
          SMALL_BYTES,
        ),
    });
    if (result.errors > 0) throw new Error(`fill failed at ${level}: ${result.firstError}`);
    if (result.ops < Math.min(stepOps, target - level)) break; // out of time: a partial step is no figure
    const step = { level, putsPerSec: result.ops / result.seconds };
    out.push(step);
    onStep?.(step);
  }
  return out;
}
