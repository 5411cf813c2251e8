// The storage node's lifecycle worker: every `intervalMs` it walks the index bucket incarnation by incarnation,
// asks `rulesFor(id)` for that incarnation's rules (storage never sees bucket names: whoever wires the node maps
// ids to the catalog's 'lifecycle' setting), expires the current objects a rule's Expiration has reached and
// aborts the incomplete multipart uploads an AbortIncompleteMultipartUpload rule has reached. What a rule does
// and when is decided in one place, common/lifecycle-rules.ts. Throttled: at most `opsPerSecond` deletions and
// aborts, yielding between listing pages. Time comes from `clock` (injectable: tests run a pass "days later").
//
// Safety: an expiry deletes only the version it judged (the delete is conditional on that version's ETag, so a
// concurrent overwrite wins and is judged again at the next pass); an abort of an upload that completed or was
// aborted meanwhile is NoSuchUpload and skipped. Object lock: `mayDelete` is asked before anything is removed
// (the hook object lock plugs into); without object lock every version may be deleted.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  currentExpiry,
  type LifecycleRule,
  matchesFilter,
  uploadAbortRule,
} from '../common/lifecycle-rules.ts';
import type { DeleteOptions, ListedObject, ListedUpload, ObjectRecord } from './api.ts';
import { StorageError } from './errors.ts';

export interface LifecycleSettings {
  /** The incarnation's lifecycle rules, or undefined when it has none. */
  rulesFor(incarnationId: string): readonly LifecycleRule[] | undefined;
  /** Time between passes; 0: no background passes (runOnce only). */
  intervalMs: number;
  /** Deletions and aborts per second (0: unlimited; the worker still yields between pages). */
  opsPerSecond: number;
  /** Wall-clock ms the rules are judged by (default Date.now): the one thing tests move "days later". */
  clock?: () => number;
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
  headObject(bucket: string, key: Buffer): Promise<ObjectRecord | undefined>;
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions): Promise<boolean>;
  listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]>;
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void>;
  /** Object lock's veto on removing this version (absent: nothing is locked). */
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
    if (!this.settings) return;
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
        await this.expireObjects(b, rules);
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
        aborted: t.uploadsAborted - before.uploadsAborted,
        ms: Date.now() - started,
      },
      'lifecycle: pass done',
    );
  }

  private async expireObjects(bucket: string, rules: readonly LifecycleRule[]): Promise<void> {
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
        await this.expire(bucket, record ?? (await this.deps.headObject(bucket, o.key)), o.etag, nowMs);
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
  ): Promise<void> {
    if (!record || record.etag !== etag) return; // replaced meanwhile: judged again next pass
    if (this.deps.mayDelete && !this.deps.mayDelete(bucket, record, nowMs)) return;
    await this.throttle();
    try {
      if (await this.deps.deleteObject(bucket, record.key, { condition: { ifMatchEtag: etag } })) {
        this.totals.objectsExpired++;
      }
    } catch (err) {
      // A concurrent write or delete won: nothing to do now.
      if (!(err instanceof StorageError && (err.code === 'PreconditionFailed' || err.code === 'NoSuchKey')))
        throw err;
    }
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
    const now = Date.now();
    const at = Math.max(now, this.nextOpAt);
    this.nextOpAt = at + 1000 / rate;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }
}
