// Test support: packing's Volume behind pause points. A test arms the gate for the next put or delete,
// waits until a writer has reached it, does what must happen exactly there, then opens the gate.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Volume } from '../../packing/index.ts';
import type { EntryMoved, VolumeOpener, VolumePort } from '../volume-port.ts';

export type GatedOp = 'put' | 'delete';

/** A pause point: the next matching volume call waits until the test lets it go. */
export class Gate {
  private armed: { op: GatedOp; match: (arg: unknown) => boolean; reached: () => void } | undefined;
  private release: (() => void) | undefined;

  /** Resolves when the next `op` call (matching) has arrived and is held. */
  arm(op: GatedOp, match: (arg: unknown) => boolean = () => true): Promise<void> {
    return new Promise((reached) => {
      this.armed = { op, match, reached };
    });
  }

  open(): void {
    const r = this.release;
    this.release = undefined;
    r?.();
  }

  async pass(op: GatedOp, arg: unknown): Promise<void> {
    const a = this.armed;
    if (!a || a.op !== op || !a.match(arg)) return;
    this.armed = undefined;
    await new Promise<void>((resolve) => {
      this.release = resolve;
      a.reached();
    });
  }
}

/** packing's Volume with small chunkfiles (no fsync), each mutation behind the gate; `volumes` collects them. */
export function gatedOpener(gate: Gate, volumes: Volume[], chunkBytes = 64 * 1024): VolumeOpener {
  return {
    async openOrCreate(spec, nodeId, hooks) {
      const common = {
        nodeId,
        durability: 'none' as const,
        chunkBytes,
        writeLanes: 1,
        onMoved: hooks?.onMoved as (m: EntryMoved) => Promise<void>,
        forwardsUnused: hooks?.forwardsUnused,
      };
      const exists = existsSync(join(spec.dir, 'volume.qv'));
      const v = exists
        ? await Volume.open(spec.dir, common)
        : await Volume.create(spec.dir, {
            ...common,
            volumeId: spec.volumeId,
            maxBytes: spec.maxBytes,
            reservedFreeBytes: 0,
          });
      volumes.push(v);
      const port: VolumePort = {
        put: async (input) => {
          await gate.pass('put', input);
          return v.put(input);
        },
        putStaged: async (input) => {
          await gate.pass('put', input);
          return v.putStaged(input);
        },
        delete: async (loc) => {
          await gate.pass('delete', loc);
          return v.delete(loc);
        },
        resolve: (loc) => v.resolve(loc),
        read: (loc, range) => v.read(loc, range),
        openRead: (loc, range) => v.openRead(loc, range),
        readEntry: (loc) => v.readEntry(loc),
        scan: () => v.scan(),
        stats: () => v.stats(),
        compact: (o) => v.compact(o),
        close: () => v.close(),
      };
      return port;
    },
  };
}
