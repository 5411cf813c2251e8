// The objects table as the node reads it: LMDB rows plus the object writes whose LMDB commit is
// still on its way. An object write is acknowledged once its volume entry and binlog record are
// durable; waiting for LMDB's write thread as well would add a commit round to every PUT. So the
// new row goes into this overlay at once (reads, listings and the next write of the key see it)
// and leaves it when its commit has landed. After a crash the index is rebuilt from the volumes,
// so nothing durable depends on the commit (see index-db.ts).
import type { NodeIndex } from './index-db.ts';

export class ObjectRows {
  /** latin1 object key -> encoded row, or null for a delete, until LMDB has it. */
  private readonly overlay = new Map<string, Buffer | null>();
  private failure: unknown;

  constructor(private readonly index: NodeIndex) {}

  get(okey: Buffer): Buffer | undefined {
    if (this.overlay.size > 0) {
      const o = this.overlay.get(okey.toString('latin1'));
      if (o !== undefined) return o ?? undefined;
    }
    return this.index.get(this.index.objects, okey);
  }

  /**
   * Sets (`row`) or deletes (null) an object row, plus whatever `alsoInTxn` writes, in one LMDB
   * commit. `visible` resolves at once: readers see the overlay. `landed` resolves on commit.
   */
  write(okey: Buffer, row: Buffer | null, alsoInTxn: () => void): Promise<void> {
    if (this.failure) throw this.failure;
    const k = okey.toString('latin1');
    this.overlay.set(k, row);
    const landed = this.index.commit(() => {
      if (row) this.index.objects.put(okey, row);
      else this.index.objects.remove(okey);
      alsoInTxn();
    });
    return landed.then(
      () => {
        if (this.overlay.get(k) === row) this.overlay.delete(k);
      },
      (err) => {
        // The overlay keeps serving the row; refuse further writes rather than drift from LMDB.
        this.failure = err;
        throw err;
      },
    );
  }

  /** Overlay entries in [start, end), sorted by key bytes. */
  pendingIn(start: Buffer, end: Buffer | undefined): Array<{ key: Buffer; row: Buffer | null }> {
    if (this.overlay.size === 0) return [];
    const out: Array<{ key: Buffer; row: Buffer | null }> = [];
    for (const [k, row] of this.overlay) {
      const key = Buffer.from(k, 'latin1');
      if (Buffer.compare(key, start) >= 0 && (!end || Buffer.compare(key, end) < 0)) out.push({ key, row });
    }
    return out.sort((a, b) => Buffer.compare(a.key, b.key));
  }

  /** Rows with start <= key < end in key order, overlay applied, at most `limit`. */
  *range(start: Buffer, end: Buffer | undefined, limit: number): Iterable<{ key: Buffer; value: Buffer }> {
    const pend = this.pendingIn(start, end);
    let i = 0;
    let n = 0;
    const rows = this.index.objects.getRange({ start, end, limit: limit + pend.length, snapshot: false });
    for (const { key, value } of rows) {
      while (i < pend.length && Buffer.compare(pend[i]!.key, key) < 0) {
        const p = pend[i++]!;
        if (p.row) {
          yield { key: p.key, value: p.row };
          if (++n >= limit) return;
        }
      }
      if (i < pend.length && pend[i]!.key.equals(key)) {
        const p = pend[i++]!;
        if (!p.row) continue;
        yield { key, value: p.row };
      } else yield { key, value };
      if (++n >= limit) return;
    }
    for (; i < pend.length; i++) {
      const p = pend[i]!;
      if (!p.row) continue;
      yield { key: p.key, value: p.row };
      if (++n >= limit) return;
    }
  }

  /** Waits until every overlay row has landed in LMDB. */
  async settle(): Promise<void> {
    await this.index.env.committed;
  }
}
