// The deterministic content of every (key, version) the crash test writes, shared by child and parent.
import { bytesFor } from './helpers.ts';

export const KEYS = 48;
export const WORKERS = 8;
export const CRASH_OPTS = {
  durability: 'fsync' as const,
  chunkBytes: 1024 * 1024,
  smallObjectMaxBytes: 64 * 1024,
  writeLanes: 2,
};

function hash(key: number, ver: number): number {
  let h = (key * 0x9e3779b1) ^ (ver * 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 13)) >>> 0;
}

export function sizeFor(key: number, ver: number): number {
  const h = hash(key, ver);
  return h % 23 === 0 ? 70_000 + (h % 130_000) : 50 + (h % 5000);
}

export function dataFor(key: number, ver: number): Buffer {
  return bytesFor(hash(key, ver) + 1, sizeFor(key, ver));
}

export function keyBuf(key: number): Buffer {
  return Buffer.from(`key-${String(key).padStart(3, '0')}`);
}
