// The tombstones table (index-db.ts): one row per removed version, so an older replicated write of that
// version cannot bring it back. Its volume entry (META_TOMBSTONE on the version's entry key, at the removal's
// opver) is written first and freed only after the row is gone, so a rebuild from the volumes restores the
// row, and a row's location always names its live entry.
import type { Opver } from './api.ts';
import type { NodeIndex } from './index-db.ts';
import { decodeObjectKey, decodeVersionEntryKey, type Stamp, tombstoneKey } from './keys.ts';
import { decodeTombstoneValue, encodeTombstoneValue, type TombstoneValue, type VolLoc } from './records.ts';

/** The tombstone row key of a version's entry key ('O'+objectKey or 'V'+objectKey+stamp). */
export function tombstoneKeyOfEntry(ekey: Buffer): Buffer {
  const { okey, stamp } = decodeVersionEntryKey(ekey);
  const { bucket, key } = decodeObjectKey(okey);
  return tombstoneKey(bucket, key, stamp);
}

export function tombstoneKeyOf(bucket: string, key: Buffer, stamp: Stamp | undefined): Buffer {
  return tombstoneKey(bucket, key, stamp);
}

export function getTombstone(index: NodeIndex, tkey: Buffer): TombstoneValue | undefined {
  const row = index.get(index.tombstones, tkey);
  return row ? decodeTombstoneValue(row) : undefined;
}

/** Inside an index transaction. */
export function putTombstone(
  index: NodeIndex,
  tkey: Buffer,
  v: { opver: Opver; createdMs: number; at?: VolLoc },
): void {
  index.tombstones.put(tkey, encodeTombstoneValue(v));
}

export type { TombstoneValue };
