// One seeded simulation run of a volume on a SimDisk: batches of concurrent puts (small, singlefile,
// same-size rewrites that may go in place), replacements, deletes, reads and compactions; crashes
// at random disk operations (mid-write included), during recovery and during clean closes; reopen;
// and after every step the checks:
//   - every acknowledged write is present and byte-exact, deletes stay deleted;
//   - a key shows its last acknowledged version or one that was in flight at the crash, never a mix
//     (a read returns one whole version or a typed error);
//   - space adds up: in each chunkfile the live allocations, holes and quarantined bytes tile it
//     exactly, nothing overlaps, and the scan finds exactly the live entries the caller holds.
import { Rng } from '../../common/testing/rng.ts';
import { SimDisk } from '../../common/testing/sim-disk.ts';
import type { VolumeCore } from '../core.ts';
import { EntryNotFoundError } from '../errors.ts';
import { HEADER_BYTES } from '../layout.ts';
import type { EntryMoved, Location, OpenVolumeOptions } from '../types.ts';
import { Volume } from '../volume.ts';

const DIR = '/sim/vol';
const KEYS = 40;
const SMALL_MAX = 4096;

/** null: the key is absent (never written or deleted). */
type Version = { readonly counter: number; readonly data: Buffer } | null;

interface KeyState {
  readonly key: Buffer;
  /** What the last acknowledged op left. */
  acked: Version;
  /** Where `acked` lives, while present. */
  loc: Location | undefined;
  /** Ops issued after `acked` and not acknowledged (at most one runs at a time). */
  inflight: Version[];
  busy: boolean;
  /** Every version ever issued for the key, by counter (what a racing read may return). */
  readonly history: Map<number, Buffer>;
}

export interface SimRunOptions {
  readonly seed: number;
  readonly steps: number;
  /** Called with a line per op and event (debugging a failing seed). */
  readonly trace?: (line: string) => void;
}

export class SimFailure extends Error {}

export async function runPackingSim(o: SimRunOptions): Promise<{ crashes: number; ops: number }> {
  const rng = new Rng(o.seed);
  let step = 0;
  let disk = new SimDisk(rng, { maxDelayTurns: 2 });
  const keys: KeyState[] = Array.from({ length: KEYS }, (_, i) => ({
    key: Buffer.from(`key-${i.toString().padStart(3, '0')}`),
    acked: null,
    loc: undefined,
    inflight: [],
    busy: false,
    history: new Map(),
  }));
  /** Bumped at each crash: acknowledgements from a dead generation are ignored. */
  let generation = 0;
  let counter = 0;
  let crashes = 0;
  let ops = 0;
  /** Moves reported by the volume of one generation (a dead one's are ignored). */
  const movedIn = (gen: number) => (m: EntryMoved) => {
    if (gen !== generation) return;
    const k = keys.find((s) => s.key.equals(m.key));
    o.trace?.(`step ${step} moved ${m.key} ${JSON.stringify(m.from)} -> ${JSON.stringify(m.to)}`);
    if (k?.loc && sameLoc(k.loc, m.from)) k.loc = m.to;
  };
  const volOpts = (): OpenVolumeOptions => ({
    disk,
    chunkBytes: 64 * 1024,
    smallObjectMaxBytes: SMALL_MAX,
    writeLanes: rng.between(1, 2),
    onMoved: movedIn(generation),
    clock: () => step,
  });
  const fail = (what: string): never => {
    throw new SimFailure(
      `seed ${o.seed} step ${step}: ${what} (replay: QUIRE_SIM_SEED=${o.seed} npm test -- packing/sim)`,
    );
  };

  let vol = await Volume.create(DIR, {
    ...volOpts(),
    volumeId: 'sim',
    maxBytes: 1024 ** 4,
    reservedFreeBytes: 0,
  });

  for (step = 1; step <= o.steps; step++) {
    const crashThisStep = rng.chance(0.25);
    if (crashThisStep) disk.crashAfterOps(rng.between(1, 120));
    const batch: Promise<void>[] = [];
    const n = rng.between(1, 8);
    for (let i = 0; i < n; i++) {
      const free = keys.filter((k) => !k.busy);
      if (free.length === 0) break;
      const k = rng.pick(free);
      const r = rng.float();
      ops += 1;
      if (r < 0.12) batch.push(readCheck(vol, k, generation, () => generation, fail));
      else if (r < 0.25 && k.acked) {
        o.trace?.(`step ${step} delete ${k.key} at ${JSON.stringify(k.loc)}`);
        batch.push(track(k, null, () => vol.delete(k.loc!).then(() => undefined)));
      } else if (r < 0.3 && !k.busy) {
        o.trace?.(`step ${step} compact`);
        batch.push(compactQuietly(vol, rng));
      } else {
        const size = pickSize(rng, k);
        const data = rng.bytes(size);
        const v = { counter: ++counter, data };
        k.history.set(v.counter, data);
        const replaces = k.acked ? k.loc : undefined;
        o.trace?.(`step ${step} put ${k.key} v${v.counter} ${size}B replaces ${JSON.stringify(replaces)}`);
        batch.push(
          track(k, v, () =>
            vol
              .put({
                key: k.key,
                meta: Buffer.from(String(v.counter)),
                opver: { counter: BigInt(v.counter), nodeId: 1 },
                data,
                dataBytes: size,
                ...(replaces ? { replaces } : {}),
              })
              .then((e) => e.location),
          ),
        );
      }
    }
    const all = Promise.all(batch).then(() => 'done' as const);
    const outcome = await Promise.race([all, disk.crashed.then(() => 'crash' as const)]);
    if (outcome === 'crash') {
      crashes += 1;
      o.trace?.(`step ${step} CRASH after ${disk.ops} disk ops`);
      generation += 1;
      // Let acknowledgements that completed before the crash run their callbacks.
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      for (const k of keys) k.busy = false;
      vol = await reopen();
      await checkAfterCrash(vol, keys, fail);
    } else if (crashThisStep) {
      disk.crashAfterOps(Number.POSITIVE_INFINITY);
    }
    await checkQuiet(vol, keys, fail);
    if (rng.chance(0.08)) {
      // A restart: a clean close (the summary makes the next open fast), sometimes cut by a crash.
      const cut = rng.chance(0.5);
      if (cut) disk.crashAfterOps(rng.between(1, 30));
      o.trace?.(`step ${step} restart${cut ? ' (crash during close)' : ''}`);
      const closed = await Promise.race([vol.close().then(() => true), disk.crashed.then(() => false)]);
      generation += 1;
      if (closed) {
        disk.crashAfterOps(Number.POSITIVE_INFINITY);
        vol = await Volume.open(DIR, volOpts()).catch((err) => fail(`open after a clean close: ${err}`));
      } else {
        crashes += 1;
        vol = await reopen();
      }
      await checkAfterCrash(vol, keys, fail);
      await checkQuiet(vol, keys, fail);
    }
  }
  o.trace?.('close');
  await vol.close();
  o.trace?.('reopen after a clean close');
  vol = await Volume.open(DIR, volOpts());
  await checkAfterCrash(vol, keys, fail);
  await checkQuiet(vol, keys, fail);
  await vol.close();
  return { crashes, ops };

  /** Opens what the crash left; sometimes crashes again during the recovery itself, and again reopens. */
  async function reopen(): Promise<Volume> {
    for (;;) {
      disk = disk.afterCrash();
      const again = rng.chance(0.25);
      if (again) disk.crashAfterOps(rng.between(1, 80));
      const opened = await Promise.race([
        Volume.open(DIR, volOpts()).catch((err) => fail(`reopen failed: ${err?.stack ?? err}`)),
        disk.crashed.then(() => undefined),
      ]);
      if (opened) {
        disk.crashAfterOps(Number.POSITIVE_INFINITY);
        return opened;
      }
      o.trace?.(`step ${step} CRASH during recovery after ${disk.ops} disk ops`);
    }
  }

  /** Runs one op on key k; acknowledged when it resolves (unless the disk died under it). */
  function track(k: KeyState, v: Version, run: () => Promise<Location | undefined>): Promise<void> {
    k.busy = true;
    k.inflight.push(v);
    const gen = generation;
    return run().then(
      (loc) => {
        if (gen !== generation) return;
        o.trace?.(`step ${step} ack ${k.key} ${v ? `v${v.counter} at ${JSON.stringify(loc)}` : 'deleted'}`);
        k.acked = v;
        k.loc = v ? loc : undefined;
        k.inflight = [];
        k.busy = false;
      },
      (err) => {
        if (gen === generation) fail(`op on ${k.key} failed: ${err?.stack ?? err}`);
      },
    );
  }
}

function pickSize(rng: Rng, k: KeyState): number {
  const r = rng.float();
  if (k.acked && r < 0.4) return k.acked.data.length; // same size: may go in place
  if (r < 0.55) return rng.between(SMALL_MAX, SMALL_MAX * 4); // singlefile
  if (r < 0.6) return 0;
  return rng.between(1, 1500);
}

async function compactQuietly(vol: Volume, rng: Rng): Promise<void> {
  try {
    await vol.compact({ liveRatioBelow: rng.pick([0.3, 0.6, 0.95]) });
  } catch (err) {
    if ((err as { code?: string }).code !== 'COMPACTION_RUNNING') throw err;
  }
}

/**
 * A read of the acknowledged location returns one whole version of the key (that one, or a later
 * one written over it in place while the read ran), or says the entry is gone.
 */
async function readCheck(
  vol: Volume,
  k: KeyState,
  gen: number,
  currentGen: () => number,
  fail: (w: string) => never,
): Promise<void> {
  const v = k.acked;
  const loc = k.loc;
  if (!v || !loc) return;
  try {
    const got = await vol.read(loc);
    if (gen !== currentGen()) return;
    const ok = [...k.history].some(([c, data]) => c >= v.counter && data.equals(got));
    if (!ok) fail(`read of ${k.key} returned bytes of no version it had`);
  } catch (err) {
    if (gen === currentGen() && !(err instanceof EntryNotFoundError)) fail(`read of ${k.key} failed: ${err}`);
  }
}

/** After reopening: each key holds its acknowledged version or one that was in flight. */
async function checkAfterCrash(vol: Volume, keys: KeyState[], fail: (w: string) => never): Promise<void> {
  const found = new Map<string, { counter: number; loc: Location }>();
  for await (const e of vol.scan()) {
    const name = e.key.toString();
    if (found.has(name)) fail(`${name} is live twice after reopen`);
    found.set(name, { counter: Number(e.opver.counter), loc: e.location });
  }
  for (const k of keys) {
    const f = found.get(k.key.toString());
    const allowed = [k.acked, ...k.inflight];
    const match = allowed.find((v) => (v === null ? f === undefined : f?.counter === v.counter));
    if (match === undefined) {
      const want = allowed.map((v) => (v ? v.counter : 'absent')).join(' or ');
      fail(`${k.key} is ${f ? `version ${f.counter}` : 'absent'} after the crash; expected ${want}`);
    }
    k.acked = match;
    k.loc = f?.loc;
    k.inflight = [];
  }
  if (found.size !== keys.filter((k) => k.acked).length) fail('the scan found keys never written');
}

/** With nothing in flight: bytes exact, and every chunkfile tiled by live + holes + quarantined. */
async function checkQuiet(vol: Volume, keys: KeyState[], fail: (w: string) => never): Promise<void> {
  const live: Location[] = [];
  for (const k of keys) {
    if (!k.acked) continue;
    const got = await vol.read(k.loc!).catch((err) => fail(`acknowledged ${k.key} unreadable: ${err}`));
    if (!got.equals(k.acked.data)) fail(`acknowledged ${k.key} has wrong bytes`);
    live.push(k.loc!);
  }
  checkTiling(vol, live, fail);
  let scanned = 0;
  for await (const _ of vol.scan()) scanned += 1;
  if (scanned !== live.length) fail(`scan finds ${scanned} live entries, the caller holds ${live.length}`);
}

/**
 * Live allocations (the locations the caller holds), holes and quarantined bytes tile each chunkfile of
 * a quiet volume exactly: nothing overlaps, nothing leaks.
 */
export function checkTiling(vol: Volume, live: readonly Location[], fail: (w: string) => never): void {
  const core = (vol as unknown as { core: VolumeCore }).core;
  for (const [id, f] of core.chunks) {
    const spans = [
      ...live
        .filter((l) => l.kind === 'chunk' && l.fileId === id)
        .map((l) => [l.offset, l.allocBytes, 'live']),
      ...core.free.extentsOf(id).map((e) => [e.offset, e.size, 'hole']),
    ] as Array<[number, number, string]>;
    spans.sort((a, b) => a[0] - b[0]);
    let at = HEADER_BYTES;
    let gaps = 0;
    for (const [off, size, what] of spans) {
      if (off < at) fail(`chunkfile ${id}: ${what} at ${off} overlaps the span ending at ${at}`);
      gaps += off - at;
      at = off + size;
    }
    if (at > f.end) fail(`chunkfile ${id}: spans end at ${at}, past the file end ${f.end}`);
    gaps += f.end - at;
    if (gaps !== f.deadBytes) {
      const map = spans.map(([off, size, what]) => `${what}@${off}+${size}`).join(' ');
      fail(
        `chunkfile ${id} (end ${f.end}): ${gaps} bytes neither live nor hole, ${f.deadBytes} quarantined: ${map}`,
      );
    }
  }
}

function sameLoc(a: Location, b: Location): boolean {
  return a.kind === b.kind && a.fileId === b.fileId && a.offset === b.offset;
}
