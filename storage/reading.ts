// Streams an object's bytes from its segments (one for inline/blob bodies, one per part for
// multipart ones), cutting a requested inclusive range across segment boundaries. The volume
// verifies every byte before yielding it.
import type { ByteRangeInclusive } from './api.ts';
import { InvalidRangeError } from './errors.ts';
import type { VolLoc } from './records.ts';
import type { VolumePort } from './volume-port.ts';

/** Singlefiles up to this size are read whole (packing reads them with one read). */
const WHOLE_READ_MAX = 4 * 1024 * 1024;

export interface Segment {
  at: VolLoc;
  size: number;
}

export async function* openSegments(
  node: { volume(id: string): VolumePort },
  segs: Segment[],
  size: number,
  range?: ByteRangeInclusive,
): AsyncIterable<Buffer> {
  if (size === 0 && !range) return;
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (start < 0 || end < start || end >= size)
    throw new InvalidRangeError(`range ${start}-${end} of ${size} bytes`);
  let base = 0;
  for (const s of segs) {
    const lo = Math.max(start, base);
    const hi = Math.min(end, base + s.size - 1);
    if (lo <= hi) {
      const whole = lo === base && hi === base + s.size - 1;
      const r = whole ? undefined : { start: lo - base, end: hi - base };
      const vol = node.volume(s.at.volumeId);
      // A chunkfile entry or a small singlefile is read (and verified) in one piece: skip the
      // stream machinery.
      if (s.at.location.kind === 'chunk' || s.size <= WHOLE_READ_MAX) yield await vol.read(s.at.location, r);
      else yield* vol.openRead(s.at.location, r);
    }
    base += s.size;
    if (base > end) break;
  }
}
