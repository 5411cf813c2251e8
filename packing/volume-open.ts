// Creating and opening a volume directory: superblock, leftovers of interrupted steps, summary or scan.
import { join } from 'node:path';
import { type Disk, nodeDisk } from '../common/disk.ts';
import { mkdirDurable, syncDir, unlinkDurable, writeFileDurable } from '../common/durable-file.ts';
import { readJournals, takeCheckpoint } from './checkpoint.ts';
import { ChunkFile, writeAll } from './chunkfile.ts';
import { decodeSuperblock, encodeChunkHeader, encodeSuperblock, volumeCrcOf } from './codec.ts';
import { compactFile, MARKER_COPYING, MARKER_DONE, readMarker } from './compaction.ts';
import { VolumeCore } from './core.ts';
import { InvalidInputError, VolumeFormatError, VolumeLimitError } from './errors.ts';
import {
  chunkFileName,
  compactionMarkerName,
  FILE_NAMES,
  HEADER_BYTES,
  parseFileId,
  singleFileName,
} from './layout.ts';
import { DEFAULTS, resolveOptions } from './options.ts';
import { fullScan, loadSummary, partialScan } from './recovery.ts';
import { decodeSummary } from './summary.ts';
import type { CreateVolumeOptions, EntryMoved, OpenVolumeOptions, RecoveryReport } from './types.ts';

export async function writeSuperblock(dir: string, o: CreateVolumeOptions): Promise<void> {
  const id = Buffer.from(o.volumeId, 'utf8');
  if (id.length === 0 || id.length > 32) throw new InvalidInputError('volumeId must be 1..32 UTF-8 bytes');
  checkLimits(o.volumeId, o.maxBytes, o.reservedFreeBytes ?? DEFAULTS.reservedFreeBytes, 0);
  const disk = o.disk ?? nodeDisk;
  await mkdirDurable(disk, dir);
  const existing = await disk.readFile(join(dir, FILE_NAMES.superblock)).catch(() => undefined);
  if (existing) throw new InvalidInputError(`${dir} already holds a volume`);
  const sb = encodeSuperblock({
    volumeId: o.volumeId,
    type: o.type ?? 'storage',
    maxBytes: o.maxBytes,
    reservedFreeBytes: o.reservedFreeBytes ?? DEFAULTS.reservedFreeBytes,
  });
  await writeFileDurable(disk, dir, FILE_NAMES.superblock, sb);
}

interface DirListing {
  readonly chunkIds: number[];
  readonly singleIds: number[];
  readonly markerIds: number[];
  readonly tmpNames: string[];
  readonly hasSummary: boolean;
}

async function listDir(disk: Disk, dir: string): Promise<DirListing> {
  const out: DirListing = { chunkIds: [], singleIds: [], markerIds: [], tmpNames: [], hasSummary: false };
  for (const name of await disk.readdir(dir)) {
    if (name.endsWith(FILE_NAMES.tmpSuffix)) out.tmpNames.push(name);
    const c = parseFileId(name, FILE_NAMES.chunkPrefix, FILE_NAMES.chunkSuffix);
    if (c !== undefined) out.chunkIds.push(c);
    const s = parseFileId(name, FILE_NAMES.singlePrefix, FILE_NAMES.singleSuffix);
    if (s !== undefined) out.singleIds.push(s);
    const m = parseFileId(name, FILE_NAMES.compactionPrefix, FILE_NAMES.compactionSuffix);
    if (m !== undefined) out.markerIds.push(m);
    if (name === FILE_NAMES.summary) (out as { hasSummary: boolean }).hasSummary = true;
  }
  for (const list of [out.chunkIds, out.singleIds, out.markerIds]) list.sort((a, b) => a - b);
  return out;
}

function makeCore(dir: string, sbBuf: Buffer, opts: OpenVolumeOptions | undefined): VolumeCore {
  const sb = decodeSuperblock(sbBuf);
  if (!sb) throw new VolumeFormatError(`${dir}: bad or unsupported superblock`);
  const resolved = resolveOptions(opts);
  const volumeCrc = volumeCrcOf(sb.volumeId);
  const core: VolumeCore = new VolumeCore(dir, sb, volumeCrc, resolved, async () => {
    const id = core.nextChunkId++;
    const fh = await resolved.disk.open(join(dir, chunkFileName(id)), 'wx+');
    await writeAll(fh, [encodeChunkHeader({ fileId: id, volumeCrc, chunkBytes: resolved.chunkBytes })], 0);
    if (resolved.durable) {
      await fh.datasync();
      await syncDir(resolved.disk, dir);
    }
    const f = new ChunkFile(id, fh, HEADER_BYTES);
    core.chunks.set(id, f);
    return f;
  });
  return core;
}

/** Sorts out markers: DONE → finish retiring; COPYING → roll forward after the scan; torn → drop. */
async function triageMarkers(disk: Disk, dir: string, l: DirListing): Promise<Set<number>> {
  const copying = new Set<number>();
  for (const id of l.markerIds) {
    const state = await readMarker(disk, dir, id);
    if (state === MARKER_COPYING && l.chunkIds.includes(id)) {
      copying.add(id);
    } else if (state === MARKER_DONE) {
      // Every copy was durable and reported before DONE was written.
      await unlinkDurable(disk, dir, chunkFileName(id));
      const at = l.chunkIds.indexOf(id);
      if (at >= 0) l.chunkIds.splice(at, 1);
    }
    if (!copying.has(id)) await unlinkDurable(disk, dir, compactionMarkerName(id));
  }
  return copying;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function checkLimits(volumeId: string, maxBytes: number, reserved: number, holds: number): void {
  if (maxBytes <= reserved) {
    throw new VolumeLimitError(
      `volume ${volumeId}: a maximum of ${maxBytes} bytes leaves nothing above the ${reserved}-byte reserve`,
      reserved + 1,
    );
  }
  if (maxBytes < holds) {
    throw new VolumeLimitError(
      `volume ${volumeId} already holds ${holds} bytes, more than a maximum of ${maxBytes}`,
      holds,
    );
  }
}

/** Applies new size limits at open: checked against what the volume holds, then written durably. */
async function applyLimits(
  disk: Disk,
  dir: string,
  sbBuf: Buffer,
  l: DirListing,
  o: OpenVolumeOptions | undefined,
) {
  const sb = decodeSuperblock(sbBuf);
  if (!sb || !o || (o.maxBytes === undefined && o.reservedFreeBytes === undefined)) return sbBuf;
  const maxBytes = o.maxBytes ?? sb.maxBytes;
  const reservedFreeBytes = o.reservedFreeBytes ?? sb.reservedFreeBytes;
  if (maxBytes === sb.maxBytes && reservedFreeBytes === sb.reservedFreeBytes) return sbBuf;
  let holds = 0;
  for (const id of l.chunkIds) holds += (await disk.stat(join(dir, chunkFileName(id)))).size;
  for (const id of l.singleIds) holds += (await disk.stat(join(dir, singleFileName(id)))).size;
  checkLimits(sb.volumeId, maxBytes, reservedFreeBytes, holds);
  const next = encodeSuperblock({ ...sb, maxBytes, reservedFreeBytes });
  await writeFileDurable(disk, dir, FILE_NAMES.superblock, next);
  return next;
}

export async function openCore(
  dir: string,
  opts: OpenVolumeOptions | undefined,
  isNew: boolean,
): Promise<{ core: VolumeCore; recovery: RecoveryReport }> {
  const disk = opts?.disk ?? nodeDisk;
  const l = await listDir(disk, dir);
  const sbBuf = await applyLimits(disk, dir, await disk.readFile(join(dir, FILE_NAMES.superblock)), l, opts);
  const core = makeCore(dir, sbBuf, opts);
  const started = core.opts.clock();
  for (const t of l.tmpNames) await disk.unlink(join(dir, t));
  const copying = await triageMarkers(disk, dir, l);
  const summaryBuf = l.hasSummary ? await disk.readFile(join(dir, FILE_NAMES.summary)) : undefined;
  const summary = summaryBuf && decodeSummary(summaryBuf, core.volumeCrc);
  const changes = summary ? await readJournals(disk, dir, core.volumeCrc, summary.generation) : undefined;
  const sameFiles =
    summary !== undefined &&
    summary.chunks.length === l.chunkIds.length &&
    summary.chunks.every((c) => l.chunkIds.includes(c.fileId)) &&
    summary.singlefiles === l.singleIds.length;
  const recovery: Mutable<RecoveryReport> & { moved: EntryMoved[] } = {
    mode: 'scan',
    corrupt: [],
    duplicatesDropped: 0,
    moved: [],
    scannedBytes: 0,
    durationMs: 0,
  };
  if (summary?.complete && changes?.records === 0 && sameFiles && copying.size === 0) {
    // A clean close: the checkpoint is the whole truth. It stops being complete before any write.
    await loadSummary(core, summary);
    core.journal.begin(summary.generation, new Map(), core.nextSingleId);
    await takeCheckpoint(core);
    recovery.mode = 'summary';
  } else {
    const out =
      summary && changes
        ? await partialScan(core, summary, l.chunkIds, l.singleIds, changes, copying)
        : await fullScan(core, l.chunkIds, l.singleIds, copying);
    if (summary && changes) {
      recovery.mode = 'checkpoint';
      recovery.changed = out.changed;
      recovery.singlefilesBefore = summary.nextSingleId;
      // Until the caller takes the next checkpoint, this one stays in force: changes to the files
      // it lists are journaled against it, as before the crash.
      const listed = new Map(summary.chunks.map((c) => [c.fileId, c.end]));
      core.journal.begin(summary.generation, listed, summary.nextSingleId);
    }
    recovery.corrupt = out.corrupt;
    recovery.duplicatesDropped = out.duplicatesDropped;
    recovery.scannedBytes = out.scannedBytes;
    recovery.moved.push(...out.moved);
    for (const id of copying) {
      const f = core.chunks.get(id);
      if (!f) continue;
      await compactFile(core, f, {
        skip: out.alreadyMoved.get(id) ?? new Set(),
        emit: async (m) => {
          recovery.moved.push(m);
        },
        pace: async () => undefined,
      });
    }
    for (const m of recovery.moved) await core.opts.onMoved?.(m);
  }
  if (isNew) recovery.mode = 'new';
  await core.refreshDiskFree();
  recovery.durationMs = core.opts.clock() - started;
  return { core, recovery };
}
