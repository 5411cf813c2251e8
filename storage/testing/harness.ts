// Test helpers: temp dirs, bodies, and the volume opener tests use — packing's real Volume once
// packing/index.ts exists, else the file-per-entry stand-in (QUIRE_TEST_VOLUME=file forces it).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BodyFinish, PutObjectInput, StoredHeaders } from '../api.ts';
import { packingOpener } from '../packing-opener.ts';
import type { VolumeOpener, VolumeSpec } from '../volume-port.ts';
import { fileVolumeOpener } from './file-volume.ts';

const packingIndex = join(fileURLToPath(import.meta.url), '..', '..', '..', 'packing', 'index.ts');

export function testOpener(): { opener: VolumeOpener; real: boolean } {
  const real = existsSync(packingIndex) && process.env.QUIRE_TEST_VOLUME !== 'file';
  return { opener: real ? packingOpener : fileVolumeOpener(), real };
}

export async function tempDir(
  prefix = 'quire-storage-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function volumeSpecs(dir: string, n = 1, maxBytes = 1 << 30, reservedFreeBytes = 0): VolumeSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    dir: join(dir, 'volumes', `v${i + 1}`),
    volumeId: `v${i + 1}`,
    maxBytes,
    reservedFreeBytes,
  }));
}

export async function* chunks(data: Buffer, chunkBytes = 64 * 1024): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += chunkBytes) yield data.subarray(i, i + chunkBytes);
}

export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
export const H: StoredHeaders = { contentType: 'application/octet-stream', userMeta: { a: '1' } };

/** A PutObjectInput whose finish() reports the body's MD5 (as the gateway would). */
export function putInput(
  bucket: string,
  key: Buffer | string,
  data: Buffer,
  extra: Partial<PutObjectInput> = {},
): PutObjectInput {
  const k = typeof key === 'string' ? Buffer.from(key) : key;
  const finish = async (): Promise<BodyFinish> => ({ etag: md5(data), checksums: {} });
  return {
    bucket,
    key: k,
    size: data.length,
    body: chunks(data),
    headers: H,
    nowMs: 1_700_000_000_000,
    finish,
    ...extra,
  };
}

export async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

/** Deterministic pseudo-random bytes (tests must not depend on Math.random). */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
