// Compaction: copy the live entries of a chunkfile into the write lanes (same opver), make them durable,
// tell the caller (EntryMoved, awaited), then retire the file. A marker file records the step so open
// rolls a half-done compaction forward (FORMAT.md, "Compaction").
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as yieldTick } from 'node:timers/promises';
import type { Disk } from '../common/disk.ts';
import { unlinkDurable, writeFileDurable } from '../common/durable-file.ts';
import { scanChunkfile } from './chunk-scan.ts';
import type { ChunkFile } from './chunkfile.ts';
import { locKey, type VolumeCore } from './core.ts';
import { crc32Of } from './crc.ts';
import { readEntryAt } from './entry-io.ts';
import { chunkFileName, compactionMarkerName, HEADER_BYTES, MARKER_FIELDS as M, MAGIC } from './layout.ts';
import type { EntryMoved, Location } from './types.ts';

export const MARKER_COPYING = 1;
export const MARKER_DONE = 2;
const MARKER_BYTES = M.crc.offset + M.crc.width;

export function encodeMarker(fileId: number, state: number): Buffer {
  const buf = Buffer.alloc(MARKER_BYTES);
  buf.writeUInt32LE(MAGIC.compaction, M.magic.offset);
  buf.writeUInt32LE(fileId, M.fileId.offset);
  buf.writeUInt32LE(state, M.state.offset);
  buf.writeUInt32LE(crc32Of(buf.subarray(0, M.crc.offset)), M.crc.offset);
  return buf;
}

/** The marker's state, or undefined for a torn/foreign marker (then nothing was started: roll back). */
export async function readMarker(disk: Disk, dir: string, fileId: number): Promise<number | undefined> {
  const buf = await disk.readFile(join(dir, compactionMarkerName(fileId))).catch(() => undefined);
  if (buf?.length !== 16 || buf.readUInt32LE(0) !== MAGIC.compaction) return undefined;
  if (buf.readUInt32LE(12) !== crc32Of(buf.subarray(0, 12)) || buf.readUInt32LE(4) !== fileId)
    return undefined;
  return buf.readUInt32LE(8);
}

export interface CompactFileControl {
  /** Entry offsets already moved (found by recovery as duplicates): not copied again. */
  readonly skip?: ReadonlySet<number>;
  readonly emit: (moved: EntryMoved) => Promise<void>;
  /** Called after each copied entry; may sleep to throttle. */
  readonly pace: (bytes: number) => Promise<void>;
  /** Awaited after the last move was emitted, before the file is marked done and removed. */
  readonly beforeRetire?: () => Promise<void>;
}

/** Moves in flight at once, so that one group commit (fdatasync) covers many of them. */
const MOVE_WINDOW_ENTRIES = 256;
const MOVE_WINDOW_BYTES = 16 * 1024 * 1024;

/** Moves one entry; undefined when it is gone (deleted meanwhile) or unreadable (left to be retired). */
async function moveEntry(core: VolumeCore, file: ChunkFile, loc: Location): Promise<EntryMoved | undefined> {
  return core.withLock(loc, async () => {
    if (core.forwards.has(locKey(loc))) return undefined;
    const cur = await readEntryAt(file.fh, loc, core.volumeCrc, true).catch(() => undefined);
    if (!cur?.data) return undefined;
    const h = cur.header;
    const e = await core.putChunk(
      {
        key: cur.key,
        meta: cur.meta,
        data: cur.data,
        opver: h.opver,
        dataCrc: h.dataCrc,
        createdMs: h.createdMs,
        updatedMs: h.updatedMs,
      },
      HEADER_BYTES + cur.key.length + cur.meta.length + cur.data.length,
    );
    file.liveEntries -= 1;
    file.liveBytes -= h.allocBytes;
    file.liveDataBytes -= h.dataBytes;
    const from = locKey(loc);
    core.forwards.set(from, e.location);
    const out = core.forwardsOut.get(loc.fileId);
    if (out) out.push(from);
    else core.forwardsOut.set(loc.fileId, [from]);
    core.movedFrom.set(locKey(e.location), loc);
    return { key: cur.key, opver: h.opver, from: loc, to: e.location };
  });
}

/**
 * Compacts one chunkfile end to end. Returns entries and bytes moved, and the keys of the forwards leading
 * out of the retired file (every move from it, earlier attempts included), for the caller to drop.
 */
export async function compactFile(
  core: VolumeCore,
  file: ChunkFile,
  ctl: CompactFileControl,
): Promise<{ entries: number; bytes: number; forwards: string[] }> {
  await writeFileDurable(
    core.opts.disk,
    core.dir,
    compactionMarkerName(file.fileId),
    encodeMarker(file.fileId, MARKER_COPYING),
  );
  file.compacting = true;
  core.free.removeFile(file.fileId);
  // Entries still being written into this file (a lane that just moved on, a hole taken earlier)
  // must be on disk before the scan, or they would be left behind.
  await file.drained();
  let entries = 0;
  let bytes = 0;
  // A window of moves runs at once; each is emitted as soon as its own copy is durable. (A counter and
  // one wake-up, not Promise.race over the window: that attaches a reaction per waiting turn to every
  // move in flight.)
  let inFlight = 0;
  let windowBytes = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const slotFreed = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  const start = (loc: Location) => {
    inFlight += 1;
    windowBytes += loc.allocBytes;
    void (async () => {
      try {
        const moved = await moveEntry(core, file, loc);
        if (!moved) return;
        entries += 1;
        bytes += moved.to.allocBytes;
        await ctl.emit(moved);
        await ctl.pace(moved.to.allocBytes);
      } catch (err) {
        failure ??= err;
      } finally {
        inFlight -= 1;
        windowBytes -= loc.allocBytes;
        slotFreed();
      }
    })();
  };
  for await (const rec of scanChunkfile(file.fh, file.end, core.volumeCrc, true)) {
    if (rec.kind !== 'live' || ctl.skip?.has(rec.offset)) continue;
    while (inFlight >= MOVE_WINDOW_ENTRIES || windowBytes >= MOVE_WINDOW_BYTES) await waitForSlot();
    if (failure) break;
    start({ kind: 'chunk', fileId: file.fileId, offset: rec.offset, allocBytes: rec.header.allocBytes });
  }
  while (inFlight > 0) await waitForSlot();
  if (failure) throw failure;
  await ctl.beforeRetire?.();
  // Every copy is durable and every caller has been told: the old file can go.
  await writeFileDurable(
    core.opts.disk,
    core.dir,
    compactionMarkerName(file.fileId),
    encodeMarker(file.fileId, MARKER_DONE),
  );
  await retireFile(core, file);
  const forwards = core.forwardsOut.get(file.fileId) ?? [];
  core.forwardsOut.delete(file.fileId);
  return { entries, bytes, forwards };
}

export async function retireFile(core: VolumeCore, file: ChunkFile): Promise<void> {
  file.retired = true;
  core.chunks.delete(file.fileId);
  core.free.removeFile(file.fileId);
  for (const [k, from] of core.movedFrom) if (from.fileId === file.fileId) core.movedFrom.delete(k);
  await unlinkDurable(core.opts.disk, core.dir, chunkFileName(file.fileId));
  // Header writes already under way (a delete that raced the last move) finish on the open handle.
  await file.drained();
  if (file.readers === 0) await file.fh.close();
  await unlinkDurable(core.opts.disk, core.dir, compactionMarkerName(file.fileId));
}

/** A pacer that keeps the copy rate under `bytesPerSecond` and always yields to the event loop. */
export function pacer(clock: () => number, bytesPerSecond: number | undefined) {
  const started = clock();
  let total = 0;
  return async (bytes: number): Promise<void> => {
    total += bytes;
    if (bytesPerSecond && bytesPerSecond > 0) {
      const aheadMs = (total / bytesPerSecond) * 1000 - (clock() - started);
      if (aheadMs > 1) {
        await sleep(aheadMs);
        return;
      }
    }
    await yieldTick();
  };
}
