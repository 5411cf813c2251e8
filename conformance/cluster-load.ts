// A reusable S3 load for the cluster fault tests: N workers putting objects of mixed sizes (some multipart) under
// unique keys and reading back acknowledged ones, plus listers paging through the bucket all along. It keeps, per
// key, the sha256 and size of what was acknowledged (never the bytes), every failed call with its start and end
// time (so a test computes the failure window around a fault it injected), and every listing that returned a key
// twice or out of UTF-8 byte order, or missed a key acknowledged before it began.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { makeRandom, seededBytes } from './bytes.ts';
import type { TestCluster } from './cluster.ts';
import { REPO_ROOT } from './target.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

export type OpKind = 'put' | 'multipart' | 'get' | 'list';

export interface FailedOp {
  op: OpKind;
  key: string;
  /** performance.now() when the call began and when it failed. */
  startMs: number;
  endMs: number;
  /** The S3 error code, or the client-side error's name/code (ECONNRESET, TimeoutError, ...). */
  error: string;
  status?: number;
}

export interface ListingViolation {
  atMs: number;
  /** A key not above the previous one in UTF-8 byte order (equal: returned twice). */
  previous: string;
  key: string;
  page: number;
}

export interface Acked {
  sha256: string;
  size: number;
  multipart: boolean;
  /** performance.now() when the acknowledgement arrived. */
  atMs: number;
}

export interface LoadOptions {
  s3: S3Client;
  bucket: string;
  /** Objects to put in all (each under its own key); the load ends when they have all been tried. */
  objects: number;
  /** Concurrent writer/reader workers. */
  workers: number;
  /** Concurrent listers paging through the bucket for as long as the load runs (0: none). */
  listers?: number;
  /** Share of a worker's operations that GET an acknowledged key (the rest are puts). */
  readShare?: number;
  /** Share of objects ≥ 1 MiB written by an explicit multipart upload of `partBytes` parts. */
  multipartShare?: number;
  /** Part size of multipart uploads: the cluster's QUIRE_MULTIPART_MIN_PART_BYTES or more. */
  partBytes?: number;
  /** Object sizes (default `mixedSize`). */
  sizes?: (rnd: () => number) => number;
  seed?: number;
}

/**
 * Object sizes between 1 KiB and 3 MiB, mostly small as an object store of small files sees them: 90% 1–16 KiB,
 * 9% 16 KiB–1 MiB, 1% 1–3 MiB (log-uniform inside each band). About 50 KiB on average.
 */
export function mixedSize(rnd: () => number): number {
  const band = rnd() % 100;
  const [lo, hi] = band < 90 ? [KiB, 16 * KiB] : band < 99 ? [16 * KiB, MiB] : [MiB, 3 * MiB];
  const f = (rnd() % 1_000_000) / 1_000_000;
  return Math.floor(lo * (hi / lo) ** f);
}

/** Keys whose UTF-8 byte order differs from JS string order, in several prefixes. */
function keyFor(i: number): string {
  const n = String(i).padStart(5, '0');
  switch (i % 5) {
    case 0:
      return `load/${n}`;
    case 1:
      return `load/é/${n}`;
    case 2:
      return `load/\u{10000}${n}`;
    case 3:
      return `load/\uffff${n}`;
    default:
      return `other-${n}.bin`;
  }
}

const POOL_BYTES = 4 * MiB;

export class LoadGenerator {
  readonly acked = new Map<string, Acked>();
  /** Puts that failed or were cut off: the key may or may not exist, and if it does it has these bytes. */
  readonly unsure = new Map<string, { sha256: string; size: number }>();
  readonly failures: FailedOp[] = [];
  readonly listingViolations: ListingViolation[] = [];
  /** Keys acknowledged before a complete listing began that the listing did not return. */
  readonly listingMisses: Array<{ key: string; listingStartMs: number }> = [];
  /** Keys a listing returned that no put had begun (never written by anyone). */
  readonly listingStrays: string[] = [];
  readonly counts = { put: 0, multipart: 0, get: 0, listPages: 0, listings: 0, bytesPut: 0 };
  /** Successful calls that took over a second (a failover, a stall), to measure windows by. */
  readonly slow: Array<{ op: OpKind; key: string; startMs: number; endMs: number }> = [];
  /** A GET whose bytes differ from the acknowledged ones: always a test failure. */
  readonly corrupt: string[] = [];

  private readonly opts: Required<LoadOptions>;
  private readonly pool: Buffer;
  private readonly rnd: () => number;
  private readonly started = new Set<string>();
  private readonly ackedKeys: string[] = [];
  private next = 0;
  private running = false;
  private stopRequested = false;
  private ackWaiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(opts: LoadOptions) {
    this.opts = {
      listers: 1,
      readShare: 0.3,
      multipartShare: 0.5,
      partBytes: 256 * KiB,
      sizes: mixedSize,
      seed: 0x5eed,
      ...opts,
    };
    this.rnd = makeRandom(this.opts.seed);
    this.pool = seededBytes(this.opts.seed, POOL_BYTES);
  }

  /** Runs the load to the end (every object tried) or until stop(); listers stop with the workers. */
  async run(): Promise<void> {
    this.running = true;
    const workers = Array.from({ length: this.opts.workers }, () => this.worker());
    const listers = Array.from({ length: this.opts.listers }, () => this.lister());
    await Promise.all(workers);
    this.running = false;
    await Promise.all(listers);
    for (const w of this.ackWaiters) w.resolve();
    this.ackWaiters = [];
  }

  /** The workers finish their current call and end. */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Resolves true once `n` puts are acknowledged (or the load ended), false if `deadlineMs` passes first (a load
   * that stalled: the test goes on to report what it measured instead of hanging).
   */
  ackedAtLeast(n: number, deadlineMs = 300_000): Promise<boolean> {
    if (this.acked.size >= n || (!this.running && this.next > 0)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ackWaiters = this.ackWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, deadlineMs);
      const waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.ackWaiters.push(waiter);
    });
  }

  /** The longest successful call of these kinds that ended after `fromMs` (ms), e.g. a GET that failed over. */
  slowest(ops: OpKind[], fromMs = 0): number {
    let worst = 0;
    for (const s of this.slow)
      if (ops.includes(s.op) && s.endMs >= fromMs) worst = Math.max(worst, s.endMs - s.startMs);
    return worst;
  }

  failuresOf(ops: OpKind[], fromMs = 0, toMs = Number.POSITIVE_INFINITY): FailedOp[] {
    return this.failures.filter((f) => ops.includes(f.op) && f.endMs >= fromMs && f.endMs <= toMs);
  }

  /** The failures as `op error +seconds` relative to `t0` (a fault), at most `max` of them, for the log. */
  timeline(t0: number, max = 20): string {
    const lines = this.failures
      .slice(0, max)
      .map(
        (f) =>
          `${f.op} ${f.error} ${f.key} ${((f.startMs - t0) / 1000).toFixed(1)}..${((f.endMs - t0) / 1000).toFixed(1)} s`,
      );
    const more = this.failures.length > max ? ` (+${this.failures.length - max} more)` : '';
    return `${lines.join('; ')}${more}`;
  }

  /** Listings that missed acknowledged keys: `n keys @ +seconds` (when the listing began) relative to `t0`. */
  missTimeline(t0: number): string {
    const byListing = new Map<number, number>();
    for (const m of this.listingMisses)
      byListing.set(m.listingStartMs, (byListing.get(m.listingStartMs) ?? 0) + 1);
    return [...byListing].map(([at, n]) => `${n} @ ${((at - t0) / 1000).toFixed(1)} s`).join(', ') || 'none';
  }

  /** A short summary for assertion messages and the log. */
  summary(): string {
    const byOp = new Map<string, number>();
    for (const f of this.failures) byOp.set(f.op, (byOp.get(f.op) ?? 0) + 1);
    return (
      `${this.acked.size} acknowledged of ${this.next} tried (${this.counts.multipart} multipart, ` +
      `${(this.counts.bytesPut / MiB).toFixed(0)} MiB), ${this.counts.get} GETs, ${this.counts.listings} listings ` +
      `(${this.counts.listPages} pages); failures ${JSON.stringify(Object.fromEntries(byOp))}; listing ` +
      `violations ${this.listingViolations.length}, misses ${this.listingMisses.length}, strays ` +
      `${this.listingStrays.length}; corrupt ${this.corrupt.length}`
    );
  }

  private body(i: number, size: number): Buffer {
    // A unique 16-byte head, then a slice of the seeded pool at an offset fixed by the index.
    const head = Buffer.alloc(Math.min(16, size));
    head.write(String(i).padStart(16, '#').slice(0, head.length), 'latin1');
    const rest = size - head.length;
    const off = (i * 7919 * 64) % (POOL_BYTES - rest + 1);
    return Buffer.concat([head, this.pool.subarray(off, off + rest)]);
  }

  private async worker(): Promise<void> {
    while (!this.stopRequested) {
      const readNow = this.ackedKeys.length > 0 && this.rnd() % 1000 < this.opts.readShare * 1000;
      if (readNow) {
        await this.get(this.ackedKeys[this.rnd() % this.ackedKeys.length]!);
        continue;
      }
      if (this.next >= this.opts.objects) return;
      const i = this.next++;
      await this.put(i);
    }
  }

  private async put(i: number): Promise<void> {
    const key = keyFor(i);
    const size = this.opts.sizes(this.rnd);
    const multipart = size >= MiB && this.rnd() % 1000 < this.opts.multipartShare * 1000;
    const body = this.body(i, size);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const op: OpKind = multipart ? 'multipart' : 'put';
    this.started.add(key);
    const startMs = performance.now();
    try {
      if (multipart) await this.multipartPut(key, body);
      else await this.opts.s3.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: key, Body: body }));
    } catch (err) {
      this.unsure.set(key, { sha256, size });
      this.fail(op, key, startMs, err);
      return;
    }
    this.counts[op] += 1;
    this.counts.bytesPut += size;
    this.noteSlow(op, key, startMs);
    this.acked.set(key, { sha256, size, multipart, atMs: performance.now() });
    this.ackedKeys.push(key);
    if (this.ackWaiters.length > 0) {
      const ready = this.ackWaiters.filter((w) => this.acked.size >= w.n);
      this.ackWaiters = this.ackWaiters.filter((w) => this.acked.size < w.n);
      for (const w of ready) w.resolve();
    }
  }

  private async multipartPut(key: string, body: Buffer): Promise<void> {
    const { s3, bucket, partBytes } = this.opts;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let off = 0, n = 1; off < body.length; off += partBytes, n++) {
        const r = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            Body: body.subarray(off, off + partBytes),
          }),
        );
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      // Best effort: an upload left behind is expired by the node; the put's failure is what counts.
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
      throw err;
    }
  }

  private async get(key: string): Promise<void> {
    const want = this.acked.get(key)!;
    const startMs = performance.now();
    try {
      const got = await readObject(this.opts.s3, this.opts.bucket, key);
      this.counts.get += 1;
      this.noteSlow('get', key, startMs);
      if (got.sha256 !== want.sha256 || got.size !== want.size) this.corrupt.push(key);
    } catch (err) {
      this.fail('get', key, startMs, err);
    }
  }

  private async lister(): Promise<void> {
    while (this.running && !this.stopRequested) {
      const startMs = performance.now();
      const ackedBefore = [...this.ackedKeys];
      const seen = new Set<string>();
      let previous: Buffer | undefined;
      let previousKey = '';
      let token: string | undefined;
      let page = 0;
      try {
        do {
          const r = await this.opts.s3.send(
            new ListObjectsV2Command({
              Bucket: this.opts.bucket,
              MaxKeys: 1 + (this.rnd() % 997),
              ...(token ? { ContinuationToken: token } : {}),
            }),
          );
          this.counts.listPages += 1;
          for (const o of r.Contents ?? []) {
            const key = o.Key!;
            const bytes = Buffer.from(key);
            if (previous && Buffer.compare(previous, bytes) >= 0)
              this.listingViolations.push({ atMs: performance.now(), previous: previousKey, key, page });
            previous = bytes;
            previousKey = key;
            seen.add(key);
            if (!this.started.has(key)) this.listingStrays.push(key);
          }
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
          page++;
        } while (token);
      } catch (err) {
        this.fail('list', `page ${page}`, startMs, err);
        continue;
      }
      this.counts.listings += 1;
      for (const key of ackedBefore)
        if (!seen.has(key)) this.listingMisses.push({ key, listingStartMs: startMs });
    }
  }

  private noteSlow(op: OpKind, key: string, startMs: number): void {
    const endMs = performance.now();
    if (endMs - startMs > 1000) this.slow.push({ op, key, startMs, endMs });
  }

  private fail(op: OpKind, key: string, startMs: number, err: unknown): void {
    const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    this.failures.push({
      op,
      key,
      startMs,
      endMs: performance.now(),
      error: err instanceof S3ServiceException ? err.name : (e.code ?? e.name ?? String(err)),
      ...(e.$metadata?.httpStatusCode !== undefined ? { status: e.$metadata.httpStatusCode } : {}),
    });
  }
}

/** GETs an object and hashes it as it streams (the bytes are not kept). */
/** When a fault test's phases happened (performance.now() ms): the load, the fault, the tracker's verdict, its end. */
export interface FaultTimes {
  loadStartMs: number;
  faultMs: number;
  suspectMs: number;
  /** When the node came back (restarted or resumed). */
  backMs: number;
  loadEndMs: number;
}

/**
 * The client errors of a load through a node fault (SIGKILL or SIGSTOP of a member mid-load), logged with their
 * timeline and checked against what the issue bounds: no GET fails, PUTs fail only within `putWindowMs` of the fault
 * and never before it, listings never return a key twice, out of order, unknown, or miss an acknowledged key, and no
 * GET returns other bytes. `progressed`: whether the load went on during the fault.
 */
export function checkFaultWindow(
  load: LoadGenerator,
  t: FaultTimes,
  opts: { label: string; putWindowMs: number; progressed: boolean },
): void {
  const puts = load.failuresOf(['put', 'multipart']);
  const gets = load.failuresOf(['get']);
  const lastPutFailure = Math.max(t.faultMs, ...puts.map((f) => f.endMs));
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const report = {
    loadSeconds: s(t.loadEndMs - t.loadStartMs),
    suspectAfterFaultSeconds: s(t.suspectMs - t.faultMs),
    backAfterFaultSeconds: s(t.backMs - t.faultMs),
    putFailures: puts.length,
    putWindowSeconds: s(lastPutFailure - t.faultMs),
    getFailures: gets.length,
    slowestGetAfterFaultSeconds: s(load.slowest(['get'], t.faultMs)),
    slowestPutAfterFaultSeconds: s(load.slowest(['put', 'multipart'], t.faultMs)),
    listFailures: load.failuresOf(['list']).length,
    errors: [...new Set(load.failures.map((f) => `${f.op}:${f.error}:${f.status ?? ''}`))],
  };
  console.log(
    `${opts.label}: ${load.summary()}\n${JSON.stringify(report)}\nfailures: ${load.timeline(t.faultMs)}\n` +
      `listing misses: ${load.missTimeline(t.faultMs)}`,
  );
  assert.deepEqual(load.corrupt, [], 'a GET returned other bytes than acknowledged');
  assert.ok(opts.progressed, `the load stalled during the fault: ${load.summary()}`);
  assert.deepEqual(
    puts.filter((f) => f.endMs < t.faultMs),
    [],
    'no PUT may fail before the fault',
  );
  assert.ok(
    lastPutFailure - t.faultMs < opts.putWindowMs,
    `PUTs failed for ${report.putWindowSeconds} s after the fault (bound ${opts.putWindowMs / 1000} s): ` +
      load.timeline(t.faultMs, 5),
  );
  assert.deepEqual(gets.slice(0, 5), [], `${gets.length} GETs of acknowledged objects failed`);
  assert.deepEqual(load.listingViolations.slice(0, 5), [], 'a listing returned a key twice or out of order');
  assert.deepEqual(load.listingStrays.slice(0, 5), [], 'a listing returned a key never written');
  assert.deepEqual(
    load.listingMisses.slice(0, 5),
    [],
    `${load.listingMisses.length} times a listing missed a key acknowledged before it began`,
  );
}

export async function readObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ sha256: string; size: number }> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of r.Body as Readable) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

export interface ReadBack {
  ok: number;
  /** Acknowledged keys that answered NoSuchKey. */
  missing: string[];
  /** Keys whose bytes differ from what was acknowledged (or, for unsure puts, from what was sent). */
  wrong: string[];
  /** Keys that could not be read at all: [key, error]. */
  failed: Array<[string, string]>;
  /** Unsure puts found present (with the bytes that were sent). */
  unsurePresent: number;
}

/** Reads every acknowledged key (and every unsure one) through the gateway, `concurrency` at a time. */
export async function readBack(load: LoadGenerator, s3: S3Client, bucket: string, concurrency = 16) {
  const out: ReadBack = { ok: 0, missing: [], wrong: [], failed: [], unsurePresent: 0 };
  const todo: Array<[string, { sha256: string; size: number }, boolean]> = [
    ...[...load.acked].map(([k, v]) => [k, v, true] as [string, Acked, boolean]),
    ...[...load.unsure].map(([k, v]) => [k, v, false] as [string, { sha256: string; size: number }, boolean]),
  ];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < todo.length) {
        const [key, want, acked] = todo[next++]!;
        try {
          const got = await readObject(s3, bucket, key);
          if (got.sha256 !== want.sha256 || got.size !== want.size) out.wrong.push(key);
          else if (acked) out.ok++;
          else out.unsurePresent++;
        } catch (err) {
          if (err instanceof S3ServiceException && err.name === 'NoSuchKey') {
            if (acked) out.missing.push(key);
          } else {
            const e = err as { name?: string; code?: string };
            out.failed.push([key, e.code ?? e.name ?? String(err)]);
          }
        }
      }
    }),
  );
  return out;
}

export interface StatusNode {
  nodeId: string;
  url: string;
  state: 'up' | 'suspect' | 'recovering';
  silentMs: number;
  objects: number;
  phase?: 'serving' | 'recovering';
  sync?: Array<{ nodeId: string; lagOps: number; lagBytes: number; needsPull?: boolean }>;
  /** The members the node sends its writes to. */
  mirrors?: string[];
}
export interface StatusReport {
  syncgroups: Array<{ name: string; nodes: StatusNode[] }>;
}

/** What `quire status --json` prints, run as an operator runs it. */
export function quireStatus(c: TestCluster): Promise<StatusReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'quire.mjs'),
        'status',
        '--tracker',
        c.trackerUrl,
        '--cluster-secret-file',
        c.secretFile,
        '--json',
      ],
      { cwd: REPO_ROOT, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`quire status failed: ${stderr || err.message}`));
        else resolve(JSON.parse(stdout) as StatusReport);
      },
    );
  });
}

/** The node of a status report by its process's URL. */
export function statusOf(s: StatusReport, url: string): StatusNode | undefined {
  return s.syncgroups.flatMap((g) => g.nodes).find((n) => n.url === url);
}

/**
 * Whether every node is up and push sync reports no lag: each node lists every other member of its syncgroup as a
 * mirror with 0 operations and 0 bytes behind. A node that reports nothing about a mirror is not caught up.
 */
export function caughtUp(s: StatusReport): { ok: boolean; why: string } {
  for (const g of s.syncgroups) {
    for (const n of g.nodes) {
      if (n.state !== 'up') return { ok: false, why: `${n.url} is ${n.state}` };
      for (const m of g.nodes) {
        if (m.nodeId === n.nodeId) continue;
        const lag = n.sync?.find((r) => r.nodeId === m.nodeId);
        if (!lag) return { ok: false, why: `${n.url} reports no push-sync position for mirror ${m.url}` };
        if (lag.lagOps > 0 || lag.lagBytes > 0 || lag.needsPull)
          return { ok: false, why: `${n.url} -> ${m.url}: ${JSON.stringify(lag)}` };
      }
    }
  }
  return { ok: true, why: '' };
}

/**
 * Polls `quire status --json` until `pred` holds; rejects with the last reason after `timeoutMs`. Each poll is a
 * whole `quire status` process, so it paces itself.
 */
export async function waitForStatus(
  c: TestCluster,
  pred: (s: StatusReport) => { ok: boolean; why: string },
  timeoutMs: number,
  what: string,
): Promise<{ report: StatusReport; afterMs: number }> {
  const t0 = performance.now();
  let why = 'no report yet';
  while (performance.now() - t0 < timeoutMs) {
    try {
      const report = await quireStatus(c);
      const r = pred(report);
      if (r.ok) return { report, afterMs: performance.now() - t0 };
      why = r.why;
    } catch (err) {
      why = (err as Error).message;
    }
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s (${why})`);
}

/** The tracker's status as the internal API gives it (cheaper than a `quire status` process, for timing). */
export async function trackerStatus(c: TestCluster): Promise<StatusReport> {
  const r = await c.internal(`${c.trackerUrl}/v1/status`);
  if (r.status !== 200) throw new Error(`tracker status answered ${r.status}`);
  return r.json as StatusReport;
}

/**
 * Resolves with performance.now() when the tracker reports every node at `urls` in `state`. Polls the tracker every
 * 100 ms (the registry is only observable by asking); rejects after `timeoutMs`.
 */
export async function trackerSees(
  c: TestCluster,
  urls: string[],
  state: StatusNode['state'],
  timeoutMs: number,
): Promise<number> {
  const t0 = performance.now();
  let last = '';
  while (performance.now() - t0 < timeoutMs) {
    try {
      const s = await trackerStatus(c);
      const states = urls.map((u) => statusOf(s, u)?.state);
      if (states.every((x) => x === state)) return performance.now();
      last = JSON.stringify(states);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the tracker did not report ${urls.join(', ')} ${state} within ${timeoutMs} ms (${last})`);
}

/**
 * CreateBucket, retried while the cluster answers 503 ServiceUnavailable (a tracker that has just started decides
 * its catalog with the storage nodes first; clients retry, as AWS tells them to). Gives up after `timeoutMs`.
 */
export async function createBucketWhenReady(s3: S3Client, bucket: string, timeoutMs = 60_000): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      return;
    } catch (err) {
      const retry = err instanceof S3ServiceException && err.name === 'ServiceUnavailable';
      if (!retry || performance.now() - t0 > timeoutMs) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
