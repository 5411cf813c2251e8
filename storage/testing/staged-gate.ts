// A volume opener whose staged puts become durable only when a test says so (or fail): for the staged commit.
import type { VolumeOpener, VolumePort } from '../volume-port.ts';
import { testOpener } from './harness.ts';

/**
 * Wraps the test opener so every staged put's `durable` waits for `gate` (and fails if it says so). `firstOnly`:
 * only the first staged put is held (a pause point at one fdatasync); `onHeld` is told when a put is held.
 */
export function gatedOpener(
  gate: Promise<Error | undefined>,
  opts: { firstOnly?: boolean; onHeld?: () => void } = {},
): VolumeOpener {
  const inner = testOpener().opener;
  let held = false;
  return {
    async openOrCreate(spec, nodeId, hooks) {
      const v = await inner.openOrCreate(spec, nodeId, hooks);
      if (!v.putStaged) return v;
      const staged = v.putStaged.bind(v);
      const w: VolumePort = Object.create(v);
      w.putStaged = async (input) => {
        const s = await staged(input);
        if (opts.firstOnly && held) return s;
        held = true;
        opts.onHeld?.();
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
