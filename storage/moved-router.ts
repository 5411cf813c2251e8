// Follows compaction: a moved 'O'/'V' (current or noncurrent version, or a removed version's tombstone), 'P' or
// 'U' entry gets its new location
// in the index, but only when the row still points at the old one (a concurrent overwrite or delete wins);
// pending rows (deferred deletes) follow too, and so do the pins and claims of the old location (reads of
// the old location are forwarded to the new one). Once the moved file is retired, the volume forgets those
// forwards as soon as `unused` says that every read and locked write that could still hold one has ended.
import type { NodeIndex } from './index-db.ts';
import {
  decodeObjectKey,
  decodeVersionEntryKey,
  EntryKind,
  prefixEnd,
  uploadKey,
  uploadTombstoneKey,
  versionKeyPrefix,
} from './keys.ts';
import type { ObjectRows } from './object-rows.ts';
import type { PinTable } from './pins.ts';
import type { Placement } from './placement.ts';
import {
  decodeEntryMeta,
  decodeObjectValue,
  decodePartValue,
  decodePendingValue,
  decodeUploadValue,
  encodeObjectValue,
  encodePartValue,
  encodePendingValue,
  encodeUploadValue,
  type VolLoc,
} from './records.ts';
import { getTombstone, putTombstone, tombstoneKeyOfEntry } from './replica-tombstones.ts';
import type { EntryMoved } from './volume-port.ts';

export interface MovedRouterDeps {
  readonly index: NodeIndex;
  readonly rows: ObjectRows;
  readonly pins: PinTable;
  readonly placement: Placement;
  /** Resolves once nothing begun before the call can still name a location it read from the index. */
  readonly unused: () => Promise<void>;
}

export class MovedRouter {
  /** Set once the node is ready; moves before that (compaction rolled forward at open) force a rebuild. */
  deps: MovedRouterDeps | undefined;
  movedBeforeReady = false;

  /**
   * A compacted file was retired (its moves are routed, the index commits flushed): resolves when its old
   * locations are unused, so the volume can forget their forwards. Before the node is ready nothing has
   * been handed out, so at once.
   */
  unused(): Promise<void> {
    return this.deps ? this.deps.unused() : Promise.resolve();
  }

  async route(volumeId: string, m: EntryMoved): Promise<void> {
    const d = this.deps;
    if (!d) {
      this.movedBeforeReady = true;
      return;
    }
    await this.followPending(d, volumeId, m);
    // Pins and claims follow in the same synchronous step as an object row does: a read that pinned the old
    // location before it is carried over, one after it finds the new row (no await in between).
    d.pins.follow({ volumeId, location: m.from }, { volumeId, location: m.to });
    const k = m.key.subarray(1);
    if (m.key[0] === EntryKind.object || m.key[0] === EntryKind.version) {
      // The null version ('O') or another version ('V'): the key's current row or one of its noncurrent rows.
      const { okey } = decodeVersionEntryKey(m.key);
      // The newest row, even one still hidden from readers or in the overlay (object-rows.ts).
      const row = d.rows.latest(okey);
      const v = row ? decodeObjectValue(row) : undefined;
      if (!v || !sameLoc(v.at, volumeId, m.from)) {
        if (!followVersion(d, okey, volumeId, m)) await followTombstone(d, m.key, volumeId, m);
        return;
      }
      v.at = { volumeId, location: m.to };
      // Visible at once; compaction waits for the commits (and their flush) once per chunkfile,
      // before the old file goes (beforeRetire), not once per entry.
      d.rows.write(okey, encodeObjectValue(v), () => undefined).catch(() => undefined);
    } else if (m.key[0] === EntryKind.part) {
      await d.index.write(() => {
        const row = d.index.get(d.index.parts, k);
        const v = row ? decodePartValue(row) : undefined;
        if (!v || !sameLoc(v.at, volumeId, m.from)) return;
        v.at = { volumeId, location: m.to };
        d.index.parts.put(k, encodePartValue(v));
      });
    } else if (m.key[0] === EntryKind.uploadTombstone) {
      // An upload's tombstone (replica-uploads.ts): its row, keyed by (bucket, key), follows.
      const e = decodeEntryMeta((await d.placement.volume(volumeId).readEntry(m.to)).meta);
      if (e.kind !== 'upload-removed') return;
      const tkey = uploadTombstoneKey(e.bucket, e.key, k.toString('latin1'));
      await d.index.write(() => {
        const t = getTombstone(d.index, tkey);
        if (!t?.at || !sameLoc(t.at, volumeId, m.from)) return;
        putTombstone(d.index, tkey, { ...t, at: { volumeId, location: m.to } });
      });
    } else if (m.key[0] === EntryKind.upload) {
      // Upload rows are keyed by (bucket, key, upload id): the marker's meta names them.
      const e = decodeEntryMeta((await d.placement.volume(volumeId).readEntry(m.to)).meta);
      if (e.kind !== 'upload') return;
      const uk = uploadKey(e.meta.bucket, e.meta.key, k.toString('latin1'));
      await d.index.write(() => {
        const row = d.index.get(d.index.uploads, uk);
        const v = row ? decodeUploadValue(row) : undefined;
        if (!v || !sameLoc(v.at, volumeId, m.from)) return;
        v.at = { volumeId, location: m.to };
        d.index.uploads.put(uk, encodeUploadValue(v));
      });
    }
  }

  /**
   * A deferred delete (or its tombstone) that moved: the pending row gets the new location, so a
   * restart, which forgets forwards, still deletes the right entry. The row keeps its key: the read
   * that deferred it removes it by that key.
   */
  private async followPending(d: MovedRouterDeps, volumeId: string, m: EntryMoved): Promise<void> {
    // Pending rows exist only while a read defers a free (open finishes or drops older ones).
    if (!d.pins.deferring) return;
    const to = { volumeId, location: m.to };
    const changed: Array<[Buffer, Buffer]> = [];
    for (const { key, value } of d.index.pending.getRange({ snapshot: false })) {
      const v = decodePendingValue(value);
      let hit = false;
      if (sameLoc(v.at, volumeId, m.from)) {
        v.at = to;
        hit = true;
      }
      if (v.tombstone && sameLoc(v.tombstone, volumeId, m.from)) {
        v.tombstone = to;
        hit = true;
      }
      if (hit) changed.push([Buffer.from(key), encodePendingValue(v)]);
    }
    if (changed.length === 0) return;
    await d.index.write(() => {
      for (const [k, v] of changed) d.index.pending.put(k, v);
    });
  }
}

/**
 * A moved 'O' or 'V' entry that is not the key's current version may be a noncurrent one (versions table): its row
 * follows the same way, in the same synchronous step as the pins (visible at once, flushed before retirement).
 */
function followVersion(d: MovedRouterDeps, okey: Buffer, volumeId: string, m: EntryMoved): boolean {
  const { bucket, key } = decodeObjectKey(okey);
  const lo = versionKeyPrefix(bucket, key);
  for (const { key: vkey, value } of d.rows.versionRange(lo, prefixEnd(lo), Infinity)) {
    const v = decodeObjectValue(value);
    if (!sameLoc(v.at, volumeId, m.from)) continue;
    v.at = { volumeId, location: m.to };
    const change = { vkey: Buffer.from(vkey), row: encodeObjectValue(v) };
    d.rows.write(undefined, null, () => undefined, [change]).catch(() => undefined);
    return true;
  }
  return false;
}

/** A moved tombstone entry (a removed version's, replica-tombstones.ts): its row follows. */
async function followTombstone(
  d: MovedRouterDeps,
  ekey: Buffer,
  volumeId: string,
  m: EntryMoved,
): Promise<void> {
  const tkey = tombstoneKeyOfEntry(ekey);
  await d.index.write(() => {
    const t = getTombstone(d.index, tkey);
    if (!t?.at || !sameLoc(t.at, volumeId, m.from)) return;
    putTombstone(d.index, tkey, { ...t, at: { volumeId, location: m.to } });
  });
}

function sameLoc(at: VolLoc, volumeId: string, l: EntryMoved['from']): boolean {
  const a = at.location;
  return at.volumeId === volumeId && a.fileId === l.fileId && a.offset === l.offset && a.kind === l.kind;
}
