// The k-way merge of sorted streams from several storage nodes (one per syncgroup with mirroring; today every
// member, since members do not mirror yet). Each input is sorted by `cmp`; the output is the first `limit` items
// of their union in that order, an item present in several inputs (the same key on two mirrors) taken once.

export function mergeSorted<T>(inputs: readonly T[][], cmp: (a: T, b: T) => number, limit: number): T[] {
  const at = inputs.map(() => 0);
  const out: T[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < inputs.length; i++) {
      const item = inputs[i]![at[i]!];
      if (item === undefined) continue;
      if (best < 0 || cmp(item, inputs[best]![at[best]!]!) < 0) best = i;
    }
    if (best < 0) break;
    const chosen = inputs[best]![at[best]!]!;
    out.push(chosen);
    // Skip the same item at the head of every input.
    for (let i = 0; i < inputs.length; i++) {
      const item = inputs[i]![at[i]!];
      if (item !== undefined && cmp(item, chosen) === 0) at[i]! += 1;
    }
  }
  return out;
}

/** S3 keys sort by their bytes (UTF-8 byte order), never by JS string order. */
export const byKey = (a: { key: Buffer }, b: { key: Buffer }) => Buffer.compare(a.key, b.key);

/** Multipart uploads sort by key bytes, then upload id. */
export const byKeyThenUpload = (a: { key: Buffer; uploadId: string }, b: { key: Buffer; uploadId: string }) =>
  Buffer.compare(a.key, b.key) || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0);
