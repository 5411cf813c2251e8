// Shared helpers of the packing tests: temp volumes and deterministic bytes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateVolumeOptions, Opver } from '../types.ts';
import { Volume } from '../volume.ts';

export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), `quire-packing-${tag}-`));
  return { dir: join(base, 'vol'), cleanup: () => rm(base, { recursive: true, force: true }) };
}

export const BASE_OPTS: CreateVolumeOptions = {
  volumeId: 'test-volume',
  maxBytes: 64 * 1024 * 1024 * 1024,
  reservedFreeBytes: 0,
};

export async function newVolume(dir: string, extra: Partial<CreateVolumeOptions> = {}): Promise<Volume> {
  return Volume.create(dir, { ...BASE_OPTS, ...extra });
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce from the seed. */
export function bytesFor(seed: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

export function opver(n: number): Opver {
  return { counter: BigInt(n), nodeId: 1 };
}
