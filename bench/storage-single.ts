// Large-object write and read speed of one packing volume, next to the raw disk: 64 MiB objects
// streamed in 64 KiB chunks (as an HTTP body arrives), `--parallel` at once (default 4, as the
// http bench), then read back whole; raw = 1 GiB of 1 MiB sequential writes + one fdatasync.
//
//   node --import tsx bench/storage-single.ts [--dir /path] [--objects 16] [--parallel 4]
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Volume } from '../packing/volume.ts';

const MiB = 1024 * 1024;

async function rawSequentialMBs(dir: string, bytes: number): Promise<number> {
  const path = join(dir, 'raw.bin');
  const fh = await open(path, 'w');
  const block = Buffer.alloc(MiB, 5);
  const start = performance.now();
  try {
    for (let at = 0; at < bytes; at += MiB) await fh.write(block, 0, MiB, at);
    await fh.datasync();
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
  return bytes / MiB / ((performance.now() - start) / 1000);
}

async function* body(bytes: number, chunk: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes; at += chunk.length) {
    // A fresh-looking chunk per step, as a socket would hand over (the writer must copy or finish with it).
    yield chunk.subarray(0, Math.min(chunk.length, bytes - at));
    await new Promise<void>((r) => setImmediate(r));
  }
}

export async function benchSingle(opts: { dir?: string; objects?: number; parallel?: number } = {}) {
  const root = await mkdtemp(join(opts.dir ?? tmpdir(), 'quire-bench-single-'));
  const objects = opts.objects ?? 16;
  const parallel = opts.parallel ?? 4;
  const size = 64 * MiB;
  const out: Record<string, number> = {};
  try {
    out.rawSeqMBs = await rawSequentialMBs(root, 1024 * MiB);
    const v = await Volume.create(join(root, 'vol'), {
      volumeId: 'v',
      maxBytes: 64 * 2 ** 30,
      reservedFreeBytes: 0,
    });
    const chunk = Buffer.alloc(64 * 1024, 9);
    const locs: Awaited<ReturnType<Volume['put']>>['location'][] = [];
    let next = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const worker = async () => {
      for (let i = next++; i < objects; i = next++) {
        const e = await v.put({
          key: Buffer.from(`big/${i}`),
          meta: Buffer.alloc(0),
          opver: { counter: BigInt(i + 1), nodeId: 1 },
          data: body(size, chunk),
          dataBytes: size,
        });
        locs.push(e.location);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const secs = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    out.put64MiBMBs = (objects * size) / MiB / secs;
    out.put64MiBCpuMsPerObject = (used.user + used.system) / 1000 / objects;
    out.putVsRaw = out.put64MiBMBs / out.rawSeqMBs;
    const rstart = performance.now();
    let read = 0;
    for (const loc of locs) for await (const part of v.openRead(loc)) read += (part as Buffer).length;
    out.read64MiBMBs = read / MiB / ((performance.now() - rstart) / 1000);
    await v.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, objects: { type: 'string' }, parallel: { type: 'string' } },
  });
  const r = await benchSingle({
    dir: values.dir,
    objects: values.objects ? Number(values.objects) : undefined,
    parallel: values.parallel ? Number(values.parallel) : undefined,
  });
  process.stdout.write(
    Object.entries(r)
      .map(([k, v]) => `${k.padEnd(24)} ${v.toFixed(2)}\n`)
      .join(''),
  );
}
