// The storage node's lifecycle worker: every `intervalMs` it walks the index bucket incarnation by incarnation,
// asks `rulesFor(id)` for that incarnation's rules (storage never sees bucket names: whoever wires the node maps
// ids to the catalog's 'lifecycle' setting), expires the current objects a rule's Expiration has reached and
// aborts the incomplete multipart uploads an AbortIncompleteMultipartUpload rule has reached. On a versioned
// bucket (`versioningFor`) expiring the current object writes a delete marker, as AWS does; noncurrent versions
// past NoncurrentVersionExpiration (NewerNoncurrentVersions kept) are removed, and a delete marker left without
// older versions goes with ExpiredObjectDeleteMarker. What a rule does and when is decided in one place,
// common/lifecycle-rules.ts. Throttled: at most `opsPerSecond` removals and aborts, yielding between listing
// pages. Time comes from `clock` (injectable: tests run a pass "days later").
//
// Safety: an expiry deletes only the version it judged (the delete is conditional on that version's ETag, so a
// concurrent overwrite wins and is judged again at the next pass); an abort of an upload that completed or was
// aborted meanwhile is NoSuchUpload and skipped. Object lock: a version under retention or a legal hold is never
// destroyed (writing a delete marker destroys none), and `mayDelete` may veto more. The lock is read just before
// the removal; one set in between is not seen, since storage's removal does not re-check it yet.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  currentExpiry,
  expiredMarkerRule,
  type LifecycleRule,
  matchesFilter,
  noncurrentExpired,
  uploadAbortRule,
} from '../common/lifecycle-rules.ts';
import type {
  DeleteOptions,
  ListedObject,
  ListedUpload,
  ListedVersion,
  ObjectRecord,
  RemoveObjectInput,
  RemoveObjectResult,
  VersioningMode,
  VersionSelector,
} from './api.ts';
import { StorageError } from './errors.ts';

export interface Pacer {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realPacer: Pacer = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface LifecycleSettings {
  /** The incarnation's lifecycle rules, or undefined when it has none. */
  rulesFor(incarnationId: string): readonly LifecycleRule[] | undefined;
  /** Time between passes; 0: no background passes (runOnce only). */
  intervalMs: number;
  /** Deletions and aborts per second (0: unlimited; the worker still yields between pages). */
  opsPerSecond: number;
  /** Wall-clock ms the rules are judged by (default Date.now): the one thing tests move "days later". */
  clock?: () => number;
  /** How the throttle reads time and waits (default: the monotonic clock and a timer; tests pass their own). */
  pacer?: Pacer;
  /** The incarnation's versioning state (storage never reads bucket settings); default 'unversioned'. */
  versioningFor?(incarnationId: string): VersioningMode;
  /**
   * Asked before each pass: false skips it (in a cluster one member of a syncgroup runs the rules, its removals
   * mirrored to the others; storage/mirror.ts runsLifecycle). Default: always.
   */
  active?(): boolean;
}

/** The pino-shaped part of a logger the worker uses. */
export interface LifecycleLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LifecycleStats {
  /** True while a pass is running. */
  running: boolean;
  passes: number;
  objectsScanned: number;
  objectsExpired: number;
  versionsScanned: number;
  /** Noncurrent versions removed (NoncurrentVersionExpiration). */
  versionsExpired: number;
  /** Delete markers left without older versions, removed (ExpiredObjectDeleteMarker). */
  markersRemoved: number;
  uploadsAborted: number;
  errors: number;
}

/** What the worker uses of the node: nothing else. */
export interface LifecycleWorkerDeps {
  /** The next incarnation id (in index order) holding objects or uploads after `after`. */
  nextBucket(after: string | undefined): string | undefined;
  listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]>;
  headObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ObjectRecord | undefined>;
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions): Promise<boolean>;
  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult>;
  listObjectVersions(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterVersionId?: string; limit: number },
  ): Promise<ListedVersion[]>;
  listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]>;
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void>;
  /** A further veto on destroying a version, beyond its retention and legal hold (checked here). */
  mayDelete?(bucket: string, record: ObjectRecord, nowMs: number): boolean;
  log?: LifecycleLog;
}

const PAGE = 500;

export class LifecycleWorker {
  private readonly totals: LifecycleStats = {
    running: false,
    passes: 0,
    objectsScanned: 0,
    objectsExpired: 0,
    versionsScanned: 0,
    versionsExpired: 0,
    markersRemoved: 0,
    uploadsAborted: 0,
    errors: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopping = false;
  private nextOpAt = 0;

  constructor(
    private readonly deps: LifecycleWorkerDeps,
    private readonly settings: LifecycleSettings | undefined,
  ) {}

  /** Starts background passes (the first one right away). */
  start(): void {
    if (!this.settings || this.settings.intervalMs <= 0 || this.timer || this.stopping) return;
    const tick = () => {
      this.runOnce().finally(() => {
        if (!this.stopping) {
          this.timer = setTimeout(tick, this.settings!.intervalMs);
          this.timer.unref();
        }
      });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  stats(): LifecycleStats {
    return { ...this.totals };
  }

  /** One pass over every incarnation now (also what the timer runs); resolves when it is done. Never rejects. */
  runOnce(): Promise<void> {
    this.current ??= this.pass().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.current;
  }

  private now(): number {
    return (this.settings?.clock ?? Date.now)();
  }

  private async pass(): Promise<void> {
    if (!this.settings || this.settings.active?.() === false) return;
    const started = Date.now();
    const before = { ...this.totals };
    this.totals.running = true;
    try {
      for (
        let b = this.deps.nextBucket(undefined);
        b !== undefined && !this.stopping;
        b = this.deps.nextBucket(b)
      ) {
        const rules = this.settings.rulesFor(b)?.filter((r) => r.enabled);
        if (!rules || rules.length === 0) continue;
        const mode = this.settings.versioningFor?.(b) ?? 'unversioned';
        await this.expireObjects(b, rules, mode);
        if (mode !== 'unversioned') await this.expireVersions(b, rules);
        await this.abortUploads(b, rules);
      }
      this.totals.passes++;
    } catch (err) {
      this.totals.errors++;
      this.deps.log?.error({ err }, 'lifecycle: pass failed');
    } finally {
      this.totals.running = false;
    }
    const t = this.totals;
    this.deps.log?.info(
      {
        scanned: t.objectsScanned - before.objectsScanned,
        expired: t.objectsExpired - before.objectsExpired,
        versionsExpired: t.versionsExpired - before.versionsExpired,
        markersRemoved: t.markersRemoved - before.markersRemoved,
        aborted: t.uploadsAborted - before.uploadsAborted,
        ms: Date.now() - started,
      },
      'lifecycle: pass done',
    );
  }

  private async expireObjects(
    bucket: string,
    rules: readonly LifecycleRule[],
    mode: VersioningMode,
  ): Promise<void> {
    const expiring = rules.filter(
      (r) => r.expiration?.days !== undefined || r.expiration?.dateMs !== undefined,
    );
    if (expiring.length === 0) return;
    const needsTags = expiring.some((r) => r.filter.tags && r.filter.tags.length > 0);
    let after: Buffer | undefined;
    for (;;) {
      const page = await this.deps.listObjects(bucket, {
        prefix: Buffer.alloc(0),
        ...(after ? { after } : {}),
        limit: PAGE,
      });
      for (const o of page) {
        this.totals.objectsScanned++;
        // Cheap test first (no tags needed): could any rule apply to this key and size?
        if (!expiring.some((r) => matchesFilter({ ...r.filter, tags: [] }, o))) continue;
        const record = needsTags ? await this.deps.headObject(bucket, o.key) : undefined;
        if (needsTags && !record) continue;
        const subject = record ?? { key: o.key, size: o.size, lastModifiedMs: o.lastModifiedMs };
        const due = currentExpiry(expiring, subject);
        const nowMs = this.now();
        if (!due || due.atMs > nowMs) continue;
        await this.expire(bucket, record ?? (await this.deps.headObject(bucket, o.key)), o.etag, nowMs, mode);
      }
      if (page.length < PAGE || this.stopping) return;
      after = page[page.length - 1]!.key;
      await yieldToLoop();
    }
  }

  private async expire(
    bucket: string,
    record: ObjectRecord | undefined,
    etag: string,
    nowMs: number,
    mode: VersioningMode,
  ): Promise<void> {
    // Replaced or deleted meanwhile: judged again at the next pass.
    if (!record || record.deleteMarker || record.etag !== etag) return;
    // Enabled: a delete marker, nothing destroyed. Otherwise the current (null) version itself goes.
    if (mode !== 'enabled' && !this.mayDelete(bucket, record, nowMs)) return;
    await this.throttle();
    const condition = { ifMatchEtag: etag };
    try {
      const removed =
        mode === 'unversioned'
          ? await this.deps.deleteObject(bucket, record.key, { condition })
          : (await this.deps.removeObject({ bucket, key: record.key, versioning: mode, condition, nowMs }))
              .existed;
      if (removed) this.totals.objectsExpired++;
    } catch (err) {
      // A concurrent write or delete won: nothing to do now.
      if (!(err instanceof StorageError && (err.code === 'PreconditionFailed' || err.code === 'NoSuchKey')))
        throw err;
    }
  }

  /** Noncurrent versions past NoncurrentVersionExpiration, and delete markers left alone (ExpiredObjectDeleteMarker). */
  private async expireVersions(bucket: string, rules: readonly LifecycleRule[]): Promise<void> {
    if (!rules.some((r) => r.noncurrentExpiration || r.expiration?.expiredObjectDeleteMarker)) return;
    // The rules with their tag filters left out: what the listing alone can rule out.
    const untagged = rules.map((r) => ({ ...r, filter: { ...r.filter, tags: [] } }));
    let group: ListedVersion[] = [];
    let afterKey: Buffer | undefined;
    let afterVersionId: string | undefined;
    for (;;) {
      const page = await this.deps.listObjectVersions(bucket, {
        prefix: Buffer.alloc(0),
        ...(afterKey ? { afterKey } : {}),
        ...(afterVersionId ? { afterVersionId } : {}),
        limit: PAGE,
      });
      for (const v of page) {
        if (group.length > 0 && !group[0]!.key.equals(v.key)) {
          await this.expireKeyVersions(bucket, rules, untagged, group);
          group = [];
        }
        group.push(v);
      }
      if (page.length < PAGE || this.stopping) break;
      afterKey = page[page.length - 1]!.key;
      afterVersionId = page[page.length - 1]!.versionId;
      await yieldToLoop();
    }
    if (group.length > 0 && !this.stopping) await this.expireKeyVersions(bucket, rules, untagged, group);
  }

  /** One key's versions, newest first (the first is the current one when it is listed as latest). */
  private async expireKeyVersions(
    bucket: string,
    rules: readonly LifecycleRule[],
    untagged: readonly LifecycleRule[],
    versions: readonly ListedVersion[],
  ): Promise<void> {
    const nowMs = this.now();
    const key = versions[0]!.key;
    let noncurrentSeen = 0;
    let removedAllOlder = true;
    for (let i = 0; i < versions.length; i++) {
      const v = versions[i]!;
      if (v.isLatest) continue;
      this.totals.versionsScanned++;
      // A version became noncurrent when the next newer one was written.
      const newer = versions[i - 1];
      const since = newer ? newer.lastModifiedMs : v.lastModifiedMs;
      const listed = { key, size: v.size, noncurrentSinceMs: since, newerNoncurrent: noncurrentSeen };
      noncurrentSeen++;
      // Cheap test first (from the listing, tags aside): most versions are not due, and need no read.
      if (!noncurrentExpired(untagged, listed, nowMs)) {
        removedAllOlder = false;
        continue;
      }
      // Its tags (for tag filters) and its lock (retention, legal hold) are in the version's record.
      const record = await this.deps.headObject(bucket, key, { versionId: v.versionId });
      const rule = noncurrentExpired(
        rules,
        { ...listed, ...(record?.tags ? { tags: record.tags } : {}) },
        nowMs,
      );
      if (!rule || (record && !this.mayDelete(bucket, record, nowMs))) {
        removedAllOlder = false;
        continue;
      }
      if (await this.removeVersion(bucket, key, v.versionId, nowMs)) this.totals.versionsExpired++;
      else removedAllOlder = false;
    }
    // A current delete marker with no older versions left is removed (ExpiredObjectDeleteMarker).
    const latest = versions[0]!;
    if (latest.isLatest && latest.deleteMarker && removedAllOlder && expiredMarkerRule(rules, key)) {
      if (await this.removeVersion(bucket, key, latest.versionId, nowMs)) this.totals.markersRemoved++;
    }
  }

  private async removeVersion(
    bucket: string,
    key: Buffer,
    versionId: string,
    nowMs: number,
  ): Promise<boolean> {
    await this.throttle();
    try {
      return (await this.deps.removeObject({ bucket, key, versionId, nowMs })).existed;
    } catch (err) {
      if (err instanceof StorageError && (err.code === 'NoSuchVersion' || err.code === 'NoSuchKey'))
        return false;
      throw err;
    }
  }

  /** Object lock: a version under retention or a legal hold is never removed by lifecycle. */
  private mayDelete(bucket: string, record: ObjectRecord, nowMs: number): boolean {
    if (record.legalHold) return false;
    if (record.retention && record.retention.retainUntilMs > nowMs) return false;
    return this.deps.mayDelete ? this.deps.mayDelete(bucket, record, nowMs) : true;
  }

  private async abortUploads(bucket: string, rules: readonly LifecycleRule[]): Promise<void> {
    if (!rules.some((r) => r.abortIncompleteUploadDays !== undefined)) return;
    let afterKey: Buffer | undefined;
    let afterUploadId: string | undefined;
    for (;;) {
      const page = await this.deps.listUploads(bucket, {
        prefix: Buffer.alloc(0),
        ...(afterKey ? { afterKey } : {}),
        ...(afterUploadId ? { afterUploadId } : {}),
        limit: PAGE,
      });
      for (const u of page) {
        if (!uploadAbortRule(rules, u.key, u.initiatedMs, this.now())) continue;
        await this.throttle();
        try {
          await this.deps.abortUpload(bucket, u.key, u.uploadId);
          this.totals.uploadsAborted++;
        } catch (err) {
          if (!(err instanceof StorageError && err.code === 'NoSuchUpload')) throw err;
        }
      }
      if (page.length < PAGE || this.stopping) return;
      afterKey = page[page.length - 1]!.key;
      afterUploadId = page[page.length - 1]!.uploadId;
      await yieldToLoop();
    }
  }

  /** At most opsPerSecond removals: waits for this one's turn. */
  private async throttle(): Promise<void> {
    const rate = this.settings?.opsPerSecond ?? 0;
    if (rate <= 0) return;
    const pacer = this.settings?.pacer ?? realPacer;
    const now = pacer.now();
    const at = Math.max(now, this.nextOpAt);
    this.nextOpAt = at + 1000 / rate;
    if (at > now) await pacer.sleep(at - now);
  }
}
