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
import { OperationEpochs } from './epochs.ts';
import { encodePendingValue, type PendingValue, type VolLoc } from './records.ts';

export const locKey = (v: VolLoc) =>
  `${v.volumeId}\0${v.location.kind}\0${v.location.fileId}\0${v.location.offset}`;

interface Pin {
  count: number;
  /** The location's key. */
  readonly key: string;
  /** Keys of the locations compaction moved it to (rare: allocated on the first move). */
  moved?: string[];
  /** Frees handed to this pin: done when the last reader releases (allocated by the first). */
  deferred?: Array<{ rowKey: string; value: PendingValue }>;
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

/** A reader's pins on the locations of one version (a class: no closures per read on the hot path). */
export class PinHold {
  readonly wait?: undefined;
  private held: Pin | Pin[] | undefined;

  constructor(
    private readonly table: PinTable,
    held: Pin | Pin[],
    /** When the read began (epochs.ts): compaction waits for it before forgetting a moved location. */
    private readonly epoch: number,
  ) {
    this.held = held;
  }

  /** Unpins; the last reader of a location runs the frees deferred to it. Idempotent. */
  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    if (Array.isArray(held)) for (const p of held) this.table.unpin(p);
    else this.table.unpin(held);
    this.table.epochs.end(this.epoch);
  }
}

export type PinResult = PinHold | { wait: Promise<void> };

/** A writer's claim (a class: no closures per write on the hot path). */
class HeldClaim implements ClaimedVersion {
  private released = false;

  constructor(
    private readonly table: PinTable,
    readonly now: VolLoc[],
    readonly later: VolLoc[],
    /** Undefined when nothing was claimed (a new key, or every location pinned). */
    private readonly claim: Claim | undefined,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.claim) this.table.unclaim(this.claim);
  }
}

export class PinTable {
  private readonly pins = new Map<string, Pin>();
  private deferredCount = 0;
  /** The pins with frees deferred to them (few: only while a writer waits for readers). */
  private readonly deferringPins = new Set<Pin>();
  /** Usually one claim per location; a set so that nested claims cannot unclaim each other. */
  private readonly claims = new Map<string, Set<Claim>>();

  /**
   * `onFree` runs a deferred free once the last reader of its location has released it. Every read holding
   * pins counts as an operation in progress in `epochs`.
   */
  constructor(
    private readonly onFree: (rowKey: string, value: PendingValue) => void,
    readonly epochs: OperationEpochs = new OperationEpochs(),
  ) {}

  /** Pins every location, or none and returns what to wait for when one is claimed. Synchronous. */
  tryPin(locs: readonly VolLoc[]): PinResult {
    // One location (every object but a multipart one) is the hot path: no arrays.
    if (locs.length === 1) {
      const k = locKey(locs[0]!);
      const wait = this.claimOn(k);
      return wait ? { wait } : new PinHold(this, this.pinKey(k), this.epochs.begin());
    }
    const keys = locs.map(locKey);
    for (const k of keys) {
      const wait = this.claimOn(k);
      if (wait) return { wait };
    }
    return new PinHold(
      this,
      keys.map((k) => this.pinKey(k)),
      this.epochs.begin(),
    );
  }

  /** What a reader of `k` waits for when a writer has claimed it. */
  private claimOn(k: string): Promise<void> | undefined {
    if (this.claims.size === 0) return undefined;
    const cs = this.claims.get(k);
    if (cs) for (const c of cs) return c.done;
    return undefined;
  }

  private pinKey(k: string): Pin {
    let p = this.pins.get(k);
    if (!p) {
      p = { count: 0, key: k };
      this.pins.set(k, p);
    }
    p.count++;
    return p;
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
    if (keys.length === 0) return new HeldClaim(this, now, later, undefined);
    let end!: () => void;
    const done = new Promise<void>((r) => {
      end = r;
    });
    const c: Claim = { keys, done, end };
    for (const k of keys) this.addClaim(k, c);
    return new HeldClaim(this, now, later, c);
  }

  /** @internal (HeldClaim) Readers of the claimed locations may look again. */
  unclaim(c: Claim): void {
    for (const k of c.keys) {
      const cs = this.claims.get(k);
      cs?.delete(c);
      if (cs?.size === 0) this.claims.delete(k);
    }
    c.end();
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
      pin.deferred ??= [];
      pin.deferred.push({ rowKey, value: v });
      this.deferringPins.add(pin);
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
      p.moved ??= [];
      p.moved.push(tk);
    }
    for (const c of this.claims.get(fk) ?? []) {
      this.addClaim(tk, c);
      c.keys.push(tk);
    }
    // Frees waiting for readers name the copy from now on (as their pending rows do, moved-router.ts), so
    // they never need the volume's forward, which it forgets once the moved file's users are gone.
    if (this.deferredCount > 0) {
      for (const pin of this.deferringPins) {
        for (const d of pin.deferred ?? []) {
          if (locKey(d.value.at) === fk) d.value.at = to;
          if (d.value.tombstone && locKey(d.value.tombstone) === fk) d.value.tombstone = to;
        }
      }
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

  /** @internal (PinHold) */
  unpin(p: Pin): void {
    if (--p.count > 0) return;
    if (this.pins.get(p.key) === p) this.pins.delete(p.key);
    if (p.moved) for (const k of p.moved) if (this.pins.get(k) === p) this.pins.delete(k);
    if (!p.deferred) return;
    this.deferringPins.delete(p);
    for (const d of p.deferred) {
      this.deferredCount -= 1;
      this.onFree(d.rowKey, d.value);
    }
  }
}
