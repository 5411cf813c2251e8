// The storage node's replication primitive (replica-api.ts): the states of a key's versions, applying a state
// sent by a mirror if it is newer than what this node holds for that version, the key scan recovery walks, and
// the expiry of tombstones.
//
// An apply stores exactly the version it is given: same version id and stamp, opver, ETag, checksums, headers,
// size, dates, tags, lock state and ACL. A multipart object is stored as one body (inline or a blob) whose meta
// keeps the parts list (records.ts ObjectBody), so GET ?partNumber=N answers as on the source. It is placed
// among the key's versions by its stamp (the newest is current), as if the writes had happened here in stamp
// order. A removed state deletes the version and keeps a tombstone (replica-tombstones.ts).
//
// An apply writes no binlog record: the binlog holds only this node's own ops. Its commit is the serial order:
// the volume entry (and blob) durable, then one index commit of the rows (flushed), then the old version's
// space freed (protected first); or, when only the current row changes (the mirrored PUT), the staged order of a
// local PUT (the row committed hidden while the volume syncs, revealed when both are durable). What a crash leaves is settled by recovery as for any write: an entry durable
// without its row lies in what the volumes report as changed since their checkpoint (a volume checkpoint
// waits for applies in flight, `track`), and the highest opver of each version wins, a tombstone included;
// a rebuild does the same from the volumes alone. The clock advances to every opver applied, persisted in the
// same index commit.
import { NULL_VERSION, type ObjectRecord, type Opver } from './api.ts';
import { collectBody, exactly } from './body.ts';
import { NoSuchUploadError, StorageError } from './errors.ts';
import type { NodeIndex } from './index-db.ts';
import {
  decodeObjectKey,
  decodeTombstoneKey,
  decodeUploadKey,
  decodeVersionKey,
  EntryKind,
  entryKey,
  objectKey,
  parseVersionId,
  prefixEnd,
  successor,
  uploadKey,
  versionEntryKey,
  versionIdOf,
  versionKey,
  versionKeyPrefix,
} from './keys.ts';
import type { KeyedLock } from './locks.ts';
import type { ObjectRows, VersionRowChange } from './object-rows.ts';
import type { OpverClock } from './opver-clock.ts';
import type { ClaimedVersion } from './pins.ts';
import type { Placement } from './placement.ts';
import { type ReadPath, toRecord, versionIdOfMeta } from './read-path.ts';
import {
  compareOpver,
  decodeObjectValue,
  decodeTombstoneValue,
  decodeUploadValue,
  encodeEntryMeta,
  type ObjectMeta,
  type ObjectValue,
  objectValueFromEntryMeta,
  type VolLoc,
} from './records.ts';
import type { ApplyReplicaInput, ApplyResult, ReplicaKey, ReplicaState } from './replica-api.ts';
import { getTombstone, putTombstone, tombstoneKeyOf } from './replica-tombstones.ts';
import { partRowsOf, uploadLock } from './replica-uploads.ts';

export interface ReplicaDeps {
  readonly index: NodeIndex;
  readonly rows: ObjectRows;
  readonly locks: KeyedLock;
  readonly clock: OpverClock;
  readonly placement: Placement;
  readonly reads: ReadPath;
  readonly indexSync: 'ack' | 'background';
  readonly smallObjectMaxBytes: number;
  readonly random: (bytes: number) => Buffer;
  /** The node's wall clock: tombstones are dated by it and expire by age. */
  readonly now: () => number;
  /** An apply in flight, from before its entry is written until its index commit: volume checkpoints wait. */
  readonly track: { begin(): bigint; end(id: bigint): void };
  /** Leaves an upload's tombstone after a completion (replica-uploads.ts), under the upload's lock. */
  removeUpload(
    u: { bucket: string; key: Buffer; uploadId: string; opver: Opver },
    opts: { completed: true },
  ): Promise<unknown>;
}

/** One version row of a key as it is now. */
interface VersionRow {
  v: ObjectValue;
  row: Buffer;
  /** Its key in the versions table; absent: the current version (objects table). */
  vkey?: Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);

export class Replica {
  constructor(private readonly d: ReplicaDeps) {}

  /** Every version row of the key (current first, then newest first) and every tombstone. */
  states(bucket: string, key: Buffer): ReplicaState[] {
    const okey = objectKey(bucket, key);
    const out: ReplicaState[] = [];
    const rows = this.versionRows(bucket, key, okey);
    const byId = new Map<string, ReplicaState>();
    for (const r of rows) {
      const id = versionIdOfMeta(r.v);
      const s: ReplicaState = {
        bucket,
        key,
        versionId: id,
        opver: r.v.opver,
        record: toRecord(bucket, key, r.v, r.v.opver, r.vkey === undefined),
        seq: r.v.seq!,
        ...(r.v.body.kind === 'multipart' ? { fromUpload: r.v.body.uploadId } : {}),
      };
      byId.set(id, s);
      out.push(s);
    }
    const lo = versionKeyPrefix(bucket, key);
    for (const { key: tkey, value } of this.d.index.tombstones.getRange({
      start: lo,
      end: prefixEnd(lo),
      snapshot: false,
    })) {
      const t = decodeTombstoneValue(value);
      const { stamp, uploadId } = decodeTombstoneKey(tkey);
      if (uploadId !== undefined) continue; // an upload's (replica-uploads.ts)
      const id = stamp ? versionIdOf(stamp) : NULL_VERSION;
      const held = byId.get(id);
      // A version written again after its removal: the newer of the two is what this node holds.
      if (held) {
        if (compareOpver(t.opver, held.opver) > 0) {
          delete held.record;
          delete held.seq;
          delete held.fromUpload;
          held.opver = t.opver;
        }
        continue;
      }
      out.push({ bucket, key, versionId: id, opver: t.opver });
    }
    return out;
  }

  async apply(input: ApplyReplicaInput): Promise<ApplyResult> {
    const { state } = input;
    const { bucket, key } = state;
    const stamp = stampOf(state.versionId);
    const okey = objectKey(bucket, key);
    // Before any byte is read: most stale states (a duplicate, an older write) end here.
    if (this.isStale(bucket, key, okey, state, input.force === true)) return 'stale';
    const rec = state.record;
    if (!rec) return this.d.locks.run(okey.toString('latin1'), () => this.removeLocked(input, okey, stamp));
    if (rec.deleteMarker && rec.size !== 0) throw invalid('a delete marker has no data');
    if (rec.parts && rec.parts.reduce((n, p) => n + p.size, 0) !== rec.size)
      throw invalid('the parts do not add up to the size');
    // Sent without bytes (over HTTP the body is an empty stream, never read here).
    if (state.fromUpload !== undefined && rec.parts)
      return this.completeFromParts(input, state.fromUpload, rec.parts, okey, stamp);
    const id = this.d.track.begin();
    let blobAt: VolLoc | undefined;
    let committed = false;
    try {
      let data = EMPTY;
      if (rec.size > 0 && !input.body) throw invalid('a replicated version with data needs its bytes');
      if (rec.size <= this.d.smallObjectMaxBytes) data = await collectBody(input.body ?? noBytes(), rec.size);
      else {
        const blobId = this.d.random(16);
        ({ at: blobAt } = await this.d.placement.put({
          key: entryKey(EntryKind.blob, blobId),
          meta: { kind: 'blob', owner: { table: 'objects', key: okey } },
          opver: state.opver,
          data: exactly(input.body!, rec.size),
          dataBytes: rec.size,
          nowMs: this.d.now(),
        }));
        const parts = rec.parts && { parts: rec.parts.map(partOf) };
        const body = { kind: 'blob' as const, blobId, ...parts };
        return await this.d.locks.run(okey.toString('latin1'), () =>
          this.placeLocked(input, okey, stamp, EMPTY, body, blobAt, (yes) => {
            committed = yes;
          }),
        );
      }
      const parts = rec.parts && { parts: rec.parts.map(partOf) };
      return await this.d.locks.run(okey.toString('latin1'), () =>
        this.placeLocked(input, okey, stamp, data, { kind: 'inline', ...parts }, undefined, () => undefined),
      );
    } finally {
      if (blobAt && !committed) await this.d.placement.free([blobAt]).catch(() => undefined);
      this.d.track.end(id);
    }
  }

  /**
   * A mirror's side of a multipart completion (replica-api.ts `fromUpload`): the version built from this node's
   * copies of the upload's parts, no bytes sent, as the completion built it (a manifest naming the upload's parts,
   * which stay where they are); the upload's row and unused parts go in the same commit, then its tombstone is
   * left. NoSuchUpload when the upload or one of the parts (same size and ETag) is not here: the bytes are then sent.
   */
  private completeFromParts(
    input: ApplyReplicaInput,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; size: number; etag: string }>,
    okey: Buffer,
    stamp: Opver | undefined,
  ): Promise<ApplyResult> {
    const d = this.d;
    const { bucket, key } = input.state;
    return d.locks.run(uploadLock(uploadId), async () => {
      const uk = uploadKey(bucket, key, uploadId);
      const row = d.index.get(d.index.uploads, uk);
      if (!row) throw new NoSuchUploadError(uploadId);
      const upload = decodeUploadValue(row);
      const rows = new Map(partRowsOf(d.index, uploadId).map((r) => [r.partNumber, r]));
      for (const p of parts) {
        const r = rows.get(p.partNumber);
        if (!r || r.value.size !== p.size || r.value.etag !== p.etag) throw new NoSuchUploadError(uploadId);
      }
      const used = new Set(parts.map((p) => p.partNumber));
      const unused = [...rows.values()].filter((r) => !used.has(r.partNumber));
      const body = { kind: 'multipart' as const, uploadId, parts: parts.map(partOf) };
      const id = d.track.begin();
      try {
        const result = await d.locks.run(okey.toString('latin1'), () =>
          this.placeLocked(input, okey, stamp, EMPTY, body, undefined, () => undefined, {
            inTxn: () => {
              d.index.uploads.remove(uk);
              for (const r of unused) d.index.parts.remove(r.key);
            },
            freeAfter: [
              upload.at,
              ...unused.flatMap((r) => (r.value.blobAt ? [r.value.at, r.value.blobAt] : [r.value.at])),
            ],
          }),
        );
        if (result === 'applied')
          await d.removeUpload({ bucket, key, uploadId, opver: input.state.opver }, { completed: true });
        return result;
      } finally {
        d.track.end(id);
      }
    });
  }

  /** Every key with a version row, a tombstone or an upload, after `after`, in (bucket, key bytes) order. */
  scanKeys(opts: { after?: ReplicaKey; limit: number }): ReplicaKey[] {
    const out: ReplicaKey[] = [];
    let cur = opts.after;
    while (out.length < opts.limit) {
      let best: ReplicaKey | undefined;
      for (const next of [
        this.nextObject(cur),
        this.nextVersioned(this.d.index.tombstones, cur, decodeTombstoneKey),
        this.nextVersioned(this.d.index.uploads, cur, decodeUploadKey),
        this.nextNoncurrent(cur),
      ]) {
        if (next && (!best || compareKeys(next, best) < 0)) best = next;
      }
      if (!best) break;
      out.push(best);
      cur = best;
    }
    return out;
  }

  /**
   * Removes tombstones older than `retentionMs` (by the node's clock); returns how many. Each under its key's
   * lock: the row goes first (its entry protected), then the entry, so a crash in between leaves the entry to
   * recovery, never a row naming freed space.
   */
  async purgeExpired(retentionMs: number, limit = Number.POSITIVE_INFINITY): Promise<number> {
    const cutoff = this.d.now() - retentionMs;
    const expired: Buffer[] = [];
    for (const { key, value } of this.d.index.tombstones.getRange({ snapshot: false })) {
      if (decodeTombstoneValue(value).createdMs <= cutoff) expired.push(Buffer.from(key));
      if (expired.length >= limit) break;
    }
    let n = 0;
    for (const tkey of expired) {
      const { bucket, key, uploadId } = decodeTombstoneKey(tkey);
      // An upload's tombstone is changed under its upload's lock (replica-uploads.ts), a version's under its key's.
      const lock = uploadId !== undefined ? uploadLock(uploadId) : objectKey(bucket, key).toString('latin1');
      n += await this.d.locks.run(lock, async () => {
        const t = getTombstone(this.d.index, tkey);
        if (!t || t.createdMs > cutoff) return 0;
        const release = await this.d.placement.protect(t.at ? [t.at] : []);
        try {
          await this.d.index.write(() => this.d.index.tombstones.remove(tkey));
          if (t.at) await this.d.placement.freeIfThere(t.at);
        } finally {
          release();
        }
        return 1;
      });
    }
    return n;
  }

  // ---- internals ----

  /** Whether the node holds the unit at an opver the state does not beat (equal passes when forced). */
  private isStale(bucket: string, key: Buffer, okey: Buffer, state: ReplicaState, force: boolean): boolean {
    const held = this.heldOpver(bucket, key, okey, state.versionId);
    if (!held) return false;
    const c = compareOpver(state.opver, held);
    return force ? c < 0 : c <= 0;
  }

  /** The highest opver this node holds for one version: its row's, or its tombstone's. */
  private heldOpver(bucket: string, key: Buffer, okey: Buffer, versionId: string): Opver | undefined {
    const row = this.unitRow(bucket, key, okey, versionId);
    const t = getTombstone(this.d.index, tombstoneKeyOf(bucket, key, stampOf(versionId)));
    if (!row) return t?.opver;
    if (!t) return row.v.opver;
    return compareOpver(row.v.opver, t.opver) >= 0 ? row.v.opver : t.opver;
  }

  private unitRow(bucket: string, key: Buffer, okey: Buffer, versionId: string): VersionRow | undefined {
    const cur = this.d.rows.get(okey);
    if (cur) {
      const v = decodeObjectValue(cur);
      if (versionIdOfMeta(v) === versionId) return { v, row: cur };
    }
    const stamp = stampOf(versionId);
    if (stamp) {
      const vkey = versionKey(bucket, key, stamp);
      const row = this.d.rows.getVersion(vkey);
      if (!row) return undefined;
      const v = decodeObjectValue(row);
      return v.versioned ? { v, row, vkey } : undefined;
    }
    for (const r of this.versionRows(bucket, key, okey)) if (r.vkey && !r.v.versioned) return r;
    return undefined;
  }

  /** The current row, then the noncurrent ones newest first. */
  private versionRows(bucket: string, key: Buffer, okey: Buffer): VersionRow[] {
    const out: VersionRow[] = [];
    const cur = this.d.rows.get(okey);
    if (cur) out.push({ v: decodeObjectValue(cur), row: cur });
    const lo = versionKeyPrefix(bucket, key);
    for (const { key: vkey, value } of this.d.rows.versionRange(lo, prefixEnd(lo), Number.POSITIVE_INFINITY))
      out.push({ v: decodeObjectValue(value), row: Buffer.from(value), vkey: Buffer.from(vkey) });
    return out;
  }

  /**
   * The index change that puts the key's versions in stamp order after replacing (`row`) or removing (null) the
   * version `versionId`: the newest is current, the others noncurrent. Computed from the rows as they are now,
   * in the same synchronous step as the commit (compaction may have moved any of them meanwhile).
   */
  private arrange(
    bucket: string,
    key: Buffer,
    okey: Buffer,
    versionId: string,
    row: { v: ObjectValue; row: Buffer } | null,
  ): { current: Buffer | null | undefined; versions: VersionRowChange[] } {
    const before = this.versionRows(bucket, key, okey);
    const after = before
      .filter((r) => versionIdOfMeta(r.v) !== versionId)
      .map((r) => ({ v: r.v, row: r.row }));
    if (row) after.push(row);
    after.sort((a, b) => compareOpver(b.v.seq!, a.v.seq!));
    const [top, ...rest] = after;
    const oldCur = before.find((r) => r.vkey === undefined);
    const current = top ? (oldCur?.row === top.row ? undefined : top.row) : oldCur ? null : undefined;
    const versions: VersionRowChange[] = [];
    const want = new Map<string, { vkey: Buffer; row: Buffer }>();
    for (const r of rest) {
      const vkey = versionKey(bucket, key, r.v.seq!);
      want.set(vkey.toString('latin1'), { vkey, row: r.row });
    }
    for (const r of before) {
      if (!r.vkey) continue;
      const k = r.vkey.toString('latin1');
      const w = want.get(k);
      if (w && w.row === r.row) want.delete(k);
      else if (!w) versions.push({ vkey: r.vkey, row: null });
    }
    for (const w of want.values()) versions.push(w);
    return { current, versions };
  }

  /** Stores a present state (under the key's lock): the entry, then the rows in one commit, then frees. */
  private async placeLocked(
    input: ApplyReplicaInput,
    okey: Buffer,
    stamp: Opver | undefined,
    data: Buffer,
    body: ObjectMeta['body'],
    blobAt: VolLoc | undefined,
    /** Told when the row naming the blob may be visible (true), or was taken back (false): then it is the row's. */
    committing: (yes: boolean) => void,
    /** A version completed from an upload here: the upload's rows go in the same commit, its space after. */
    completes?: { inTxn: () => void; freeAfter: VolLoc[] },
  ): Promise<ApplyResult> {
    const d = this.d;
    const { state } = input;
    const { bucket, key } = state;
    const rec = state.record!;
    if (this.isStale(bucket, key, okey, state, input.force === true)) return 'stale';
    const tkey = tombstoneKeyOf(bucket, key, stamp);
    const old = this.unitRow(bucket, key, okey, state.versionId);
    const space = old ? d.reads.space(old.v) : { locs: [], partKeys: [] };
    // Same synchronous step as reading the row: from here no new read can pin its claimed locations.
    const claim = d.reads.pins.claim(old ? [old.v.at, ...space.locs] : []);
    try {
      d.clock.advanceTo(state.opver.counter);
      const meta = metaOf(rec, stamp ?? state.seq ?? state.opver, stamp !== undefined, body);
      const entry = encodeEntryMeta({ kind: 'object', meta });
      const replace = old && claim.now.includes(old.v.at) ? old.v.at : undefined;
      // The common case (a mirrored write of a key without other versions, tombstone, parts or readers of the
      // old one): only the current row changes, so it is committed as a local PUT is (staged).
      const mark = { v: { ...meta, opver: state.opver } as ObjectValue, row: Buffer.alloc(0) };
      const probe = this.arrange(bucket, key, okey, state.versionId, mark);
      const staged =
        !completes &&
        probe.versions.length === 0 &&
        probe.current === mark.row &&
        space.partKeys.length === 0 &&
        claim.later.length === 0 &&
        !getTombstone(d.index, tkey);
      const put = await d.placement.put({
        key: versionEntryKey(okey, stamp),
        meta: entry,
        opver: state.opver,
        data,
        dataBytes: data.length,
        nowMs: d.now(),
        replace,
        staged,
      });
      if (staged) {
        await this.commitStaged({ okey, entry, opver: state.opver, put, blobAt, claim, replace, committing });
        return 'applied';
      }
      await put.durable;
      const tomb = getTombstone(d.index, tkey);
      const toFree = [
        ...claim.now,
        ...claim.later,
        ...(tomb?.at ? [tomb.at] : []),
        ...(completes?.freeAfter ?? []),
      ];
      const release = await d.placement.protect(toFree);
      try {
        const freeNow = [
          ...(put.replaced ? claim.now.filter((l) => l !== replace) : claim.now),
          ...(completes?.freeAfter ?? []),
        ];
        const deferred = d.reads.pins.defer(claim.later);
        const v: ObjectValue = {
          ...meta,
          opver: state.opver,
          at: d.placement.resolve(put.at),
          ...(blobAt ? { blobAt: d.placement.resolve(blobAt) } : {}),
        };
        const row = objectValueFromEntryMeta(entry, v.opver, v.at, v.blobAt);
        const change = this.arrange(bucket, key, okey, state.versionId, { v, row });
        const tombAt = tomb?.at && getTombstone(d.index, tkey)?.at;
        committing(true);
        await this.writeRows(okey, change, () => {
          for (const pk of space.partKeys) d.index.parts.remove(pk);
          d.reads.putPending(deferred.rows);
          if (tomb) d.index.tombstones.remove(tkey);
          completes?.inTxn();
          d.index.putCounter(d.clock.counter);
        });
        claim.release();
        await d.placement.free([...freeNow, ...deferred.free, ...(tombAt ? [tombAt] : [])]);
      } finally {
        release();
      }
      return 'applied';
    } finally {
      claim.release();
    }
  }

  /**
   * The staged commit of a local PUT (write-path.ts commitStaged), without a binlog record: the entry's bytes are
   * written, its row is committed hidden behind the previous one while the volume syncs, and revealed once both
   * are durable. If the volume sync fails the previous row is put back (unless the volume already rewrote the old
   * entry in place: then the new version is all there is) and nothing is acknowledged.
   */
  private async commitStaged(x: {
    okey: Buffer;
    entry: Buffer;
    opver: Opver;
    put: { at: VolLoc; replaced: boolean; durable: Promise<void> };
    blobAt: VolLoc | undefined;
    claim: ClaimedVersion;
    replace: VolLoc | undefined;
    committing: (yes: boolean) => void;
  }): Promise<void> {
    const d = this.d;
    const { put, claim } = x;
    const release = await d.placement.protect(claim.now);
    try {
      const row = objectValueFromEntryMeta(
        x.entry,
        x.opver,
        d.placement.resolve(put.at),
        x.blobAt && d.placement.resolve(x.blobAt),
      );
      x.committing(true);
      const hidden = d.rows.writeHidden(x.okey, row, () => d.index.putCounter(d.clock.counter));
      const indexDone =
        d.indexSync === 'background' ? hidden.landed : hidden.landed.then(() => d.index.env.flushed);
      const [vol, idx] = await Promise.allSettled([put.durable, indexDone]);
      if (vol.status === 'rejected') {
        if (!put.replaced) {
          await this.writeRows(x.okey, { current: hidden.previous, versions: [] }, () => undefined);
          x.committing(false);
          await d.placement.free([put.at]).catch(() => undefined);
        }
        hidden.reveal();
        throw vol.reason;
      }
      hidden.reveal();
      if (idx.status === 'rejected') throw idx.reason;
      claim.release();
      await d.placement.free(put.replaced ? claim.now.filter((l) => l !== x.replace) : claim.now);
    } finally {
      release();
    }
  }

  /** Applies a removed state (under the key's lock): a tombstone entry, the rows and its row in one commit. */
  private async removeLocked(
    input: ApplyReplicaInput,
    okey: Buffer,
    stamp: Opver | undefined,
  ): Promise<ApplyResult> {
    const d = this.d;
    const { state } = input;
    const { bucket, key } = state;
    if (this.isStale(bucket, key, okey, state, input.force === true)) return 'stale';
    const id = d.track.begin();
    try {
      const tkey = tombstoneKeyOf(bucket, key, stamp);
      const old = this.unitRow(bucket, key, okey, state.versionId);
      const space = old ? d.reads.space(old.v) : { locs: [], partKeys: [] };
      const claim = d.reads.pins.claim(old ? [old.v.at, ...space.locs] : []);
      try {
        d.clock.advanceTo(state.opver.counter);
        const createdMs = d.now();
        const { at } = await d.placement.put({
          key: versionEntryKey(okey, stamp),
          meta: { kind: 'tombstone' },
          opver: state.opver,
          data: EMPTY,
          dataBytes: 0,
          nowMs: createdMs,
        });
        const tomb = getTombstone(d.index, tkey);
        const toFree = [...claim.now, ...claim.later, ...(tomb?.at ? [tomb.at] : [])];
        const release = await d.placement.protect(toFree);
        try {
          const deferred = d.reads.pins.defer(claim.later);
          const change = old
            ? this.arrange(bucket, key, okey, state.versionId, null)
            : { current: undefined, versions: [] };
          const tombAt = tomb?.at && getTombstone(d.index, tkey)?.at;
          await this.writeRows(okey, change, () => {
            for (const pk of space.partKeys) d.index.parts.remove(pk);
            d.reads.putPending(deferred.rows);
            putTombstone(d.index, tkey, { opver: state.opver, createdMs, at: d.placement.resolve(at) });
            d.index.putCounter(d.clock.counter);
          });
          claim.release();
          await d.placement.free([...claim.now, ...deferred.free, ...(tombAt ? [tombAt] : [])]);
        } finally {
          release();
        }
        return 'applied';
      } finally {
        claim.release();
      }
    } finally {
      d.track.end(id);
    }
  }

  /** One commit of the key's rows plus `alsoInTxn`; waits for it to land, and to be flushed unless indexSync is 'background'. */
  private async writeRows(
    okey: Buffer,
    change: { current: Buffer | null | undefined; versions: VersionRowChange[] },
    alsoInTxn: () => void,
  ): Promise<void> {
    const landed = this.d.rows.write(
      change.current === undefined ? undefined : okey,
      change.current ?? null,
      alsoInTxn,
      change.versions,
    );
    // Landed even with a background index: tombstone rows have no overlay, and the next apply of the key
    // must see this one's (apply-if-newer reads them from LMDB).
    await landed;
    if (this.d.indexSync !== 'background') await this.d.index.env.flushed;
  }

  /** The first key with a current row after `after`. */
  private nextObject(after: ReplicaKey | undefined): ReplicaKey | undefined {
    const start = after ? successor(objectKey(after.bucket, after.key)) : Buffer.alloc(0);
    for (const { key } of this.d.rows.range(start, undefined, 1)) return decodeObjectKey(key);
    return undefined;
  }

  /** The first key with a noncurrent version after `after`. */
  private nextNoncurrent(after: ReplicaKey | undefined): ReplicaKey | undefined {
    const start = after ? prefixEnd(versionKeyPrefix(after.bucket, after.key)) : Buffer.alloc(0);
    if (!start) return undefined;
    for (const { key } of this.d.rows.versionRange(start, undefined, 1)) {
      const { bucket, key: k } = decodeVersionKey(key);
      return { bucket, key: k };
    }
    return undefined;
  }

  /** The first key of a table keyed like the versions table (tombstones, uploads) after `after`. */
  private nextVersioned(
    db: NodeIndex['tombstones'],
    after: ReplicaKey | undefined,
    decode: (k: Buffer) => ReplicaKey,
  ): ReplicaKey | undefined {
    const start = after ? prefixEnd(versionKeyPrefix(after.bucket, after.key)) : Buffer.alloc(0);
    if (!start) return undefined;
    for (const { key } of db.getRange({ start, limit: 1, snapshot: false })) {
      const { bucket, key: k } = decode(Buffer.from(key));
      return { bucket, key: k };
    }
    return undefined;
  }
}

/** (bucket, key bytes) order: the index's bucket prefix order, then the key bytes. */
function compareKeys(a: ReplicaKey, b: ReplicaKey): number {
  if (a.bucket !== b.bucket) return Buffer.compare(objectKey(a.bucket, EMPTY), objectKey(b.bucket, EMPTY));
  return Buffer.compare(a.key, b.key);
}

/** The stamp a version id names; undefined for the null version; InvalidArgument for anything else. */
function stampOf(versionId: string): Opver | undefined {
  if (versionId === NULL_VERSION) return undefined;
  const s = parseVersionId(versionId);
  if (!s) throw invalid(`not a version id: ${versionId.slice(0, 64)}`);
  return s;
}

function invalid(message: string): StorageError {
  return new StorageError('InvalidArgument', message);
}

function partOf(p: { partNumber: number; size: number; etag: string }) {
  return { partNumber: p.partNumber, size: p.size, etag: p.etag };
}

/** The entry meta of a replicated version: every field of the record, its stamp, and where its bytes go. */
function metaOf(rec: ObjectRecord, seq: Opver, versioned: boolean, body: ObjectMeta['body']): ObjectMeta {
  return {
    size: rec.size,
    etag: rec.etag,
    lastModifiedMs: rec.lastModifiedMs,
    headers: rec.headers,
    checksums: rec.checksums,
    ...(rec.checksumType ? { checksumType: rec.checksumType } : {}),
    body,
    seq,
    ...(versioned ? { versioned: true } : {}),
    ...(rec.deleteMarker ? { deleteMarker: true } : {}),
    ...(rec.tags?.length ? { tags: rec.tags } : {}),
    ...(rec.retention ? { retention: rec.retention } : {}),
    ...(rec.legalHold ? { legalHold: true } : {}),
    ...(rec.acl ? { acl: rec.acl } : {}),
  };
}

async function* noBytes(): AsyncIterable<Buffer> {}
