// The recovery pull's rate on this machine, against the raw disk measured in the same run: a source node filled
// with mixed objects is served over its internal HTTP API on 127.0.0.1 and an empty node pulls it (the same
// pullKeys + copyKey a recovering node runs: scanStates pages with small versions' bytes, 32 keys in flight,
// larger bodies streamed).
//   node --import tsx bench/recovery-pull.ts [--objects 2000] [--dir DIR] [--concurrency 32]
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StorageClient } from '../storage/http-client.ts';
import { createStorageServer } from '../storage/http-server.ts';
import { StorageNode } from '../storage/node.ts';
import { pullKeys } from '../storage/recovery-pull-keys.ts';
import { copyScanned } from '../storage/replica-scan.ts';
import { putInput } from '../storage/testing/harness.ts';
import { measureDisk } from './disk.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2000' },
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '32' },
  },
});
const count = Number(values.objects);
const root = values.dir ?? (await mkdtemp(join(tmpdir(), 'quire-pull-bench-')));

/** Mixed sizes: 70 % 1–16 KiB, 25 % 16–256 KiB, 5 % 1–3 MiB (deterministic). */
function sizeOf(i: number): number {
  const r = (i * 2654435761) % 1000;
  if (r < 700) return 1024 + ((i * 7919) % (15 * 1024));
  if (r < 950) return 16 * 1024 + ((i * 7919) % (240 * 1024));
  return 1024 * 1024 + ((i * 7919) % (2 * 1024 * 1024));
}

const open = (name: string, nodeId: number) =>
  StorageNode.open({
    dataDir: join(root, name),
    nodeId,
    volumes: [
      {
        dir: join(root, name, 'volumes', 'v1'),
        volumeId: 'v1',
        maxBytes: 64 * 2 ** 30,
        reservedFreeBytes: 0,
      },
    ],
  });

const source = await open('source', 1);
let bytes = 0;
const filler = Buffer.alloc(3 * 1024 * 1024);
for (let i = 0; i < filler.length; i += 4) filler.writeUInt32LE((i * 2654435761) >>> 0, i);
let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++;
      const size = sizeOf(i);
      bytes += size;
      await source.putObject(
        putInput('bench', `obj/${String(i).padStart(6, '0')}`, filler.subarray(i % 1024, (i % 1024) + size)),
      );
    }
  }),
);
const server = createStorageServer(source);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const client = new StorageClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
const dest = await open('dest', 2);

const started = performance.now();
let copied = 0;
let copiedBytes = 0;
await pullKeys({
  source: client,
  copy: async (ref, scanned) => {
    const r = await copyScanned({ from: client, to: dest, ref, scanned });
    return { applied: r.applied, bytes: r.bytes };
  },
  concurrency: Number(values.concurrency),
  onCursor: (_c, r) => {
    copied++;
    copiedBytes += r.bytes;
  },
});
const seconds = (performance.now() - started) / 1000;
await client.close();
server.close();
if ((await dest.stats()).objects !== count)
  throw new Error(`pulled ${(await dest.stats()).objects} of ${count}`);
await source.close();
await dest.close();
const disk = await measureDisk({ dir: join(root, 'disk'), sequentialBytes: 512 << 20, syncDurationMs: 2000 });
if (!values.dir) await rm(root, { recursive: true, force: true });
const mbps = copiedBytes / seconds / 1e6;
const figures = {
  objects: copied,
  bytes: copiedBytes,
  writtenBytes: bytes,
  seconds: Number(seconds.toFixed(2)),
  pullMBps: Number(mbps.toFixed(1)),
  pullObjectsPerSecond: Math.round(copied / seconds),
  diskSequentialMBps: Number(disk.sequentialMBps.toFixed(1)),
  diskSyncOpsPerSecond: Math.round(disk.syncOpsPerSec),
  ratioToSequential: Number((mbps / disk.sequentialMBps).toFixed(3)),
  ratioObjectsToSyncOps: Number((copied / seconds / disk.syncOpsPerSec).toFixed(3)),
};
console.log(JSON.stringify(figures, null, 2));
