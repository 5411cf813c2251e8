// Placement: which volume an entry goes to (the roomiest with space for it; the replaced version's own
// volume first, so the volume can rewrite it in place), and freeing entries again.
import type { Opver } from './api.ts';
import { StorageFullError } from './errors.ts';
import { type EntryMeta, encodeEntryMeta, type VolLoc } from './records.ts';
import { isVolumeFull, type StoredEntry, type VolumePort } from './volume-port.ts';

export interface EntryWrite {
  /** Entry key (keys.ts EntryKind + id). */
  key: Buffer;
  meta: EntryMeta | Buffer;
  opver: Opver;
  data: Buffer | AsyncIterable<Buffer>;
  dataBytes: number;
  nowMs?: number;
  /**
   * The current version's location, claimed by the caller (pins.ts) so no read can see it: the volume
   * may rewrite it in place or free it when the new entry goes to the same volume.
   */
  replace?: VolLoc;
  /** Resolve once the bytes are written, with `durable` to wait for their sync (packing's putStaged). */
  staged?: boolean;
}

export interface PlacedEntry {
  at: VolLoc;
  /** The volume took care of `replace` (rewrote or freed it). */
  replaced: boolean;
  /** Resolves when the entry is on stable storage (already resolved unless `staged`). */
  durable: Promise<void>;
}

const RESOLVED = Promise.resolve();

export class Placement {
  constructor(readonly volumes: Map<string, VolumePort>) {}

  volume(id: string): VolumePort {
    const v = this.volumes.get(id);
    if (!v) throw new Error(`unknown volume ${id}`);
    return v;
  }

  /** Writes one entry on the roomiest volume, trying the next on VolumeFull when the data is a Buffer. */
  async put(w: EntryWrite): Promise<PlacedEntry> {
    const meta = Buffer.isBuffer(w.meta) ? w.meta : encodeEntryMeta(w.meta);
    const replace = w.replace;
    let ids = this.candidates(w.dataBytes + meta.length + w.key.length);
    if (replace && ids.includes(replace.volumeId)) {
      ids = [replace.volumeId, ...ids.filter((i) => i !== replace.volumeId)];
    }
    for (const id of ids) {
      const replaces = replace?.volumeId === id ? replace.location : undefined;
      try {
        const vol = this.volume(id);
        const input = {
          key: w.key,
          meta,
          opver: w.opver,
          data: w.data,
          dataBytes: w.dataBytes,
          replaces,
          nowMs: w.nowMs,
        };
        let e: StoredEntry;
        let durable = RESOLVED;
        if (w.staged && vol.putStaged) ({ entry: e, durable } = await vol.putStaged(input));
        else e = await vol.put(input);
        return { at: { volumeId: id, location: e.location }, replaced: replaces !== undefined, durable };
      } catch (err) {
        if (!isVolumeFull(err) || !Buffer.isBuffer(w.data))
          throw isVolumeFull(err) ? new StorageFullError() : err;
      }
    }
    throw new StorageFullError();
  }

  /**
   * Where an entry put earlier is now. A writer calls it in the same synchronous step as it writes the entry's
   * index row: compaction may have moved the entry after the put returned, when there was no row to update yet.
   */
  resolve(at: VolLoc): VolLoc {
    const now = this.volume(at.volumeId).resolve?.(at.location);
    return now === undefined || now === at.location ? at : { volumeId: at.volumeId, location: now };
  }

  /** Deletes entries from their volumes, in order; the first failure stops and throws. */
  async free(locs: VolLoc[]): Promise<void> {
    for (const l of locs) await this.volume(l.volumeId).delete(l.location);
  }

  /**
   * Before an index commit after which these locations are freed: a crash in between leaves them
   * among what the volumes report as changed, for recovery to free (recovery.ts). Release after the frees.
   */
  async protect(locs: VolLoc[]): Promise<() => void> {
    const releases: Array<() => void> = [];
    const release = () => {
      for (const r of releases.splice(0)) r();
    };
    try {
      for (const [id, v] of this.volumes) {
        const mine = locs.filter((l) => l.volumeId === id).map((l) => l.location);
        if (mine.length > 0 && v.protect) releases.push(await v.protect(mine));
      }
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** Deletes an entry that may already be gone (deferred frees, recovery). */
  async freeIfThere(l: VolLoc): Promise<void> {
    await this.volume(l.volumeId)
      .delete(l.location)
      .catch(() => undefined);
  }

  /** Volumes ordered by free space (most first), only those with room for `bytes`. */
  private candidates(bytes: number): string[] {
    const rows: Array<[string, number]> = [];
    for (const [id, v] of this.volumes) {
      const free = freeBytes(v);
      if (free >= bytes) rows.push([id, free]);
    }
    return rows.sort((a, b) => b[1] - a[1]).map((r) => r[0]);
  }
}

/** Bytes the volume may still grow by: its limit less the reserve and what it holds (holes reusable). */
export function freeBytes(v: VolumePort): number {
  const s = v.stats();
  return s.maxBytes - s.reservedFreeBytes - (s.diskBytes - s.holeBytes);
}
