// Seeded crash simulation of one volume on a SimDisk (test-support/sim-run.ts). Many seeds per run;
// QUIRE_SIM_SEED=<seed> npm test -- packing/sim runs one seed, QUIRE_SIM_SEEDS=<n> sets how many.
import { test } from 'node:test';
import { runPackingSim } from './test-support/sim-run.ts';

const one = process.env.QUIRE_SIM_SEED;
const seeds = one
  ? [Number(one)]
  : Array.from({ length: Number(process.env.QUIRE_SIM_SEEDS ?? 40) }, (_, i) => i + 1);

test(`volume crash simulation, ${seeds.length} seeds`, {
  timeout: Math.max(300_000, seeds.length * 15_000),
}, async () => {
  let crashes = 0;
  for (const seed of seeds) {
    const r = await runPackingSim({ seed, steps: 40 });
    crashes += r.crashes;
  }
  if (crashes === 0 && seeds.length > 5) throw new Error('no seed crashed: the simulation tests nothing');
});
