// A volume opener whose staged puts become durable only when a test says so (or fail): for the staged commit.
import type { VolumeOpener, VolumePort } from '../volume-port.ts';
import { testOpener } from './harness.ts';

/** Wraps the test opener so every staged put's `durable` waits for `gate` (and fails if it says so). */
export function gatedOpener(gate: Promise<Error | undefined>): VolumeOpener {
  const inner = testOpener().opener;
  return {
    async openOrCreate(spec, nodeId, hooks) {
      const v = await inner.openOrCreate(spec, nodeId, hooks);
      if (!v.putStaged) return v;
      const staged = v.putStaged.bind(v);
      const w: VolumePort = Object.create(v);
      w.putStaged = async (input) => {
        const s = await staged(input);
        const durable = s.durable.then(async () => {
          const err = await gate;
          if (err) throw err;
        });
        durable.catch(() => undefined);
        return { entry: s.entry, durable };
      };
      return w;
    },
  };
}
