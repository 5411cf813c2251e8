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
//
// Noncurrent versions (the `versions` table) change in the same commits as the current row (a new
// version pushes the current one down; removing the current version promotes the newest noncurrent):
// they have an overlay of their own, set in the same synchronous step, so a reader never finds a
// version in neither place. Writes that move versions are never hidden (write-path.ts).
import type { Db, NodeIndex } from './index-db.ts';

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

/** A change to the noncurrent versions table (row null: removed). */
export interface VersionRowChange {
  vkey: Buffer;
  row: Buffer | null;
}

export class ObjectRows {
  /** latin1 object key -> encoded row, or null for a delete, until LMDB has it. */
  private readonly overlay = new Map<string, Buffer | null>();
  /** latin1 version key -> encoded row, or null for a removal, until LMDB has it. */
  private readonly versionOverlay = new Map<string, Buffer | null>();
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
  write(
    okey: Buffer | undefined,
    row: Buffer | null,
    alsoInTxn: () => void,
    versions: VersionRowChange[] = [],
  ): Promise<void> {
    if (this.failure) throw this.failure;
    const k = okey?.toString('latin1');
    if (k !== undefined) this.overlay.set(k, row);
    const vs = versions.map((v) => ({ ...v, k: v.vkey.toString('latin1') }));
    for (const v of vs) this.versionOverlay.set(v.k, v.row);
    const landed = this.index.commit(() => {
      if (okey) {
        if (row) this.index.objects.put(okey, row);
        else this.index.objects.remove(okey);
      }
      for (const v of vs) {
        if (v.row) this.index.versions.put(v.vkey, v.row);
        else this.index.versions.remove(v.vkey);
      }
      alsoInTxn();
    });
    return landed.then(
      () => {
        if (k !== undefined && this.overlay.get(k) === row) this.overlay.delete(k);
        for (const v of vs) if (this.versionOverlay.get(v.k) === v.row) this.versionOverlay.delete(v.k);
      },
      (err) => {
        // The overlay keeps serving the row; refuse further writes rather than drift from LMDB.
        this.failure = err;
        throw err;
      },
    );
  }

  /** A noncurrent version's row. */
  getVersion(vkey: Buffer): Buffer | undefined {
    if (this.versionOverlay.size > 0) {
      const o = this.versionOverlay.get(vkey.toString('latin1'));
      if (o !== undefined) return o ?? undefined;
    }
    return this.index.get(this.index.versions, vkey);
  }

  /** Noncurrent version rows with start <= key < end in key order, overlay applied, at most `limit`. */
  versionRange(
    start: Buffer,
    end: Buffer | undefined,
    limit: number,
  ): Iterable<{ key: Buffer; value: Buffer }> {
    const pend: Array<{ key: Buffer; row: Buffer | null }> = [];
    for (const [k, row] of this.versionOverlay) {
      const key = Buffer.from(k, 'latin1');
      if (Buffer.compare(key, start) >= 0 && (!end || Buffer.compare(key, end) < 0)) pend.push({ key, row });
    }
    pend.sort((a, b) => Buffer.compare(a.key, b.key));
    return merged(this.index.versions, pend, start, end, limit);
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
  range(start: Buffer, end: Buffer | undefined, limit: number): Iterable<{ key: Buffer; value: Buffer }> {
    return merged(this.index.objects, this.pendingIn(start, end), start, end, limit);
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

/** LMDB rows of `db` in [start, end) merged with pending overlay rows (sorted), at most `limit`. */
function* merged(
  db: Db,
  pend: Array<{ key: Buffer; row: Buffer | null }>,
  start: Buffer,
  end: Buffer | undefined,
  limit: number,
): Iterable<{ key: Buffer; value: Buffer }> {
  let i = 0;
  let n = 0;
  const rows = db.getRange({ start, end, limit: limit + pend.length, snapshot: false });
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
