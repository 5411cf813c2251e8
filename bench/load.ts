// Closed-loop load: N workers, each running one operation at a time until a count or a time
// limit is reached. Every workload in the benchmark goes through here, so every loop is bounded.
import type { Reply } from './s3client.ts';

export interface Outcome {
  readonly ok: boolean;
  /** What the workload counts besides operations: bytes moved, keys listed. */
  readonly units: number;
  /** A short description of a failure (status and the start of the error body). */
  readonly detail?: string;
}

export interface LoadOptions {
  readonly concurrency: number;
  readonly durationMs: number;
  /** Stop after this many operations even if time is left. */
  readonly maxOps?: number;
  readonly recordLatency?: boolean;
  /** Called with a fresh operation number (0, 1, 2, ...) for each operation. */
  readonly op: (i: number) => Promise<Outcome>;
}

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly units: number;
  readonly seconds: number;
  readonly firstError: string | null;
  /** Per successful operation, in ms; empty unless recordLatency. */
  readonly latenciesMs: readonly number[];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const maxOps = opts.maxOps ?? Number.MAX_SAFE_INTEGER;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  const latencies: number[] = [];
  let next = 0;
  let ops = 0;
  let errors = 0;
  let units = 0;
  let firstError: string | null = null;
  const worker = async (): Promise<void> => {
    while (next < maxOps && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      let outcome: Outcome;
      try {
        outcome = await opts.op(i);
      } catch (err) {
        outcome = { ok: false, units: 0, detail: (err as Error).message };
      }
      if (outcome.ok) {
        ops++;
        units += outcome.units;
        if (opts.recordLatency) latencies.push(performance.now() - t0);
      } else {
        errors++;
        firstError ??= outcome.detail ?? 'failed';
        // A target that fails everything should not spin for the whole duration.
        if (errors > 1000 && errors > ops) break;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return {
    ops,
    errors,
    units,
    seconds: (performance.now() - start) / 1000,
    firstError,
    latenciesMs: latencies,
  };
}

/** 2xx is success; `units` counts the bytes sent plus the bytes received. */
export function replyOutcome(reply: Reply, sentBytes: number): Outcome {
  if (reply.status >= 200 && reply.status < 300) return { ok: true, units: sentBytes + reply.bytes };
  const body = reply.body === null ? '' : reply.body.toString('utf8', 0, Math.min(reply.body.length, 300));
  return { ok: false, units: 0, detail: `HTTP ${reply.status} ${body}` };
}

/** The q-quantile (0..1) of a list of numbers (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
