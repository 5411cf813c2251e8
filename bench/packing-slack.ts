// Slack policies compared: space for insert-only data, and speed + space for a replace-heavy workload
// (durable, 64 writers, same size ±10 %). `node --import tsx bench/packing-slack.ts [--quick]`.
// The default policy in packing/options.ts was chosen from this.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Location, SlackPolicy } from '../packing/index.ts';
import { Volume } from '../packing/index.ts';

function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POLICIES: Record<string, SlackPolicy> = {
  adaptive: { kind: 'adaptive' },
  fixed20: { kind: 'fixed', percent: 20 },
};

async function insertOnly(dir: string, slack: SlackPolicy, count: number) {
  const v = await Volume.create(dir, {
    volumeId: 'slack',
    maxBytes: 2 ** 50,
    reservedFreeBytes: 0,
    slack,
    durability: 'none',
  });
  const rand = seededRandom(1);
  const pool = Buffer.alloc(4096, 1);
  let data = 0;
  for (let i = 0; i < count; i++) {
    const size = 100 + Math.floor(rand() * 3997);
    data += size;
    await v.put({
      key: Buffer.from(`k${i}`),
      meta: Buffer.alloc(0),
      opver: { counter: 1n, nodeId: 1 },
      data: pool.subarray(0, size),
      dataBytes: size,
    });
  }
  const disk = v.stats().diskBytes;
  await v.close();
  return { overheadPct: ((disk - data) / data) * 100 };
}

async function replaceHeavy(dir: string, slack: SlackPolicy, keys: number, replaces: number) {
  const v = await Volume.create(dir, { volumeId: 'slack', maxBytes: 2 ** 50, reservedFreeBytes: 0, slack });
  const rand = seededRandom(2);
  const pool = Buffer.alloc(8192, 2);
  const state: Array<{ loc: Location; size: number; ver: number }> = [];
  for (let i = 0; i < keys; i++) {
    const size = 1000 + Math.floor(rand() * 3000);
    const e = await v.put({
      key: Buffer.from(`k${i}`),
      meta: Buffer.alloc(0),
      opver: { counter: 1n, nodeId: 1 },
      data: pool.subarray(0, size),
      dataBytes: size,
    });
    state.push({ loc: e.location, size, ver: 1 });
  }
  const writers = 64;
  let done = 0;
  let inPlace = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (done < replaces) {
        done += 1;
        const i = w + writers * Math.floor(rand() * Math.floor(keys / writers));
        const s = state[i]!;
        const size = Math.max(1, Math.round(s.size * (0.9 + rand() * 0.2)));
        s.ver += 1;
        const e = await v.put({
          key: Buffer.from(`k${i}`),
          meta: Buffer.alloc(0),
          opver: { counter: BigInt(s.ver), nodeId: 1 },
          data: pool.subarray(0, size),
          dataBytes: size,
          replaces: s.loc,
        });
        if (e.location.offset === s.loc.offset && e.location.fileId === s.loc.fileId) inPlace += 1;
        s.loc = e.location;
        s.size = size;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const st = v.stats();
  await v.close();
  return {
    replacesPerSec: replaces / secs,
    inPlacePct: (inPlace / replaces) * 100,
    diskOverLivePct: ((st.diskBytes - st.liveDataBytes) / st.liveDataBytes) * 100,
  };
}

export async function benchSlack(quick: boolean): Promise<Record<string, number>> {
  const base = await mkdtemp(join(tmpdir(), 'quire-bench-slack-'));
  const out: Record<string, number> = {};
  try {
    for (const [name, policy] of Object.entries(POLICIES)) {
      const ins = await insertOnly(join(base, `${name}-ins`), policy, quick ? 20_000 : 100_000);
      const rep = await replaceHeavy(
        join(base, `${name}-rep`),
        policy,
        quick ? 1_000 : 5_000,
        quick ? 5_000 : 30_000,
      );
      out[`${name}_insert_space_overhead_pct`] = Math.round(ins.overheadPct * 10) / 10;
      out[`${name}_replace_ops`] = Math.round(rep.replacesPerSec);
      out[`${name}_replace_in_place_pct`] = Math.round(rep.inPlacePct);
      out[`${name}_replace_disk_over_live_pct`] = Math.round(rep.diskOverLivePct * 10) / 10;
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchSlack(process.argv.includes('--quick')), null, 2));
}
