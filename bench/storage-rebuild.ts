// Rebuild of the storage node's index from its volumes at scale: fills a node with N small objects
// (durability 'none': the fill is not what is measured), deletes the LMDB index, then reopens the
// node in a fresh process (so the fill's memory does not count) and reports the rebuild time and
// that process's peak RSS.
//
//   node --import tsx bench/storage-rebuild.ts [--objects 1000000] [--bytes 100] [--dir /path]
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PutObjectInput } from '../storage/api.ts';
import { StorageNode } from '../storage/node.ts';

const nodeOpts = (dataDir: string) => ({
  dataDir,
  nodeId: 1,
  volumes: [{ dir: join(dataDir, 'vol1'), volumeId: 'v1', maxBytes: 64 * 2 ** 30, reservedFreeBytes: 0 }],
  durability: 'none' as const,
});

async function fill(dataDir: string, objects: number, bytes: number): Promise<number> {
  const node = await StorageNode.open(nodeOpts(dataDir));
  const data = Buffer.alloc(bytes, 5);
  const fin = { etag: '0123456789abcdef0123456789abcdef', checksums: {} };
  const start = performance.now();
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < objects; i = next++) {
      const input: PutObjectInput = {
        bucket: 'bench',
        key: Buffer.from(`obj/${String(i).padStart(9, '0')}`),
        size: bytes,
        body: [data] as unknown as AsyncIterable<Buffer>,
        headers: { contentType: 'application/octet-stream', userMeta: {} },
        nowMs: 1_700_000_000_000,
        finish: async () => fin,
      };
      await node.putObject(input);
    }
  };
  await Promise.all(Array.from({ length: 64 }, writer));
  const seconds = (performance.now() - start) / 1000;
  await node.close();
  return seconds;
}

/** In the child: open = rebuild (the index is gone). */
async function rebuildHere(dataDir: string): Promise<void> {
  // RSS also counts the LMDB pages mapped in; the JS heap and Buffers are what the rebuild holds.
  let peakHeapMiB = 0;
  let peakBuffersMiB = 0;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peakHeapMiB = Math.max(peakHeapMiB, m.heapUsed / 2 ** 20);
    peakBuffersMiB = Math.max(peakBuffersMiB, m.arrayBuffers / 2 ** 20);
  }, 50);
  const start = performance.now();
  const node = await StorageNode.open(nodeOpts(dataDir));
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sample);
  const objects = (await node.stats()).objects;
  await node.close();
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, objects, peakRssMiB, peakHeapMiB, peakBuffersMiB })}\n`);
}

export async function benchRebuild(
  opts: { objects?: number; bytes?: number; dir?: string } = {},
): Promise<Record<string, number>> {
  const objects = opts.objects ?? 1_000_000;
  const root = await mkdtemp(join(opts.dir ?? tmpdir(), 'quire-bench-rebuild-'));
  try {
    const fillSeconds = await fill(root, objects, opts.bytes ?? 100);
    await rm(join(root, 'index'), { recursive: true, force: true });
    const self = fileURLToPath(import.meta.url);
    const flags = process.env.QUIRE_BENCH_CHILD_FLAGS?.split(' ').filter(Boolean) ?? [];
    const child = spawnSync(process.execPath, [...flags, '--import', 'tsx', self, '--rebuild', root], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    if (r.objects !== objects) throw new Error(`rebuilt ${r.objects} objects, expected ${objects}`);
    return {
      objects,
      fillPerSec: objects / fillSeconds,
      rebuildSeconds: r.seconds!,
      rebuildObjectsPerSec: objects / r.seconds!,
      rebuildPeakRssMiB: r.peakRssMiB!,
      rebuildPeakHeapMiB: r.peakHeapMiB!,
      rebuildPeakBuffersMiB: r.peakBuffersMiB!,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      objects: { type: 'string' },
      bytes: { type: 'string' },
      dir: { type: 'string' },
      rebuild: { type: 'string' },
    },
  });
  if (values.rebuild) await rebuildHere(values.rebuild);
  else {
    const r = await benchRebuild({
      objects: values.objects ? Number(values.objects) : undefined,
      bytes: values.bytes ? Number(values.bytes) : undefined,
      dir: values.dir,
    });
    process.stdout.write(
      Object.entries(r)
        .map(([k, v]) => `${k.padEnd(22)} ${v.toFixed(2)}\n`)
        .join(''),
    );
  }
}
