// Rebuilding a volume's in-memory state on open: from the clean-shutdown summary when there is one,
// otherwise by a full scan of every chunkfile and singlefile, deduplicating keys by opver.
import { join } from 'node:path';
import { unlinkDurable } from '../common/durable-file.ts';
import { parseChunkfile } from './chunk-scan.ts';
import { ChunkFile } from './chunkfile.ts';
import { decodeChunkHeader } from './codec.ts';
import type { VolumeCore } from './core.ts';
import { readEntryAt } from './entry-io.ts';
import { chunkFileName, HEADER_BYTES, singleFileName } from './layout.ts';
import { readSingleHead } from './singlefile.ts';
import type { VolumeSummary } from './summary.ts';
import type { CorruptRegion, EntryMoved, Location, Opver } from './types.ts';

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
  for (const c of s.chunks) {
    const fh = await core.opts.disk.open(join(core.dir, chunkFileName(c.fileId)), 'r+');
    const f = new ChunkFile(c.fileId, fh, c.end);
    f.liveEntries = c.liveEntries;
    f.liveBytes = c.liveBytes;
    f.liveDataBytes = c.liveDataBytes;
    f.deadBytes = c.deadBytes;
    core.chunks.set(c.fileId, f);
    for (const h of c.holes) core.free.add(c.fileId, h.offset, h.size);
  }
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

async function scanOneChunkfile(core: VolumeCore, id: number, out: ScanOutcome, dd: Deduper): Promise<void> {
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
  out.scannedBytes += size;
  await parseChunkfile(fh, size, core.volumeCrc, true, (r) => {
    if (r.kind === 'live') {
      // A crash may keep an appended entry but not the zero slack after it: the file is as long as
      // its last allocation, or holes and live entries would reach past its end.
      f.end = Math.max(f.end, r.offset + r.header.allocBytes);
      f.liveEntries += 1;
      f.liveBytes += r.header.allocBytes;
      f.liveDataBytes += r.header.dataBytes;
      const loc: Location = { kind: 'chunk', fileId: id, offset: r.offset, allocBytes: r.header.allocBytes };
      dd.consider({ loc, opver: r.header.opver, key: r.key });
    } else if (r.kind === 'free') {
      core.free.add(id, r.offset, r.size);
    } else {
      f.deadBytes += r.size;
      out.corrupt.push({ fileId: id, offset: r.offset, bytes: r.size, reason: r.reason });
    }
  });
}

async function scanSinglefile(core: VolumeCore, id: number, out: ScanOutcome, dd: Deduper): Promise<void> {
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
  } catch {
    out.corrupt.push({ fileId: id, offset: 0, bytes: size, reason: 'invalid singlefile header' });
  }
}

/** Removes the older of each duplicated key (durably), or records a compaction copy as a move. */
async function dropLosers(core: VolumeCore, dd: Deduper, out: ScanOutcome, compacting: ReadonlySet<number>) {
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
    if (l.kind === 'single') {
      await core.deleteAt(l);
    } else {
      const f = core.chunks.get(l.fileId)!;
      const { header } = await readEntryAt(f.fh, l, core.volumeCrc, false);
      await core.deleteChunkEntry(f, l, header);
    }
  }
}

export async function fullScan(
  core: VolumeCore,
  chunkIds: readonly number[],
  singleIds: readonly number[],
  compacting: ReadonlySet<number>,
): Promise<ScanOutcome> {
  const out: ScanOutcome = {
    corrupt: [],
    moved: [],
    alreadyMoved: new Map(),
    duplicatesDropped: 0,
    scannedBytes: 0,
  };
  const dd = new Deduper(compacting);
  for (const id of chunkIds) await scanOneChunkfile(core, id, out, dd);
  for (const id of singleIds) await scanSinglefile(core, id, out, dd);
  for (const id of compacting) {
    const f = core.chunks.get(id);
    if (f) f.compacting = true;
  }
  await dropLosers(core, dd, out, compacting);
  core.nextChunkId = Math.max(0, ...chunkIds) + 1;
  core.nextSingleId = Math.max(0, ...singleIds) + 1;
  return out;
}
