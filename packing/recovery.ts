// Rebuilding a volume's in-memory state on open: from a clean close's complete checkpoint; after a
// crash from the last checkpoint plus a scan of what changed since (checkpoint.ts); without a usable
// checkpoint by a full scan of every chunkfile and singlefile. Keys found more than once among the
// scanned entries are deduplicated by opver.
import { join } from 'node:path';
import { unlinkDurable } from '../common/durable-file.ts';
import type { ChangedFiles } from './checkpoint.ts';
import { parseChunkfile } from './chunk-scan.ts';
import { ChunkFile } from './chunkfile.ts';
import { decodeChunkHeader } from './codec.ts';
import type { VolumeCore } from './core.ts';
import { storedEntry } from './core.ts';
import { readEntryAt } from './entry-io.ts';
import { chunkFileName, HEADER_BYTES, singleFileName } from './layout.ts';
import { readSingleHead } from './singlefile.ts';
import type { ChunkSummary, VolumeSummary } from './summary.ts';
import type { CorruptRegion, EntryMoved, Location, Opver, StoredEntry } from './types.ts';

export function compareOpver(a: Opver, b: Opver): number {
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.nodeId - b.nodeId;
}

export async function loadSummary(core: VolumeCore, s: VolumeSummary): Promise<void> {
  core.nextChunkId = s.nextChunkId;
  core.nextSingleId = s.nextSingleId;
  core.singlefiles = s.singlefiles;
  core.singleBytes = s.singleBytes;
  core.singleDataBytes = s.singleDataBytes;
  for (const c of s.chunks) await loadChunk(core, c);
}

async function loadChunk(core: VolumeCore, c: ChunkSummary): Promise<ChunkFile> {
  const fh = await core.opts.disk.open(join(core.dir, chunkFileName(c.fileId)), 'r+');
  const f = new ChunkFile(c.fileId, fh, c.end);
  f.liveEntries = c.liveEntries;
  f.liveBytes = c.liveBytes;
  f.liveDataBytes = c.liveDataBytes;
  f.deadBytes = c.deadBytes;
  core.chunks.set(c.fileId, f);
  for (const h of c.holes) core.free.add(c.fileId, h.offset, h.size);
  return f;
}

interface Candidate {
  readonly loc: Location;
  readonly opver: Opver;
  readonly key: Buffer;
}

export interface ScanOutcome {
  readonly corrupt: CorruptRegion[];
  readonly moved: EntryMoved[];
  /** Per compacting chunkfile: offsets of entries whose copy already exists. */
  readonly alreadyMoved: Map<number, Set<number>>;
  duplicatesDropped: number;
  scannedBytes: number;
  /** Live entries found by the scan (partial scans only): what changed since the checkpoint. */
  readonly changed: StoredEntry[];
}

class Deduper {
  private readonly winners = new Map<string, Candidate>();
  readonly losers: Array<{ loser: Candidate; winner: Candidate; tie: boolean }> = [];
  constructor(private readonly compacting: ReadonlySet<number>) {}

  private inCompacting(c: Candidate): boolean {
    return c.loc.kind === 'chunk' && this.compacting.has(c.loc.fileId);
  }

  consider(c: Candidate): void {
    const k = c.key.toString('latin1');
    const prev = this.winners.get(k);
    if (!prev) {
      this.winners.set(k, c);
      return;
    }
    const cmp = compareOpver(c.opver, prev.opver);
    // Same opver twice is a compaction copy: the copy outside the file being compacted wins.
    const cWins = cmp > 0 || (cmp === 0 && this.inCompacting(prev) && !this.inCompacting(c));
    if (cWins) this.winners.set(k, c);
    this.losers.push({ loser: cWins ? prev : c, winner: cWins ? c : prev, tie: cmp === 0 });
  }
}

async function scanOneChunkfile(
  core: VolumeCore,
  id: number,
  out: ScanOutcome,
  dd: Deduper,
  collect: boolean,
): Promise<void> {
  const name = chunkFileName(id);
  const fh = await core.opts.disk.open(join(core.dir, name), 'r+');
  const size = (await fh.stat()).size;
  const head = Buffer.alloc(HEADER_BYTES);
  await fh.read(head, 0, HEADER_BYTES, 0);
  if (!decodeChunkHeader(head)) {
    if (size <= HEADER_BYTES) {
      // Created but never used before a crash: nothing can live in it.
      await fh.close();
      await unlinkDurable(core.opts.disk, core.dir, name);
      return;
    }
    out.corrupt.push({ fileId: id, offset: 0, bytes: HEADER_BYTES, reason: 'invalid chunkfile header' });
  }
  const f = new ChunkFile(id, fh, size);
  core.chunks.set(id, f);
  await scanRange(core, f, HEADER_BYTES, size, out, dd, collect);
}

/** Adds what [from, size) of the file holds to its counters and the free space. */
async function scanRange(
  core: VolumeCore,
  f: ChunkFile,
  from: number,
  size: number,
  out: ScanOutcome,
  dd: Deduper,
  collect: boolean,
): Promise<void> {
  const id = f.fileId;
  out.scannedBytes += size - from;
  f.end = Math.max(f.end, size);
  await parseChunkfile(
    f.fh,
    size,
    core.volumeCrc,
    true,
    (r) => {
      if (r.kind === 'live') {
        // A crash may keep an appended entry but not the zero slack after it: the file is as long as
        // its last allocation, or holes and live entries would reach past its end.
        f.end = Math.max(f.end, r.offset + r.header.allocBytes);
        f.liveEntries += 1;
        f.liveBytes += r.header.allocBytes;
        f.liveDataBytes += r.header.dataBytes;
        const loc: Location = {
          kind: 'chunk',
          fileId: id,
          offset: r.offset,
          allocBytes: r.header.allocBytes,
        };
        dd.consider({ loc, opver: r.header.opver, key: r.key });
        if (collect) out.changed.push(storedEntry(loc, r.header, r.key, r.meta));
      } else if (r.kind === 'free') {
        core.free.add(id, r.offset, r.size);
      } else {
        f.deadBytes += r.size;
        out.corrupt.push({ fileId: id, offset: r.offset, bytes: r.size, reason: r.reason });
      }
    },
    from,
  );
}

async function scanSinglefile(
  core: VolumeCore,
  id: number,
  out: ScanOutcome,
  dd: Deduper,
  collect: boolean,
): Promise<void> {
  const fh = await core.opts.disk.open(join(core.dir, singleFileName(id)), 'r');
  const size = (await fh.stat()).size;
  await fh.close();
  const loc: Location = { kind: 'single', fileId: id, offset: 0, allocBytes: size };
  core.singlefiles += 1;
  core.singleBytes += size;
  try {
    const head = await readSingleHead(core.opts.disk, core.dir, loc, core.volumeCrc);
    core.singleDataBytes += head.header.dataBytes;
    dd.consider({ loc, opver: head.header.opver, key: head.key });
    if (collect) out.changed.push(storedEntry(loc, head.header, head.key, head.meta));
  } catch {
    out.corrupt.push({ fileId: id, offset: 0, bytes: size, reason: 'invalid singlefile header' });
  }
}

/** Removes the older of each duplicated key (durably), or records a compaction copy as a move. */
async function dropLosers(core: VolumeCore, dd: Deduper, out: ScanOutcome, compacting: ReadonlySet<number>) {
  const dropped = new Set<string>();
  for (const { loser, winner, tie } of dd.losers) {
    const l = loser.loc;
    if (tie && l.kind === 'chunk' && compacting.has(l.fileId)) {
      const f = core.chunks.get(l.fileId)!;
      f.liveEntries -= 1;
      f.liveBytes -= l.allocBytes;
      const set = out.alreadyMoved.get(l.fileId) ?? new Set<number>();
      out.alreadyMoved.set(l.fileId, set);
      set.add(l.offset);
      out.moved.push({ key: loser.key, opver: loser.opver, from: l, to: winner.loc });
      continue;
    }
    out.duplicatesDropped += 1;
    dropped.add(`${l.kind}${l.fileId}:${l.offset}`);
    if (l.kind === 'single') {
      await core.deleteAt(l);
    } else {
      const f = core.chunks.get(l.fileId)!;
      const { header } = await readEntryAt(f.fh, l, core.volumeCrc, false);
      await core.deleteChunkEntry(f, l, header);
    }
  }
  // What was dropped or already moved is no longer a live entry of its own.
  for (const [fileId, offsets] of out.alreadyMoved)
    for (const o of offsets) dropped.add(`chunk${fileId}:${o}`);
  if (dropped.size > 0) {
    const kept = out.changed.filter(
      (e) => !dropped.has(`${e.location.kind}${e.location.fileId}:${e.location.offset}`),
    );
    out.changed.length = 0;
    out.changed.push(...kept);
  }
}

export async function fullScan(
  core: VolumeCore,
  chunkIds: readonly number[],
  singleIds: readonly number[],
  compacting: ReadonlySet<number>,
): Promise<ScanOutcome> {
  const out = newOutcome();
  const dd = new Deduper(compacting);
  for (const id of chunkIds) await scanOneChunkfile(core, id, out, dd, false);
  for (const id of singleIds) await scanSinglefile(core, id, out, dd, false);
  await finishScan(core, dd, out, compacting);
  core.nextChunkId = Math.max(0, ...chunkIds) + 1;
  core.nextSingleId = Math.max(0, ...singleIds) + 1;
  return out;
}

function newOutcome(): ScanOutcome {
  return {
    corrupt: [],
    moved: [],
    alreadyMoved: new Map(),
    duplicatesDropped: 0,
    scannedBytes: 0,
    changed: [],
  };
}

async function finishScan(core: VolumeCore, dd: Deduper, out: ScanOutcome, compacting: ReadonlySet<number>) {
  for (const id of compacting) {
    const f = core.chunks.get(id);
    if (f) f.compacting = true;
  }
  await dropLosers(core, dd, out, compacting);
}

/**
 * Open after a crash from the last checkpoint: listed chunkfiles that the journal does not name are
 * taken from it and only their tail past the recorded end is read; every other chunkfile is read
 * whole; every singlefile head is read (counts), and those created or named since are reported.
 * `out.changed` lists the live entries found by these reads.
 */
export async function partialScan(
  core: VolumeCore,
  s: VolumeSummary,
  chunkIds: readonly number[],
  singleIds: readonly number[],
  changes: ChangedFiles,
  compacting: ReadonlySet<number>,
): Promise<ScanOutcome> {
  const out = newOutcome();
  const dd = new Deduper(compacting);
  const listed = new Map(s.chunks.map((c) => [c.fileId, c]));
  for (const id of chunkIds) {
    const c = listed.get(id);
    if (!c || changes.chunks.has(id) || compacting.has(id)) {
      await scanOneChunkfile(core, id, out, dd, true);
      continue;
    }
    const f = await loadChunk(core, c);
    const size = (await f.fh.stat()).size;
    if (size > c.end) await scanRange(core, f, c.end, size, out, dd, true);
  }
  for (const id of singleIds) {
    await scanSinglefile(core, id, out, dd, id >= s.nextSingleId || changes.singles.has(id));
  }
  await finishScan(core, dd, out, compacting);
  core.nextChunkId = Math.max(s.nextChunkId, ...chunkIds.map((i) => i + 1));
  core.nextSingleId = Math.max(s.nextSingleId, ...singleIds.map((i) => i + 1));
  return out;
}
