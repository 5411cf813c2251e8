// Free extents (holes) of the chunkfiles, rebuilt from the data on every open: never persisted on its own.
// Two sorted arrays with binary search: per chunkfile by offset (to coalesce neighbours) and one global
// by (size, fileId, offset) for best-fit. Splices are memmoves: fast enough for hundreds of thousands.

export interface Extent {
  readonly fileId: number;
  readonly offset: number;
  readonly size: number;
}

function bySize(a: Extent, b: Extent): number {
  return a.size - b.size || a.fileId - b.fileId || a.offset - b.offset;
}

/** First index whose element is not less than `probe` under `cmp`. */
function lowerBound<T>(arr: readonly T[], probe: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class FreeSpace {
  private readonly bySizeList: Extent[] = [];
  private readonly byFile = new Map<number, Extent[]>();
  private totalBytes = 0;

  get bytes(): number {
    return this.totalBytes;
  }

  get count(): number {
    return this.bySizeList.length;
  }

  /** Adds a free extent, merging it with free neighbours in the same chunkfile. */
  add(fileId: number, offset: number, size: number): void {
    let list = this.byFile.get(fileId);
    if (!list) {
      list = [];
      this.byFile.set(fileId, list);
    }
    let start = offset;
    let end = offset + size;
    let i = lowerBound(list, { fileId, offset, size: 0 }, (a, b) => a.offset - b.offset);
    const prev = list[i - 1];
    if (prev && prev.offset + prev.size === start) {
      start = prev.offset;
      this.dropGlobal(prev);
      list.splice(i - 1, 1);
      i -= 1;
    }
    const next = list[i];
    if (next && next.offset === end) {
      end = next.offset + next.size;
      this.dropGlobal(next);
      list.splice(i, 1);
    }
    const merged: Extent = { fileId, offset: start, size: end - start };
    list.splice(i, 0, merged);
    this.bySizeList.splice(lowerBound(this.bySizeList, merged, bySize), 0, merged);
    this.totalBytes += size;
  }

  /**
   * Best fit: removes and returns the smallest extent for which `fits` holds, looking only at extents of
   * at least `minSize` bytes (a few candidates, since `fits` only rejects for sector padding).
   */
  take(minSize: number, fits: (e: Extent) => boolean): Extent | undefined {
    const from = lowerBound(this.bySizeList, { fileId: -1, offset: -1, size: minSize }, bySize);
    for (let i = from; i < Math.min(from + 8, this.bySizeList.length); i++) {
      const e = this.bySizeList[i]!;
      if (!fits(e)) continue;
      this.remove(e);
      return e;
    }
    return undefined;
  }

  /** Forgets every extent of a chunkfile (it is being compacted or retired). */
  removeFile(fileId: number): void {
    for (const e of this.byFile.get(fileId) ?? []) {
      this.dropGlobal(e);
      this.totalBytes -= e.size;
    }
    this.byFile.delete(fileId);
  }

  extentsOf(fileId: number): readonly Extent[] {
    return this.byFile.get(fileId) ?? [];
  }

  bytesOf(fileId: number): number {
    let n = 0;
    for (const e of this.extentsOf(fileId)) n += e.size;
    return n;
  }

  private remove(e: Extent): void {
    this.dropGlobal(e);
    const list = this.byFile.get(e.fileId)!;
    list.splice(
      lowerBound(list, e, (a, b) => a.offset - b.offset),
      1,
    );
    this.totalBytes -= e.size;
  }

  private dropGlobal(e: Extent): void {
    const i = lowerBound(this.bySizeList, e, bySize);
    if (this.bySizeList[i] !== e) throw new Error('free-space index out of step');
    this.bySizeList.splice(i, 1);
  }
}
