// Packing benchmark: durable put throughput by object size (64 concurrent writers), random 4 KiB reads,
// space overhead and reopen/recovery times for many small objects. `node --import tsx bench/packing.ts
// [--quick]` prints the figures; bench/run.ts imports benchPacking().
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Location, OpenVolumeOptions } from '../packing/index.ts';
import { Volume } from '../packing/index.ts';

export interface BenchPackingOptions {
  readonly quick?: boolean;
  /** Work directory (a fresh temp dir when absent); everything written is removed afterwards. */
  readonly dir?: string;
  readonly log?: (line: string) => void;
}

const MiB = 1024 * 1024;
const WRITERS = 64;

function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function newVolume(dir: string, opts: OpenVolumeOptions = {}): Promise<Volume> {
  await rm(dir, { recursive: true, force: true });
  return Volume.create(dir, { volumeId: 'bench', maxBytes: 2 ** 50, reservedFreeBytes: 0, ...opts });
}

/** Runs `writers` loops of `op(i)` until `count` ops are done or `seconds` pass. Returns ops done and seconds. */
async function drive(writers: number, count: number, seconds: number, op: (i: number) => Promise<void>) {
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < count && performance.now() < deadline) await op(next++);
    }),
  );
  return { ops: next, secs: (performance.now() - t0) / 1000 };
}

async function putThroughput(dir: string, size: number, quick: boolean) {
  const v = await newVolume(dir);
  const data = Buffer.alloc(size, 0x5a);
  const locs: Location[] = [];
  const budget = quick ? 2 : 6;
  const count = Math.max(200, Math.floor(((quick ? 300 : 1500) * MiB) / size));
  const r = await drive(WRITERS, count, budget, async (i) => {
    const e = await v.put({
      key: Buffer.from(`obj/${i}`),
      meta: Buffer.alloc(0),
      opver: { counter: 1n, nodeId: 1 },
      data,
      dataBytes: size,
    });
    locs.push(e.location);
  });
  return { v, locs, opsPerSec: r.ops / r.secs, mibPerSec: (r.ops * size) / MiB / r.secs };
}

async function randomReads(v: Volume, locs: Location[], quick: boolean): Promise<number> {
  const rand = seededRandom(7);
  const r = await drive(WRITERS, quick ? 50_000 : 300_000, quick ? 2 : 5, async () => {
    await v.read(locs[Math.floor(rand() * locs.length)]!);
  });
  return r.ops / r.secs;
}

/** Tries to drop the page cache (root only) so a recovery scan reads from disk. */
async function dropCaches(): Promise<boolean> {
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function manySmall(dir: string, count: number, log: (s: string) => void) {
  const v = await newVolume(dir, { durability: 'none' });
  const rand = seededRandom(42);
  let dataBytes = 0;
  const pool = Buffer.alloc(4096, 0x33);
  await drive(WRITERS, count, 3600, async (i) => {
    const size = 100 + Math.floor(rand() * (4096 - 100 + 1));
    dataBytes += size;
    await v.put({
      key: Buffer.from(`site/assets/${i.toString(36).padStart(6, '0')}`),
      meta: Buffer.alloc(0),
      opver: { counter: 1n, nodeId: 1 },
      data: pool.subarray(0, size),
      dataBytes: size,
    });
  });
  const disk = v.stats().diskBytes;
  await v.close();
  log(`  ${count} objects: ${dataBytes} data bytes in ${disk} disk bytes`);
  let t0 = performance.now();
  const reopened = await Volume.open(dir, { durability: 'none' });
  const reopenMs = performance.now() - t0;
  if (reopened.stats().liveEntries !== count) throw new Error('reopen lost entries');
  await reopened.closeUnclean();
  await rm(join(dir, 'summary.qs'), { force: true });
  const cold = await dropCaches();
  t0 = performance.now();
  const scanned = await Volume.open(dir, { durability: 'none' });
  const scanSecs = (performance.now() - t0) / 1000;
  const scanMBps = scanned.recovery.scannedBytes / 1e6 / scanSecs;
  if (scanned.stats().liveEntries !== count) throw new Error('recovery scan lost entries');
  await scanned.close();
  return { overheadPct: ((disk - dataBytes) / dataBytes) * 100, reopenMs, scanMBps, cold };
}

export async function benchPacking(opts: BenchPackingOptions = {}): Promise<Record<string, number>> {
  const quick = opts.quick ?? false;
  const log = opts.log ?? (() => undefined);
  const base = opts.dir ?? (await mkdtemp(join(tmpdir(), 'quire-bench-packing-')));
  await mkdir(base, { recursive: true });
  const out: Record<string, number> = {};
  try {
    for (const [label, size] of [
      ['1KiB', 1024],
      ['4KiB', 4096],
      ['64KiB', 64 * 1024],
      ['512KiB', 512 * 1024],
    ] as const) {
      const r = await putThroughput(join(base, `put-${label}`), size, quick);
      out[`put_${label}_ops`] = Math.round(r.opsPerSec);
      out[`put_${label}_MiBps`] = Math.round(r.mibPerSec * 10) / 10;
      log(`  durable put ${label}: ${Math.round(r.opsPerSec)}/s, ${r.mibPerSec.toFixed(1)} MiB/s`);
      if (label === '4KiB') {
        out.read_4KiB_random_ops = Math.round(await randomReads(r.v, r.locs, quick));
        log(`  random read 4KiB: ${out.read_4KiB_random_ops}/s`);
      }
      await r.v.close();
      await rm(join(base, `put-${label}`), { recursive: true, force: true });
    }
    const count = quick ? 100_000 : 1_000_000;
    const s = await manySmall(join(base, 'small'), count, log);
    out.small_objects = count;
    out.small_space_overhead_pct = Math.round(s.overheadPct * 100) / 100;
    out.small_reopen_clean_ms = Math.round(s.reopenMs);
    out.recovery_scan_MBps = Math.round(s.scanMBps);
    out.recovery_scan_cold_cache = s.cold ? 1 : 0;
    log(
      `  space overhead ${out.small_space_overhead_pct} %, clean reopen ${out.small_reopen_clean_ms} ms, ` +
        `recovery scan ${out.recovery_scan_MBps} MB/s (${s.cold ? 'cold' : 'warm'} cache)`,
    );
  } finally {
    if (opts.dir) await rm(join(base, 'small'), { recursive: true, force: true });
    else await rm(base, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await benchPacking({ quick: process.argv.includes('--quick'), log: (l) => console.log(l) });
  console.log(JSON.stringify(figures, null, 2));
}
