// Pins and claims on volume locations: the rule that keeps readers from ever getting wrong bytes.
//
// - A reader pins the locations of the version it found in the index in the same synchronous step as
//   it read the row (no await in between). A pinned location is never freed, reused or rewritten in
//   place: a writer that wants to free it defers the free to the last reader's release.
// - A writer that will free or rewrite a version's locations claims them in the same synchronous step
//   as it read that version's row. Locations pinned at that moment are returned as `later` (deferred);
//   the others are claimed, and a reader that meets a claim waits until the writer has made its new row
//   visible (the claim's release), then reads the index again.
// - Compaction moves an entry to a new location and the index follows (MovedRouter): pins and claims
//   of the old location follow it too, since reads of the old location are forwarded to the new one.
import { encodePendingValue, type PendingValue, type VolLoc } from './records.ts';

export const locKey = (v: VolLoc) =>
  `${v.volumeId}\0${v.location.kind}\0${v.location.fileId}\0${v.location.offset}`;

interface Pin {
  count: number;
  /** Keys this pin is known by (a location and the ones compaction moved it to). */
  readonly keys: string[];
  /** Frees handed to this pin: done when the last reader releases. */
  readonly deferred: Array<{ rowKey: string; value: PendingValue }>;
}

interface Claim {
  readonly keys: string[];
  readonly done: Promise<void>;
  readonly end: () => void;
}

/** A writer's hold on the locations of the version it replaces or deletes. */
export interface ClaimedVersion {
  /** Not pinned: claimed, the writer may free or rewrite them. */
  readonly now: VolLoc[];
  /** Pinned by a reader: only `defer` may free them. */
  readonly later: VolLoc[];
  /** Readers may look again (call once the new row is visible, or the write was undone). Idempotent. */
  release(): void;
}

export type PinResult = { release: () => void; wait?: undefined } | { wait: Promise<void> };

export class PinTable {
  private readonly pins = new Map<string, Pin>();
  private deferredCount = 0;
  /** Usually one claim per location; a set so that nested claims cannot unclaim each other. */
  private readonly claims = new Map<string, Set<Claim>>();

  /** `onFree` runs a deferred free once the last reader of its location has released it. */
  constructor(private readonly onFree: (rowKey: string, value: PendingValue) => void) {}

  /** Pins every location, or none and returns what to wait for when one is claimed. Synchronous. */
  tryPin(locs: VolLoc[]): PinResult {
    const keys = locs.map(locKey);
    for (const k of keys) {
      const cs = this.claims.get(k);
      if (cs) for (const c of cs) return { wait: c.done };
    }
    const held: Pin[] = [];
    for (const k of keys) {
      let p = this.pins.get(k);
      if (!p) {
        p = { count: 0, keys: [k], deferred: [] };
        this.pins.set(k, p);
      }
      p.count++;
      held.push(p);
    }
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        for (const p of held) this.unpin(p);
      },
    };
  }

  isPinned(loc: VolLoc): boolean {
    return (this.pins.get(locKey(loc))?.count ?? 0) > 0;
  }

  /** Splits a version's locations into claimed (`now`) and pinned (`later`). Synchronous. */
  claim(locs: VolLoc[]): ClaimedVersion {
    const now: VolLoc[] = [];
    const later: VolLoc[] = [];
    const keys: string[] = [];
    for (const l of locs) {
      const k = locKey(l);
      if (this.pins.has(k)) later.push(l);
      else {
        now.push(l);
        keys.push(k);
      }
    }
    if (keys.length === 0) return { now, later, release: () => undefined };
    let end!: () => void;
    const done = new Promise<void>((r) => {
      end = r;
    });
    const c: Claim = { keys, done, end };
    for (const k of keys) this.addClaim(k, c);
    let released = false;
    return {
      now,
      later,
      release: () => {
        if (released) return;
        released = true;
        for (const k of c.keys) {
          const cs = this.claims.get(k);
          cs?.delete(c);
          if (cs?.size === 0) this.claims.delete(k);
        }
        c.end();
      },
    };
  }

  /**
   * Hands `later` locations to their pins (freed when the last reader releases) and returns the pending
   * rows to persist in the same index transaction; a location whose readers are gone meanwhile comes
   * back in `free` (with its tombstone, if any, right after it).
   */
  defer(
    later: VolLoc[],
    tombstone?: { of: VolLoc; at: VolLoc },
  ): { rows: Array<[Buffer, Buffer]>; free: VolLoc[] } {
    const rows: Array<[Buffer, Buffer]> = [];
    const free: VolLoc[] = [];
    for (const l of later) {
      const v: PendingValue = { at: l };
      if (tombstone && tombstone.of === l) v.tombstone = tombstone.at;
      const rowKey = locKey(l);
      const pin = this.pins.get(rowKey);
      if (!pin) {
        free.push(l);
        if (v.tombstone) free.push(v.tombstone);
        continue;
      }
      pin.deferred.push({ rowKey, value: v });
      this.deferredCount += 1;
      rows.push([Buffer.from(rowKey), encodePendingValue(v)]);
    }
    return { rows, free };
  }

  /** Compaction moved the entry at `from` to `to`: readers of `from` are now served from `to`. */
  follow(from: VolLoc, to: VolLoc): void {
    const fk = locKey(from);
    const tk = locKey(to);
    const p = this.pins.get(fk);
    if (p && !this.pins.has(tk)) {
      this.pins.set(tk, p);
      p.keys.push(tk);
    }
    for (const c of this.claims.get(fk) ?? []) {
      this.addClaim(tk, c);
      c.keys.push(tk);
    }
  }

  private addClaim(k: string, c: Claim): void {
    const cs = this.claims.get(k);
    if (cs) cs.add(c);
    else this.claims.set(k, new Set([c]));
  }

  /** True while some free waits for its last reader (then pending rows exist: moved-router.ts). */
  get deferring(): boolean {
    return this.deferredCount > 0;
  }

  /** Locations pinned right now (tests and metrics). */
  get size(): number {
    return this.pins.size;
  }

  private unpin(p: Pin): void {
    if (--p.count > 0) return;
    for (const k of p.keys) if (this.pins.get(k) === p) this.pins.delete(k);
    for (const d of p.deferred) {
      this.deferredCount -= 1;
      this.onFree(d.rowKey, d.value);
    }
  }
}
