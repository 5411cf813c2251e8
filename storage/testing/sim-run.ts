// One seeded simulation run of a storage node: volumes, binlog and the node's small files on a SimDisk,
// the LMDB index a real file; the node starts on an empty disk. Batches of concurrent S3-level puts
// (inline, same-size rewrites, blobs), multipart uploads (completed or aborted), deletes, GETs and
// compactions; crashes at random disk operations, during recovery and during clean restarts; reopen on
// what the crash left (the index either kept as LMDB had committed it, or lost). After every step:
//   - every acknowledged write reads back byte-exact with its own size and ETag; deletes stay deleted;
//   - a key shows its last acknowledged version or one that was in flight, never a mix; a GET racing a
//     write returns one whole version (body, size, ETag together) or NoSuchKey;
//   - the listing shows exactly the present keys;
//   - the volume holds exactly the entries the index points at, tiled with the holes (no leak, no overlap);
//   - the binlog's newest record of each key says what the key holds.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Disk, DiskFile, OpenFlags } from '../../common/disk.ts';
import { Rng } from '../../common/testing/rng.ts';
import { SimDisk } from '../../common/testing/sim-disk.ts';
import { checkTiling } from '../../packing/test-support/sim-run.ts';
import type { Volume } from '../../packing/volume.ts';
import type { PutObjectInput } from '../api.ts';
import { StorageNode } from '../node.ts';
import {
  decodeObjectValue,
  decodePartValue,
  decodeTombstoneValue,
  decodeUploadValue,
  type VolLoc,
} from '../records.ts';
import type { Location } from '../volume-port.ts';

const KEYS = 24;
const SMALL_MAX = 4096;
const BUCKET = 'b';

/** null: absent. `n` orders the versions of one key by issue. */
type Version =
  | { readonly n: number; readonly data: Buffer; readonly etag: string }
  | { readonly n: number; readonly data: null };

interface KeyState {
  readonly key: Buffer;
  acked: Version;
  /** Issued after `acked`, not acknowledged. */
  inflight: Version[];
  busy: boolean;
  /** Every version issued, in order. */
  readonly history: Version[];
}

export interface StorageSimOptions {
  readonly seed: number;
  readonly steps: number;
  /** A real, empty directory for the LMDB index files of each generation. */
  readonly realDir: string;
  readonly trace?: (line: string) => void;
}

export class SimFailure extends Error {}

const HEADERS = { contentType: 'application/octet-stream', userMeta: {} };
const NOW = 1_700_000_000_000;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export async function runStorageSim(o: StorageSimOptions): Promise<{ crashes: number; ops: number }> {
  const rng = new Rng(o.seed);
  let step = 0;
  let generation = 0;
  let crashes = 0;
  let ops = 0;
  const fail = (what: string): never => {
    throw new SimFailure(
      `seed ${o.seed} step ${step}: ${what} (replay: QUIRE_SIM_SEED=${o.seed} npm test -- storage/sim)`,
    );
  };
  let sim = new SimDisk(rng, { maxDelayTurns: 2 });
  // Nothing exists yet but '/': the node creates its data directory and volumes on first start.
  const keys: KeyState[] = Array.from({ length: KEYS }, (_, i) => {
    const absent: Version = { n: 0, data: null };
    return { key: Buffer.from(`obj/${i}`), acked: absent, inflight: [], busy: false, history: [absent] };
  });
  const tuning = { chunkBytes: 64 * 1024, smallObjectMaxBytes: SMALL_MAX, writeLanes: rng.between(1, 2) };
  const indexSync = rng.pick(['ack', 'background'] as const);
  const volumeCount = rng.between(1, 2);
  const open = async (): Promise<StorageNode> => {
    const dataDir = join(o.realDir, `g${generation}`);
    await mkdir(dataDir, { recursive: true });
    return StorageNode.open({
      dataDir,
      nodeId: 1,
      volumes: Array.from({ length: volumeCount }, (_, i) => ({
        dir: `/data/volumes/v${i + 1}`,
        volumeId: `v${i + 1}`,
        maxBytes: 1024 ** 4,
        reservedFreeBytes: 0,
      })),
      disk: new RebasedDisk(sim, dataDir, '/data'),
      smallObjectMaxBytes: SMALL_MAX,
      volumeTuning: tuning,
      indexSync,
      binlogMaxFileBytes: 16 * 1024,
      minPartBytes: 100,
      random: (n) => rng.bytes(n),
    });
  };
  let node = await open();
  let counter = 0;

  for (step = 1; step <= o.steps; step++) {
    const crashThisStep = rng.chance(0.3);
    if (crashThisStep) sim.crashAfterOps(rng.between(1, 150));
    const batch: Promise<void>[] = [];
    const n = rng.between(1, 6);
    for (let i = 0; i < n; i++) {
      const free = keys.filter((k) => !k.busy);
      const k = rng.pick(free);
      const r = rng.float();
      ops += 1;
      if (r < 0.15) batch.push(getCheck(node, k, generation));
      else if (r < 0.3 && k.acked.data)
        batch.push(track(k, { n: ++counter, data: null }, () => node.deleteObject(BUCKET, k.key)));
      else if (r < 0.35) {
        o.trace?.(`step ${step} compact`);
        batch.push(compact(node, rng));
      } else if (r < 0.45) batch.push(multipart(node, k));
      else if (r < 0.55) batch.push(replicate(node, k));
      else {
        const data = rng.bytes(pickSize(rng, k));
        const v: Version = { n: ++counter, data, etag: md5(data) };
        batch.push(track(k, v, () => node.putObject(putInput(k.key, data))));
      }
    }
    const outcome = await Promise.race([
      Promise.all(batch).then(() => 'done' as const),
      sim.crashed.then(() => 'crash' as const),
    ]);
    if (outcome === 'crash') {
      o.trace?.(`step ${step} CRASH after ${sim.ops} disk ops`);
      await recoverFromCrash();
    } else if (crashThisStep) sim.crashAfterOps(Number.POSITIVE_INFINITY);
    await checkQuiet(node, keys, fail);
    if (rng.chance(0.08)) {
      // A restart: a clean close (the index is trusted on the next open), sometimes cut by a crash.
      const cut = rng.chance(0.5);
      if (cut) sim.crashAfterOps(rng.between(1, 30));
      o.trace?.(`step ${step} restart${cut ? ' (crash during close)' : ''}`);
      const closed = await Promise.race([node.close().then(() => true), sim.crashed.then(() => false)]);
      if (closed) {
        sim.crashAfterOps(Number.POSITIVE_INFINITY);
        node = await open().catch((err) => fail(`open after a clean close: ${err?.stack ?? err}`));
      } else await recoverFromCrash();
      await checkAfterCrash(node, keys, fail);
      await checkQuiet(node, keys, fail);
    }
  }
  await node.close();
  node = await open();
  await checkAfterCrash(node, keys, fail);
  await checkQuiet(node, keys, fail);
  await node.close();
  return { crashes, ops };

  /** After a crash: the index kept (a consistent copy of what LMDB had committed) or lost; reopen. */
  async function recoverFromCrash(): Promise<void> {
    crashes += 1;
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    const keepIndex = rng.chance(0.7);
    generation += 1;
    if (keepIndex) {
      await mkdir(join(o.realDir, `g${generation}`, 'index'), { recursive: true });
      await node.index.env.backup(join(o.realDir, `g${generation}`, 'index'), false);
    }
    o.trace?.(`index ${keepIndex ? 'kept' : 'lost'}`);
    for (const k of keys) k.busy = false;
    node = await reopen();
    await checkAfterCrash(node, keys, fail);
  }

  /**
   * Opens on what the crash left; sometimes crashes again during recovery itself (then the next try
   * starts without an index: the hung node's LMDB cannot be copied consistently), and reopens.
   */
  async function reopen(): Promise<StorageNode> {
    for (;;) {
      sim = sim.afterCrash();
      if (rng.chance(0.2)) sim.crashAfterOps(rng.between(1, 100));
      const opened = await Promise.race([
        open().catch((err) => fail(`reopen failed: ${err?.stack ?? err}`)),
        sim.crashed.then(() => undefined),
      ]);
      if (opened) {
        sim.crashAfterOps(Number.POSITIVE_INFINITY);
        return opened;
      }
      o.trace?.(`step ${step} CRASH during recovery after ${sim.ops} disk ops`);
      generation += 1;
    }
  }

  function track(k: KeyState, v: Version, run: () => Promise<unknown>): Promise<void> {
    k.busy = true;
    k.inflight.push(v);
    k.history.push(v);
    const gen = generation;
    o.trace?.(
      `step ${step} ${v.data ? `put ${k.key} #${v.n} ${v.data.length}B` : `delete ${k.key} #${v.n}`}`,
    );
    return run().then(
      () => {
        if (gen !== generation) return;
        o.trace?.(`step ${step} ack ${k.key} #${v.n}`);
        k.acked = v;
        k.inflight = [];
        k.busy = false;
      },
      (err) => {
        if (gen === generation) fail(`op on ${k.key} failed: ${err?.stack ?? err}`);
      },
    );
  }

  /**
   * A multipart upload of 1-3 parts on key k, then complete (a new version of k) or abort (no change).
   * A crash leaves the upload in flight: its parts and marker must stay accounted for (checkQuiet).
   */
  async function multipart(node: StorageNode, k: KeyState): Promise<void> {
    const count = rng.between(1, 3);
    const parts: Buffer[] = Array.from({ length: count }, (_, i) =>
      rng.bytes(i === count - 1 ? rng.between(1, 3000) : rng.between(100, 3000)),
    );
    const completing = rng.chance(0.7);
    const data = Buffer.concat(parts);
    const etag = `${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))}-${parts.length}`;
    const v: Version = completing ? { n: ++counter, data, etag } : k.acked;
    return track(k, v, async () => {
      const id = await node.createUpload(BUCKET, k.key, HEADERS, NOW);
      const done: Array<{ partNumber: number; etag: string }> = [];
      for (const [i, p] of parts.entries()) {
        const fin = await node.uploadPart({
          ...putInput(k.key, p),
          uploadId: id,
          partNumber: i + 1,
        });
        done.push({ partNumber: i + 1, etag: fin.etag });
      }
      o.trace?.(`step ${step} ${completing ? 'complete' : 'abort'} ${k.key} upload ${id}`);
      if (completing) await node.completeUpload(BUCKET, k.key, id, done, NOW);
      else await node.abortUpload(BUCKET, k.key, id);
    });
  }

  /**
   * A state of k replicated from another node (replica.ts): a newer write or removal, which this node applies
   * like a local write or delete (its opver, no binlog record), or the state k holds now again (stale).
   */
  async function replicate(node: StorageNode, k: KeyState): Promise<void> {
    const r = rng.float();
    const opver = { counter: node.counter + BigInt(rng.between(1, 50)), nodeId: 2 };
    const base = { bucket: BUCKET, key: k.key, versionId: 'null' };
    if (r < 0.2) {
      // Tracked (busy) before the first await: no other op of this batch may pick k meanwhile.
      return track(k, k.acked, async () => {
        const [held] = await node.replicaStates(BUCKET, k.key);
        if (!held) return;
        const res = await node.applyReplica({ state: held, body: putInput(k.key, Buffer.alloc(0)).body });
        if (res !== 'stale') fail(`the state ${k.key} holds was applied again`);
      });
    }
    if (r < 0.4) {
      o.trace?.(`step ${step} replicated removal of ${k.key} at ${opver.counter}`);
      return track(k, { n: ++counter, data: null }, () => node.applyReplica({ state: { ...base, opver } }));
    }
    const data = rng.bytes(pickSize(rng, k));
    const v: Version = { n: ++counter, data, etag: md5(data) };
    o.trace?.(`step ${step} replicated write of ${k.key} at ${opver.counter}`);
    const record = {
      ...base,
      size: data.length,
      etag: v.etag,
      lastModifiedMs: NOW,
      headers: HEADERS,
      checksums: {},
      opver,
    };
    return track(k, v, () =>
      node.applyReplica({ state: { ...base, opver, record }, body: putInput(k.key, data).body }),
    );
  }

  /** A GET racing writes returns one whole version issued no earlier than the acknowledged one. */
  async function getCheck(node: StorageNode, k: KeyState, gen: number): Promise<void> {
    const from = k.history.indexOf(k.acked);
    try {
      const got = await readObject(node, k.key);
      if (gen !== generation) return;
      const ok = k.history.slice(from).some((v) => sameVersion(v, got));
      if (!ok) fail(`GET ${k.key} returned ${describe(got)}, no version it could show`);
    } catch (err) {
      if (gen === generation) fail(`GET ${k.key} failed: ${(err as Error)?.stack ?? err}`);
    }
  }
}

type Read = { data: Buffer; etag: string; size: number } | null;

async function readObject(node: StorageNode, key: Buffer): Promise<Read> {
  const h = await node.openObject(BUCKET, key);
  if (!h) return null;
  try {
    const parts: Buffer[] = [];
    for await (const c of h.stream()) parts.push(c);
    return { data: Buffer.concat(parts), etag: h.record.etag, size: h.record.size };
  } finally {
    h.release();
  }
}

function sameVersion(v: Version, got: Read): boolean {
  if (v.data === null || got === null) return v.data === null && got === null;
  return got.data.equals(v.data) && got.size === v.data.length && got.etag === v.etag;
}

function describe(got: Read): string {
  return got ? `${got.size}B etag ${got.etag} body md5 ${md5(got.data)}` : 'nothing';
}

function pickSize(rng: Rng, k: KeyState): number {
  const r = rng.float();
  if (k.acked.data && r < 0.4) return k.acked.data.length;
  if (r < 0.55) return rng.between(SMALL_MAX + 1, SMALL_MAX * 4);
  if (r < 0.6) return 0;
  return rng.between(1, 1500);
}

function putInput(key: Buffer, data: Buffer): PutObjectInput {
  return {
    bucket: BUCKET,
    key,
    size: data.length,
    body: (async function* () {
      for (let i = 0; i < data.length; i += 1000) yield data.subarray(i, i + 1000);
    })(),
    headers: HEADERS,
    nowMs: NOW,
    finish: async () => ({ etag: md5(data), checksums: {} }),
  };
}

async function compact(node: StorageNode, rng: Rng): Promise<void> {
  const vol = rng.pick([...node.volumes.values()]) as unknown as Volume;
  try {
    // As the node's background compactor runs it: the moved rows durable before a file is retired.
    await vol.compact({
      liveRatioBelow: rng.pick([0.3, 0.6, 0.95]),
      beforeRetire: async () => {
        await node.rows.settled();
        await node.index.env.flushed;
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code !== 'COMPACTION_RUNNING') throw err;
  }
}

/** After reopening: each key holds its acknowledged version or one that was in flight. */
async function checkAfterCrash(
  node: StorageNode,
  keys: KeyState[],
  fail: (w: string) => never,
): Promise<void> {
  for (const k of keys) {
    const got = await readObject(node, k.key).catch((err) =>
      fail(`GET ${k.key} after reopen: ${err?.stack ?? err}`),
    );
    const match = [k.acked, ...k.inflight].find((v) => sameVersion(v, got));
    if (!match) {
      const want = [k.acked, ...k.inflight].map((v) =>
        v.data ? `#${v.n} (${v.data.length}B)` : `absent #${v.n}`,
      );
      fail(`${k.key} is ${describe(got)} after the crash; expected ${want.join(' or ')}`);
    }
    k.acked = match;
    k.inflight = [];
  }
}

/** Quiet: bytes exact, the listing exact, and the volume holds exactly what the index points at. */
async function checkQuiet(node: StorageNode, keys: KeyState[], fail: (w: string) => never): Promise<void> {
  const opvers = new Map<string, bigint>();
  /** Keys whose newest state (write or removal) was replicated from another node: no record of this one. */
  const foreign = new Set<string>();
  for (const k of keys) {
    const h = await node.openObject(BUCKET, k.key);
    if (h) {
      opvers.set(k.key.toString(), h.record.opver.counter);
      h.release();
    }
    const [held] = await node.replicaStates(BUCKET, k.key);
    if (held && held.opver.nodeId !== node.clock.nodeId) foreign.add(k.key.toString());
    const got = await readObject(node, k.key).catch((err) => fail(`GET ${k.key}: ${err?.stack ?? err}`));
    if (!sameVersion(k.acked, got)) fail(`${k.key} is ${describe(got)}, acknowledged #${k.acked.n}`);
  }
  await checkBinlog(
    node,
    keys.filter((k) => !foreign.has(k.key.toString())),
    opvers,
    fail,
  );
  const listed = await node.listObjects(BUCKET, { prefix: Buffer.alloc(0), limit: 1000 });
  const present = keys.filter((k) => k.acked.data !== null);
  const want = present.map(
    (k) => `${k.key}:${(k.acked.data as Buffer).length}:${(k.acked as { etag: string }).etag}`,
  );
  const got = listed.map((l) => `${l.key}:${l.size}:${l.etag}`);
  if (want.sort().join(' ') !== got.sort().join(' '))
    fail(`listing shows ${got.join(' ')}; expected ${want.join(' ')}`);
  await node.rows.settle(); // 'background' index sync: rows may still be on their way to LMDB
  const referenced: VolLoc[] = [];
  for (const { value } of node.index.objects.getRange({ snapshot: false })) {
    const v = decodeObjectValue(Buffer.from(value));
    referenced.push(v.at);
    if (v.blobAt) referenced.push(v.blobAt);
  }
  for (const { value } of node.index.uploads.getRange({ snapshot: false })) {
    referenced.push(decodeUploadValue(Buffer.from(value)).at);
  }
  // Removed versions' tombstones (replica-tombstones.ts) keep their entries.
  for (const { value } of node.index.tombstones.getRange({ snapshot: false })) {
    const at = decodeTombstoneValue(Buffer.from(value)).at;
    if (at) referenced.push(at);
  }
  for (const { value } of node.index.parts.getRange({ snapshot: false })) {
    const v = decodePartValue(Buffer.from(value));
    referenced.push(v.at);
    if (v.blobAt) referenced.push(v.blobAt);
  }
  const key = (v: string, l: Location) => `${v}/${l.kind}:${l.fileId}:${l.offset}`;
  const refs = new Set(referenced.map((r) => key(r.volumeId, r.location)));
  const lives = new Set<string>();
  for (const [volumeId, port] of node.volumes) {
    const vol = port as unknown as Volume;
    const live: Location[] = [];
    for await (const e of vol.scan()) {
      live.push(e.location);
      const k = key(volumeId, e.location);
      lives.add(k);
      if (!refs.has(k))
        fail(`volume entry ${k} (${String.fromCharCode(e.key[0]!)}#${e.opver.counter}) has no index row`);
    }
    checkTiling(vol, live, fail);
  }
  const dangling = referenced.map((r) => key(r.volumeId, r.location)).filter((k) => !lives.has(k));
  if (dangling.length > 0) fail(`index rows pointing at no entry: ${dangling.join(' ')}`);
}

/**
 * The binlog tells mirrors what happened: for every key it has records of, the newest record (by opver)
 * says what the key holds now (a write of that very version, or a delete). Keys whose records were all
 * trimmed away are not checked.
 */
async function checkBinlog(
  node: StorageNode,
  keys: KeyState[],
  opvers: Map<string, bigint>,
  fail: (w: string) => never,
): Promise<void> {
  const newest = new Map<string, { op: string; counter: bigint }>();
  for await (const { record: r } of node.binlog.readFrom({ file: 1, offset: 0 })) {
    if (r.bucket !== BUCKET || !['insert', 'replace', 'delete', 'upload-complete'].includes(r.op)) continue;
    const name = r.key.toString();
    const prev = newest.get(name);
    if (!prev || r.opver.counter > prev.counter) newest.set(name, { op: r.op, counter: r.opver.counter });
  }
  for (const k of keys) {
    const name = k.key.toString();
    const last = newest.get(name);
    if (!last) continue;
    const has = opvers.get(name);
    const says = last.op === 'delete' ? 'deleted' : `a write at opver ${last.counter}`;
    if (has === undefined ? last.op !== 'delete' : last.op === 'delete' || last.counter !== has) {
      fail(
        `binlog's newest record of ${name} is ${says}; the key ${has === undefined ? 'is absent' : `holds opver ${has}`}`,
      );
    }
  }
}

/**
 * The node's data directory (a real path, for LMDB) mapped onto a directory of the simulated disk, and
 * its parent onto that directory's parent.
 */
class RebasedDisk implements Disk {
  constructor(
    private readonly inner: Disk,
    private readonly from: string,
    private readonly to: string,
  ) {}
  private map(p: string): string {
    const abs = posix.resolve(p);
    if (abs === this.from) return this.to;
    // The data directory's parent is the simulated disk's root: syncing it makes the directory durable.
    if (abs === posix.dirname(this.from)) return posix.dirname(this.to);
    return abs.startsWith(`${this.from}/`) ? this.to + abs.slice(this.from.length) : abs;
  }
  open(path: string, flags: OpenFlags): Promise<DiskFile> {
    return this.inner.open(this.map(path), flags);
  }
  readFile(path: string): Promise<Buffer> {
    return this.inner.readFile(this.map(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(this.map(from), this.map(to));
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(this.map(path));
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(this.map(path));
  }
  mkdirp(path: string): Promise<void> {
    return this.inner.mkdirp(this.map(path));
  }
  stat(path: string): Promise<{ size: number }> {
    return this.inner.stat(this.map(path));
  }
  freeBytes(path: string): Promise<number> {
    return this.inner.freeBytes(this.map(path));
  }
}
