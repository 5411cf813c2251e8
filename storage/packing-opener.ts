// Opens (or creates on first start) a volume with packing's Volume. Imported lazily so unit
// tests with a stand-in volume do not need packing.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeOpener, VolumePort } from './volume-port.ts';

// A variable specifier keeps the type checker from requiring packing/index.ts before it lands.
const PACKING_MODULE = '../packing/index.ts';

interface PackingVolumeClass {
  create(dir: string, opts: Record<string, unknown>): Promise<VolumePort>;
  open(dir: string, opts?: Record<string, unknown>): Promise<VolumePort>;
}

export const packingOpener: VolumeOpener = {
  async openOrCreate(spec, nodeId, hooks) {
    const { Volume } = (await import(PACKING_MODULE)) as { Volume: PackingVolumeClass };
    const open = { nodeId, durability: hooks?.durability ?? 'fsync', onMoved: hooks?.onMoved };
    const exists = await access(join(spec.dir, 'volume.qv')).then(
      () => true,
      () => false,
    );
    // The limits configured now apply: the volume rewrites its superblock when they changed.
    if (exists)
      return Volume.open(spec.dir, {
        ...open,
        maxBytes: spec.maxBytes,
        reservedFreeBytes: spec.reservedFreeBytes,
      });
    return Volume.create(spec.dir, {
      ...open,
      volumeId: spec.volumeId,
      type: 'storage',
      maxBytes: spec.maxBytes,
      reservedFreeBytes: spec.reservedFreeBytes,
      ...(spec.chunkBytes ? { chunkBytes: spec.chunkBytes } : {}),
    });
  },
};
