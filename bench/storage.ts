// In-process speed of the storage node on a real packing volume: durable PUT/s of 4 KiB and
// 64 KiB objects at 64 concurrent writers, GET/s of 4 KiB, listObjects keys/s (pages of 1000),
// with the raw fdatasync/s of the same disk as the reference, and where a durable PUT spends its
// time (mean ms per call of: volume put; index commit, plus the LMDB flush when indexSync is 'ack';
// binlog record until durable). The volume put and the binlog record overlap.
//
//   node --import tsx bench/storage.ts [--dir /path] [--seconds 5] [--writers 64]
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BodyFinish, PutObjectInput } from '../storage/api.ts';
import { StorageNode } from '../storage/node.ts';
import { packingOpener } from '../storage/packing-opener.ts';
import type { VolumeOpener, VolumePort } from '../storage/volume-port.ts';

export interface StorageBenchOptions {
  /** Parent directory of the temporary data directory (default os.tmpdir()). */
  dir?: string;
  /** Seconds per PUT/GET phase (default 5). */
  seconds?: number;
  writers?: number;
  durability?: 'fsync' | 'none';
}

interface Timer {
  calls: number;
  ms: number;
}

const newTimer = (): Timer => ({ calls: 0, ms: 0 });

async function timed<T>(t: Timer, p: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await p();
  } finally {
    t.calls++;
    t.ms += performance.now() - start;
  }
}

/** Wraps the packing opener so every volume put is timed. */
function timedOpener(t: Timer): VolumeOpener {
  return {
    async openOrCreate(spec, nodeId, hooks) {
      const v = await packingOpener.openOrCreate(spec, nodeId, hooks);
      const put = v.put.bind(v);
      const wrapped: VolumePort = Object.create(v);
      wrapped.put = (input) => timed(t, () => put(input));
      return wrapped;
    },
  };
}

/** Raw 4 KiB overwrite + fdatasync loop on this disk: the ceiling one sync at a time gives. */
export async function fdatasyncPerSec(dir: string, ms = 1000): Promise<number> {
  const path = join(dir, 'fdatasync.bin');
  const fh = await open(path, 'w');
  const block = Buffer.alloc(4096, 7);
  try {
    await fh.write(block, 0, block.length, 0);
    await fh.datasync();
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      await fh.write(block, 0, block.length, (n % 256) * 4096);
      await fh.datasync();
      n++;
    }
    return n / ((performance.now() - start) / 1000);
  } finally {
    await fh.close();
    await rm(path, { force: true });
  }
}

const FINISH_4K: BodyFinish = { etag: '0123456789abcdef0123456789abcdef', checksums: {} };

function putInput(key: Buffer, data: Buffer): PutObjectInput {
  return {
    bucket: 'bench',
    key,
    size: data.length,
    body: [data] as unknown as AsyncIterable<Buffer>,
    headers: { contentType: 'application/octet-stream', userMeta: {} },
    nowMs: 1_700_000_000_000,
    finish: async () => FINISH_4K,
  };
}

/** CPU time (all threads of this process, µs) per op of the last `run`: steadier than op/s on a shared machine. */
let lastCpuUsPerOp = 0;

/** `writers` loops calling `op(i)` with a shared counter until `ms` has passed; ops per second. */
async function run(writers: number, ms: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  const loop = async () => {
    while (performance.now() < deadline) await op(next++);
  };
  await Promise.all(Array.from({ length: writers }, loop));
  const used = process.cpuUsage(cpu);
  lastCpuUsPerOp = (used.user + used.system) / Math.max(1, next);
  return next / ((performance.now() - start) / 1000);
}

const keyOf = (prefix: string, i: number) => Buffer.from(`${prefix}/${String(i).padStart(9, '0')}`);

export async function benchStorage(opts: StorageBenchOptions = {}): Promise<Record<string, number>> {
  const root = await mkdtemp(join(opts.dir ?? tmpdir(), 'quire-bench-storage-'));
  const ms = (opts.seconds ?? 5) * 1000;
  const writers = opts.writers ?? 64;
  const volPut = newTimer();
  const indexWrite = newTimer();
  const binlogAppend = newTimer();
  const out: Record<string, number> = {};
  try {
    out.fdatasyncPerSec = await fdatasyncPerSec(root);
    out.volumePut4kPerSec = await volumeOnly(join(root, 'vol0'), writers, ms, opts.durability ?? 'fsync');
    out.volumePut4kCpuUs = lastCpuUsPerOp;
    const node = await StorageNode.open({
      dataDir: join(root, 'node'),
      nodeId: 1,
      volumes: [{ dir: join(root, 'vol1'), volumeId: 'v1', maxBytes: 64 * 2 ** 30, reservedFreeBytes: 0 }],
      volumeOpener: timedOpener(volPut),
      durability: opts.durability ?? 'fsync',
    });
    const write = node.index.write.bind(node.index);
    node.index.write = (fn) => timed(indexWrite, () => write(fn));
    const commit = node.index.commit.bind(node.index);
    node.index.commit = (fn) => timed(indexWrite, () => commit(fn));
    const begin = node.binlog.begin.bind(node.binlog);
    node.binlog.begin = (rec) => {
      const t = begin(rec);
      void timed(binlogAppend, () => t.durable).catch(() => undefined);
      return t;
    };
    try {
      const small = Buffer.alloc(4096, 1);
      const large = Buffer.alloc(64 * 1024, 2);
      let n4 = 0;
      out.put4kPerSec = await run(writers, ms, async (i) => {
        n4 = Math.max(n4, i + 1);
        await node.putObject(putInput(keyOf('s', i), small));
      });
      out.put4kCpuUs = lastCpuUsPerOp;
      out.put4kVolumePutMs = volPut.ms / Math.max(1, volPut.calls);
      out.put4kIndexMs = indexWrite.ms / Math.max(1, indexWrite.calls);
      out.put4kBinlogMs = binlogAppend.ms / Math.max(1, binlogAppend.calls);
      for (const t of [volPut, indexWrite, binlogAppend]) Object.assign(t, newTimer());
      out.put64kPerSec = await run(writers, ms, (i) => node.putObject(putInput(keyOf('l', i), large)));
      out.put64kCpuUs = lastCpuUsPerOp;
      out.put64kVolumePutMs = volPut.ms / Math.max(1, volPut.calls);
      out.put64kIndexMs = indexWrite.ms / Math.max(1, indexWrite.calls);
      out.put64kBinlogMs = binlogAppend.ms / Math.max(1, binlogAppend.calls);
      out.get4kPerSec = await run(writers, ms, async (i) => {
        const h = await node.openObject('bench', keyOf('s', i % n4));
        if (!h) throw new Error('bench object missing');
        for await (const _ of h.stream());
        h.release();
      });
      out.get4kCpuUs = lastCpuUsPerOp;
      out.listKeysPerSec = await listRate(node, n4);
      out.objects4k = n4;
    } finally {
      await node.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return out;
}

/** packing's Volume.put alone (4 KiB, same concurrency): the ceiling the volume sets for the node. */
async function volumeOnly(dir: string, writers: number, ms: number, durability: 'fsync' | 'none') {
  const spec = { dir, volumeId: 'v0', maxBytes: 64 * 2 ** 30, reservedFreeBytes: 0 };
  const v = await packingOpener.openOrCreate(spec, 1, { durability });
  const data = Buffer.alloc(4096, 3);
  const meta = Buffer.alloc(80, 4);
  try {
    return await run(writers, ms, (i) =>
      v.put({
        key: keyOf('v', i),
        meta,
        opver: { counter: BigInt(i + 1), nodeId: 1 },
        data,
        dataBytes: 4096,
      }),
    );
  } finally {
    await v.close();
  }
}

/** Pages of 1000 over the 4 KiB objects, repeated for at least one second. */
async function listRate(node: StorageNode, total: number): Promise<number> {
  let keys = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    let after: Buffer | undefined;
    for (;;) {
      const page = await node.listObjects('bench', { prefix: Buffer.from('s/'), after, limit: 1000 });
      keys += page.length;
      if (page.length < 1000) break;
      after = page.at(-1)!.key;
    }
    if (total === 0) break;
  }
  return keys / ((performance.now() - start) / 1000);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      seconds: { type: 'string' },
      writers: { type: 'string' },
      durability: { type: 'string' },
    },
  });
  const r = await benchStorage({
    dir: values.dir,
    seconds: values.seconds ? Number(values.seconds) : undefined,
    writers: values.writers ? Number(values.writers) : undefined,
    durability: values.durability === 'none' ? 'none' : 'fsync',
  });
  process.stdout.write(
    Object.entries(r)
      .map(([k, v]) => `${k.padEnd(24)} ${v.toFixed(2)}\n`)
      .join(''),
  );
}
