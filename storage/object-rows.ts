// The objects table as the node reads it: LMDB rows plus the object writes whose LMDB commit is
// still on its way. An object write is acknowledged once its volume entry and binlog record are
// durable; waiting for LMDB's write thread as well would add a commit round to every PUT. So the
// new row goes into this overlay at once (reads, listings and the next write of the key see it)
// and leaves it when its commit has landed. After a crash the index is rebuilt from the volumes,
// so nothing durable depends on the commit (see index-db.ts).
//
// A write may also be *hidden*: its row is committed (and may reach the disk) before the volume
// entry it points at is durable, while readers keep seeing the previous row through the shadow map
// until the writer reveals it (everything durable) or puts the previous row back (the volume
// failed). Writers of the key (under its lock) and compaction's move router use `latest`.
import type { NodeIndex } from './index-db.ts';

interface Shadow {
  readonly row: Buffer | null;
}

/** A committed row readers do not see yet. */
export interface HiddenWrite {
  /** Resolves when the row's LMDB commit has landed (not flushed). */
  readonly landed: Promise<void>;
  /** The row it replaced (null: none), to put back if the write must be undone. */
  readonly previous: Buffer | null;
  /** Readers see the new row from now on. */
  reveal(): void;
}

export class ObjectRows {
  /** latin1 object key -> encoded row, or null for a delete, until LMDB has it. */
  private readonly overlay = new Map<string, Buffer | null>();
  /** latin1 object key -> the row readers see while a hidden write is in flight. */
  private readonly shadow = new Map<string, Shadow>();
  private failure: unknown;

  constructor(private readonly index: NodeIndex) {}

  /** The row readers see. */
  get(okey: Buffer): Buffer | undefined {
    if (this.shadow.size > 0) {
      const s = this.shadow.get(okey.toString('latin1'));
      if (s) return s.row ?? undefined;
    }
    return this.latest(okey);
  }

  /** The newest committed row, hidden or not. */
  latest(okey: Buffer): Buffer | undefined {
    if (this.overlay.size > 0) {
      const o = this.overlay.get(okey.toString('latin1'));
      if (o !== undefined) return o ?? undefined;
    }
    return this.index.get(this.index.objects, okey);
  }

  /** Like write(), but readers keep seeing the current row until `reveal()`. */
  writeHidden(okey: Buffer, row: Buffer | null, alsoInTxn: () => void): HiddenWrite {
    const k = okey.toString('latin1');
    const s: Shadow = { row: this.latest(okey) ?? null };
    const landed = this.write(okey, row, alsoInTxn);
    this.shadow.set(k, s);
    return {
      landed,
      previous: s.row,
      reveal: () => {
        if (this.shadow.get(k) === s) this.shadow.delete(k);
      },
    };
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
    if (this.overlay.size === 0 && this.shadow.size === 0) return [];
    const out: Array<{ key: Buffer; row: Buffer | null }> = [];
    const add = (k: string, row: Buffer | null) => {
      const key = Buffer.from(k, 'latin1');
      if (Buffer.compare(key, start) >= 0 && (!end || Buffer.compare(key, end) < 0)) out.push({ key, row });
    };
    for (const [k, row] of this.overlay) if (!this.shadow.has(k)) add(k, row);
    // A hidden write shows its previous row: the shadow outranks both the overlay and LMDB.
    for (const [k, s] of this.shadow) add(k, s.row);
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

  /** Like settle, but throws when a commit failed (the overlay then holds rows LMDB does not). */
  async settled(): Promise<void> {
    await this.index.env.committed;
    if (this.failure) throw this.failure;
  }
}
