// Opens (or creates on first start) a volume with packing's Volume. The node imports this module
// lazily, so unit tests with a stand-in volume do not load packing.
import { join } from 'node:path';
import { nodeDisk } from '../common/disk.ts';
import { type OpenVolumeOptions, Volume } from '../packing/index.ts';
import type { VolumeOpener, VolumePort } from './volume-port.ts';

export const packingOpener: VolumeOpener = {
  async openOrCreate(spec, nodeId, hooks): Promise<VolumePort> {
    const disk = hooks?.disk ?? nodeDisk;
    const open: OpenVolumeOptions = {
      ...hooks?.tuning,
      nodeId,
      durability: hooks?.durability ?? 'fsync',
      onMoved: hooks?.onMoved,
      forwardsUnused: hooks?.forwardsUnused,
      disk,
    };
    const exists = await disk.stat(join(spec.dir, 'volume.qv')).then(
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
