// Follows compaction: a moved 'O' or 'P' entry gets its new location in the index, but only when the
// row still points at the old one (a concurrent overwrite or delete wins), and the pins and claims of
// the old location follow it (reads of the old location are forwarded to the new one).
import type { NodeIndex } from './index-db.ts';
import { EntryKind } from './keys.ts';
import type { ObjectRows } from './object-rows.ts';
import type { PinTable } from './pins.ts';
import {
  decodeObjectValue,
  decodePartValue,
  encodeObjectValue,
  encodePartValue,
  type VolLoc,
} from './records.ts';
import type { EntryMoved } from './volume-port.ts';

export interface MovedRouterDeps {
  readonly index: NodeIndex;
  readonly rows: ObjectRows;
  readonly pins: PinTable;
}

export class MovedRouter {
  /** Set once the node is ready; moves before that (compaction rolled forward at open) force a rebuild. */
  deps: MovedRouterDeps | undefined;
  movedBeforeReady = false;

  async route(volumeId: string, m: EntryMoved): Promise<void> {
    const d = this.deps;
    if (!d) {
      this.movedBeforeReady = true;
      return;
    }
    d.pins.follow({ volumeId, location: m.from }, { volumeId, location: m.to });
    const k = m.key.subarray(1);
    if (m.key[0] === EntryKind.object) {
      // The newest row, even one still hidden from readers or in the overlay (object-rows.ts).
      const row = d.rows.latest(k);
      const v = row ? decodeObjectValue(row) : undefined;
      if (!v || !sameLoc(v.at, volumeId, m.from)) return;
      v.at = { volumeId, location: m.to };
      // Visible at once; compaction waits for the commits (and their flush) once per chunkfile,
      // before the old file goes (beforeRetire), not once per entry.
      d.rows.write(k, encodeObjectValue(v), () => undefined).catch(() => undefined);
    } else if (m.key[0] === EntryKind.part) {
      await d.index.write(() => {
        const row = d.index.get(d.index.parts, k);
        const v = row ? decodePartValue(row) : undefined;
        if (!v || !sameLoc(v.at, volumeId, m.from)) return;
        v.at = { volumeId, location: m.to };
        d.index.parts.put(k, encodePartValue(v));
      });
    }
  }
}

function sameLoc(at: VolLoc, volumeId: string, l: EntryMoved['from']): boolean {
  const a = at.location;
  return at.volumeId === volumeId && a.fileId === l.fileId && a.offset === l.offset && a.kind === l.kind;
}
