// Seeded crash simulation of a storage node on a SimDisk (testing/sim-run.ts). Many seeds per run;
// QUIRE_SIM_SEED=<seed> npm test -- storage/sim runs one seed, QUIRE_SIM_SEEDS=<n> sets how many.
// A seed fixes the workload and every choice of the disk; LMDB commits on its own thread, so how the
// node's steps interleave with them can differ between runs of one seed (run it a few times).
import { test } from 'node:test';
import { tempDir } from './testing/harness.ts';
import { runStorageSim } from './testing/sim-run.ts';

const one = process.env.QUIRE_SIM_SEED;
const seeds = one
  ? [Number(one)]
  : Array.from({ length: Number(process.env.QUIRE_SIM_SEEDS ?? 20) }, (_, i) => i + 1);

test(`storage node crash simulation, ${seeds.length} seeds`, {
  timeout: Math.max(300_000, seeds.length * 15_000),
}, async () => {
  let crashes = 0;
  for (const seed of seeds) {
    const t = await tempDir('quire-sim-');
    try {
      crashes += (await runStorageSim({ seed, steps: 30, realDir: t.dir })).crashes;
    } finally {
      await t.remove();
    }
  }
  if (crashes === 0 && seeds.length > 5) throw new Error('no seed crashed: the simulation tests nothing');
});
