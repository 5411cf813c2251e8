// Child of crash.test.ts: opens (or creates) a volume and runs puts, replaces, deletes and compactions
// until it is killed. Prints `B key ver kind` before and `A key ver kind` after each durable operation.
import { appendFileSync, writeSync } from 'node:fs';
import type { Location } from '../types.ts';
import { Volume } from '../volume.ts';
import { CRASH_OPTS, dataFor, KEYS, keyBuf, sizeFor, WORKERS } from './crash-workload.ts';

const [dir, seedArg, create] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0 || 1;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 4294967296;
}

const index = new Map<number, { loc: Location; ver: number }>();
const versions = new Map<number, number>();
const opts = {
  ...CRASH_OPTS,
  onMoved: (m: { key: Buffer; from: Location; to: Location }) => {
    const k = Number(m.key.toString().slice(4));
    const cur = index.get(k);
    if (
      cur &&
      cur.loc.kind === m.from.kind &&
      cur.loc.fileId === m.from.fileId &&
      cur.loc.offset === m.from.offset
    ) {
      cur.loc = m.to;
    }
  },
};
const v =
  create === 'create'
    ? await Volume.create(dir!, { ...opts, volumeId: 'crash', maxBytes: 2 ** 40, reservedFreeBytes: 0 })
    : await Volume.open(dir!, opts);
for await (const e of v.scan()) {
  const k = Number(e.key.toString().slice(4));
  index.set(k, { loc: e.location, ver: Number(e.opver.counter) });
}
for (let k = 0; k < KEYS; k++) versions.set(k, index.get(k)?.ver ?? 0);

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Synchronous write of a whole line to stdout; the pipe is non-blocking, so wait out EAGAIN. */
function writeLine(text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

const debugLog = process.env.CRASH_CHILD_LOG;
function say(line: string, extra = ''): void {
  // writeSync: an acknowledgement is in the pipe before the next operation starts (process.stdout on a
  // pipe may buffer, and a SIGKILL would drop what it buffered).
  writeLine(`${line}\n`);
  if (debugLog) appendFileSync(debugLog, `${line} ${extra}\n`);
}

async function worker(w: number): Promise<void> {
  for (;;) {
    const k = w + WORKERS * Math.floor(rand() * (KEYS / WORKERS));
    const ver = versions.get(k)! + 1;
    versions.set(k, ver);
    const cur = index.get(k);
    if (cur && rand() < 0.3) {
      say(`B ${k} ${ver} del`, JSON.stringify(cur.loc));
      await v.delete(cur.loc);
      index.delete(k);
      say(`A ${k} ${ver} del`);
    } else {
      say(`B ${k} ${ver} put`, JSON.stringify(cur?.loc));
      const data = dataFor(k, ver);
      const e = await v.put({
        key: keyBuf(k),
        meta: Buffer.from(`v${ver}`),
        opver: { counter: BigInt(ver), nodeId: 1 },
        data,
        dataBytes: sizeFor(k, ver),
        replaces: cur?.loc,
      });
      index.set(k, { loc: e.location, ver });
      say(`A ${k} ${ver} put`, JSON.stringify(e.location));
    }
  }
}

async function compactor(): Promise<void> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    await v.compact({ liveRatioBelow: 0.6 });
  }
}

/** Checkpoints often, so kills land before, during and after them and reopening reads only changes. */
async function checkpointer(): Promise<void> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 20 + Math.floor(rand() * 40)));
    await v.checkpoint();
  }
}

say('READY');
await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), compactor(), checkpointer()]);
