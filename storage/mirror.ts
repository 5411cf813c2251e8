// Mirrored writes. `MirroringNode` wraps a cluster storage node's StorageApi (between the HTTP server and the
// partition guard, cli/storage-command.ts): after a mutating call succeeded locally it sends the resulting state
// of each version the call touched (found with `replicaStates`: every state of the key whose opver is newer than
// the node's opver counter before the call) to every mirror of the syncgroup that is up or recovering and not
// left behind, with `applyReplica`, the body read back from the local node, in parallel, and answers only when
// every one of them has it durable ('applied' or 'stale': the mirror already holds something newer; it decides,
// so the hot path has no extra round trip). A mirror that fails, or does not answer within `ackTimeoutMs` of the
// last progress of the transfer (a large body is never cut while it moves), is left behind: the write is
// acknowledged, the mirror is skipped by the writes after it, and push sync (push-sync.ts) brings it back.
// A bucket whose 'replication-mode' setting is 'async' is acknowledged after the local write; push sync is woken
// at once and ships it. Multipart uploads in progress are mirrored the same way, unit by unit (the upload, each
// part, the upload's tombstone: replica-uploads.ts), so the next member continues an upload after a failover.

import type { NodeView } from '../common/cluster-wire.ts';
import type { ReplicationMode } from '../common/replication-mode.ts';
import type {
  CopyDestination,
  CopySource,
  DeleteOptions,
  Opver,
  PutObjectInput,
  ReadHandle,
  RemoveObjectInput,
  StorageApi,
  UpdateAttributesInput,
  UploadPartCopyInput,
  UploadPartInput,
} from './api.ts';
import { type Mirror, type MirrorPeers, unitKey } from './mirror-peers.ts';
import type {
  ApplyReplicaInput,
  ApplyResult,
  ApplyUploadInput,
  PartHandle,
  ReplicaApi,
  ReplicaEnd,
  ReplicaState,
  UploadState,
} from './replica-api.ts';

// ---- what mirroring uses of the replica primitive (replica-api.ts) ----

/** A mirror's side: applies a state if it is newer than what it holds for that unit. */
export type ReplicaTarget = Pick<ReplicaApi, 'applyReplica' | 'applyUpload'>;

/** The local node's side: every state of a key, and its bodies; one upload unit's state. */
export type ReplicaSource = Pick<ReplicaEnd, 'replicaStates' | 'openObject' | 'openPart'> & {
  uploadUnit(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber?: number,
  ): Promise<UploadState | undefined>;
};

export type { ApplyResult, ReplicaState };

/**
 * Whether this node runs the lifecycle worker this round: one member per syncgroup does (mirrors writing their
 * own delete markers would diverge), the up member with the lowest node id; the others' deletes arrive by
 * mirroring. Asked only once the tracker has named the members (mirror-setup.ts): an empty list means alone.
 */
export function runsLifecycle(
  selfId: string,
  members: readonly Pick<NodeView, 'nodeId' | 'state'>[],
): boolean {
  return members.every((m) => m.nodeId === selfId || m.state !== 'up' || m.nodeId > selfId);
}

// ---- the wrapper ----

export interface MirrorLog {
  warn(obj: object, msg: string): void;
}

export interface MirroringOptions {
  /** The API calls go to (the partition guard over the node). */
  inner: StorageApi & ReplicaApi;
  /** The local node, read back for the states and bodies to send. */
  local: ReplicaSource;
  /** The node's opver counter now (StorageNode.counter): states newer than its value before a call are its effect. */
  clock(): bigint;
  peers: MirrorPeers<ReplicaTarget>;
  /** The bucket incarnation's mode (from the catalog the tracker sends with heartbeats). */
  modeFor(bucket: string): ReplicationMode;
  /** How long a mirror may go without progress (body taken, or the answer once it is sent). Default 2000. */
  ackTimeoutMs?: number;
  /** Called before each write this node takes, with its key (TakeoverClock.beforeWrite). */
  beforeWrite?(bucket: string, key: Buffer): void;
  /** Called on each write that push sync must ship (async buckets, mirrors left behind). */
  wakeSync(): void;
  log?: MirrorLog;
}

export interface MirrorStats {
  /** Writes acknowledged by every mirror they were sent to. */
  mirrored: number;
  /** Writes acknowledged after the local write only (async bucket, or no mirror to send to). */
  unmirrored: number;
  /** Mirrors left behind by a failed or late write. */
  leftBehind: number;
}

/** A write's effect on one mirror took longer than the timeout without progress. */
export class MirrorTimeoutError extends Error {
  override name = 'MirrorTimeoutError';
}

/** Bytes per second a mirror is assumed to make durable at least, once a body is sent (its final fdatasync). */
const FLUSH_BYTES_PER_MS = 64 * 1024;

export class MirroringNode implements StorageApi, ReplicaApi {
  private readonly ackTimeoutMs: number;
  private readonly totals: MirrorStats = { mirrored: 0, unmirrored: 0, leftBehind: 0 };

  constructor(private readonly o: MirroringOptions) {
    this.ackTimeoutMs = o.ackTimeoutMs ?? 2000;
  }

  stats(): ReturnType<StorageApi['stats']> {
    return this.o.inner.stats();
  }

  mirrorStats(): MirrorStats {
    return { ...this.totals };
  }

  // ---- mutating calls: local first, then the mirrors ----

  putObject(input: PutObjectInput) {
    // A small body is kept as it passes into the local write: the mirrors get it from memory, not read back.
    const kept = input.size <= KEEP_BODY_BYTES ? keepBody(input) : undefined;
    return this.mirrored(
      input.bucket,
      input.key,
      () => this.o.inner.putObject(kept?.input ?? input),
      undefined,
      kept && ((r) => ({ opver: r.opver, bytes: kept.bytes() })),
    );
  }
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions) {
    return this.mirrored(
      bucket,
      key,
      () => this.o.inner.deleteObject(bucket, key, opts),
      (existed) => existed,
    );
  }
  removeObject(input: RemoveObjectInput) {
    return this.mirrored(
      input.bucket,
      input.key,
      () => this.o.inner.removeObject(input),
      (r) => r.existed,
    );
  }
  updateObjectAttributes(input: UpdateAttributesInput) {
    return this.mirrored(input.bucket, input.key, () => this.o.inner.updateObjectAttributes(input));
  }
  copyObject(src: CopySource, dst: CopyDestination) {
    return this.mirrored(dst.bucket, dst.key, () => this.o.inner.copyObject(src, dst));
  }
  // Uploads: the unit the call changed (the upload, one part, the upload's tombstone) goes to the mirrors as a
  // version does. A completion sends the version without its bytes (each mirror builds it from its copies of the
  // parts, as the completion did, and removes the upload; one that lacks a part is sent the bytes instead), then the
  // upload's tombstone. Its record is not noted acknowledged, so push sync passes the key again and a mirror that
  // missed either gets both.
  async createUpload(...args: Parameters<StorageApi['createUpload']>) {
    this.o.beforeWrite?.(args[0], args[1]);
    const before = this.o.clock();
    const uploadId = await this.o.inner.createUpload(...args);
    await this.replicateUpload(args[0], args[1], before, { uploadId });
    return uploadId;
  }
  async uploadPart(input: UploadPartInput) {
    this.o.beforeWrite?.(input.bucket, input.key);
    const before = this.o.clock();
    const r = await this.o.inner.uploadPart(input);
    await this.replicateUpload(input.bucket, input.key, before, input);
    return r;
  }
  async uploadPartCopy(input: UploadPartCopyInput) {
    this.o.beforeWrite?.(input.bucket, input.key);
    const before = this.o.clock();
    const r = await this.o.inner.uploadPartCopy(input);
    await this.replicateUpload(input.bucket, input.key, before, input);
    return r;
  }
  async abortUpload(bucket: string, key: Buffer, uploadId: string) {
    this.o.beforeWrite?.(bucket, key);
    const before = this.o.clock();
    await this.o.inner.abortUpload(bucket, key, uploadId);
    await this.replicateUpload(bucket, key, before, { uploadId });
  }
  async completeUpload(...args: Parameters<StorageApi['completeUpload']>) {
    const [bucket, key, uploadId] = args;
    this.o.beforeWrite?.(bucket, key);
    const before = this.o.clock();
    const result = await this.o.inner.completeUpload(...args);
    await this.replicate(bucket, key, before, { fromUpload: uploadId });
    await this.replicateUpload(bucket, key, before, { uploadId }, false);
    return result;
  }

  // ---- everything else as it is ----

  headObject(...args: Parameters<StorageApi['headObject']>) {
    return this.o.inner.headObject(...args);
  }
  openObject(...args: Parameters<StorageApi['openObject']>) {
    return this.o.inner.openObject(...args);
  }
  listObjectVersions(...args: Parameters<StorageApi['listObjectVersions']>) {
    return this.o.inner.listObjectVersions(...args);
  }
  listObjects(...args: Parameters<StorageApi['listObjects']>) {
    return this.o.inner.listObjects(...args);
  }
  hasObjects(bucket: string) {
    return this.o.inner.hasObjects(bucket);
  }
  dropBucket(bucket: string) {
    // Its removals are in the binlog: push sync ships them (every node of the group is told to drop anyway).
    return this.o.inner.dropBucket(bucket);
  }
  listParts(...args: Parameters<StorageApi['listParts']>) {
    return this.o.inner.listParts(...args);
  }
  listUploads(...args: Parameters<StorageApi['listUploads']>) {
    return this.o.inner.listUploads(...args);
  }
  close() {
    return this.o.inner.close();
  }

  // ---- replication calls from the mirrors (applied states are not sent on: each node pushes its own writes) ----

  replicaStates(bucket: string, key: Buffer) {
    return this.o.inner.replicaStates(bucket, key);
  }
  applyReplica(input: ApplyReplicaInput) {
    return this.o.inner.applyReplica(input);
  }
  scanKeys(opts: Parameters<ReplicaApi['scanKeys']>[0]) {
    return this.o.inner.scanKeys(opts);
  }
  uploadStates(bucket: string, key: Buffer) {
    return this.o.inner.uploadStates(bucket, key);
  }
  applyUpload(input: ApplyUploadInput) {
    return this.o.inner.applyUpload(input);
  }

  // ---- mirroring ----

  private async mirrored<T>(
    bucket: string,
    key: Buffer,
    op: () => Promise<T>,
    changed: (result: T) => boolean = () => true,
    written?: (result: T) => KnownBody,
  ): Promise<T> {
    this.o.beforeWrite?.(bucket, key);
    const before = this.o.clock();
    const result = await op();
    if (changed(result)) await this.replicate(bucket, key, before, { known: written?.(result) });
    return result;
  }

  /** Sends the states of `key` newer than `before` to every write target; never throws (push sync is the net). */
  private async replicate(
    bucket: string,
    key: Buffer,
    before: bigint,
    how: { fromUpload?: string; known?: KnownBody } = {},
  ): Promise<void> {
    const targets = this.o.modeFor(bucket) === 'async' ? [] : this.o.peers.writeTargets();
    // Every mirror this write is not sent to misses it until push sync delivers it.
    for (const m of this.o.peers.all()) if (!targets.includes(m)) m.noteMissed();
    const behind = this.o.peers.all().some((m) => m.reachable && !m.responsive);
    if (targets.length === 0 || behind) this.o.wakeSync();
    if (targets.length === 0) {
      this.totals.unmirrored++;
      return;
    }
    let states: ReplicaState[];
    try {
      states = (await this.o.local.replicaStates(bucket, key)).filter((s) => s.opver.counter > before);
    } catch (err) {
      for (const m of targets) this.leaveBehind(m, err);
      this.o.wakeSync();
      return;
    }
    const outcomes = await Promise.all(states.map((s) => this.sendState(s, targets, how)));
    if (outcomes.every(Boolean)) this.totals.mirrored++;
    else this.o.wakeSync();
  }

  /**
   * Sends the state of one upload unit (the upload, or part `partNumber`) changed after `before` to every write
   * target, as `replicate` does for versions; `count`: the call is counted in the stats (a completion is counted
   * once, by its version).
   */
  private async replicateUpload(
    bucket: string,
    key: Buffer,
    before: bigint,
    unit: { uploadId: string; partNumber?: number },
    count = true,
  ): Promise<void> {
    const targets = this.o.modeFor(bucket) === 'async' ? [] : this.o.peers.writeTargets();
    for (const m of this.o.peers.all()) if (!targets.includes(m)) m.noteMissed();
    const behind = this.o.peers.all().some((m) => m.reachable && !m.responsive);
    if (targets.length === 0 || behind) this.o.wakeSync();
    if (targets.length === 0) {
      if (count) this.totals.unmirrored++;
      return;
    }
    let states: UploadState[];
    try {
      // The one unit (not every upload and part of the key: an upload may have 10,000 parts).
      const s = await this.o.local.uploadUnit(bucket, key, unit.uploadId, unit.partNumber);
      states = s && s.opver.counter > before ? [s] : [];
    } catch (err) {
      for (const m of targets) this.leaveBehind(m, err);
      this.o.wakeSync();
      return;
    }
    const outcomes = await Promise.all(states.map((s) => this.sendUploadState(s, targets, count)));
    if (outcomes.every(Boolean)) {
      if (count) this.totals.mirrored++;
    } else this.o.wakeSync();
  }

  /** One upload state to every target (a part's bytes read back from the local node); true if all have it. */
  private async sendUploadState(
    state: UploadState,
    targets: Mirror<ReplicaTarget>[],
    ack: boolean,
  ): Promise<boolean> {
    let handle: PartHandle | undefined;
    if (state.partNumber !== undefined && (state.part?.size ?? 0) > 0) {
      handle = await this.o.local.openPart(state.bucket, state.key, state.uploadId, state.partNumber);
      const o = handle?.state.opver;
      if (!o || o.counter !== state.opver.counter || o.nodeId !== state.opver.nodeId) {
        // Replaced or removed since: the op that did it sends its own state.
        handle?.release();
        return true;
      }
    }
    // The completion's tombstone has no binlog record of its own (the version's record ships the key).
    const unit = ack ? unitKey(state.bucket, state.key, state.opver.counter, state.opver.nodeId) : undefined;
    const h = handle;
    const calls = targets.map((m) =>
      this.transfer(m, {
        unit,
        bytes: state.part?.size ?? 0,
        ...(h ? { stream: () => h.stream() } : {}),
        apply: (body) => m.peer.applyUpload({ state, ...(body ? { body } : {}) }),
      }),
    );
    try {
      return (await Promise.all(calls.map((c) => c.answered))).every(Boolean);
    } finally {
      if (h) void Promise.allSettled(calls.map((c) => c.ended)).then(() => h.release());
    }
  }

  /** One state to every target; true if all have it. */
  private async sendState(
    state: ReplicaState,
    targets: Mirror<ReplicaTarget>[],
    { fromUpload, known }: { fromUpload?: string; known?: KnownBody },
  ): Promise<boolean> {
    let handle: ReadHandle | undefined;
    let bytes: Buffer | undefined;
    const r = state.record;
    if (
      r &&
      !r.deleteMarker &&
      r.size > 0 &&
      known?.bytes?.length === r.size &&
      sameOpver(known.opver, state.opver)
    )
      // The version this call wrote: its bytes are the body it was given (the op that replaces it sends its own).
      bytes = known.bytes;
    else if (r && !r.deleteMarker && r.size > 0) {
      handle = await this.o.local.openObject(state.bucket, state.key, { versionId: state.versionId });
      const r = handle?.record;
      if (!r || r.opver.counter !== state.opver.counter || r.opver.nodeId !== state.opver.nodeId) {
        // Replaced or removed since: the op that did it sends its own state.
        handle?.release();
        return true;
      }
    }
    const source = bytes
      ? { size: bytes.length, stream: () => once(bytes) }
      : handle && { size: handle.record.size, stream: () => handle.stream() };
    const calls = targets.map((m) => this.sendTo(m, state, source, fromUpload));
    try {
      const results = await Promise.all(calls.map((c) => c.answered));
      return results.every(Boolean);
    } finally {
      // The handle stays pinned until every transfer has really ended (a late one may still read it).
      if (handle) {
        const h = handle;
        void Promise.allSettled(calls.map((c) => c.ended)).then(() => h.release());
      }
    }
  }

  private sendTo(
    m: Mirror<ReplicaTarget>,
    state: ReplicaState,
    source: { size: number; stream: () => AsyncIterable<Buffer> } | undefined,
    fromUpload?: string,
  ): { answered: Promise<boolean>; ended: Promise<unknown> } {
    // With the bytes, the version is taken as sent (never built from parts).
    const { fromUpload: _listed, ...plain } = state;
    const send = (body: AsyncIterable<Buffer> | undefined) =>
      m.peer.applyReplica({ state: plain, ...(body ? { body } : {}) });
    const fromParts = fromUpload !== undefined && state.record?.parts !== undefined;
    return this.transfer(m, {
      // A completion's record is not noted acknowledged: push sync passes its key again, which brings the
      // upload's tombstone too should the mirror miss it (copyKey finds the version there and sends no bytes).
      unit: fromParts ? undefined : unitKey(state.bucket, state.key, state.opver.counter, state.opver.nodeId),
      bytes: source?.size ?? 0,
      ...(source ? { stream: source.stream } : {}),
      // A completion: the mirror builds the version from its copies of the parts; the bytes only if it lacks one.
      apply: fromParts
        ? (body) =>
            m.peer
              .applyReplica({ state: { ...plain, fromUpload } })
              .catch((err: unknown) =>
                (err as { code?: unknown }).code === 'NoSuchUpload' ? send(body) : Promise.reject(err),
              )
        : send,
    });
  }

  /**
   * One state to one mirror, bounded by the progress timeout. `answered`: true when the mirror has it, false when
   * it was left behind; `ended`: the request is over. `unit` is noted acknowledged (push sync skips its record).
   */
  private transfer(
    m: Mirror<ReplicaTarget>,
    t: {
      unit: string | undefined;
      bytes: number;
      stream?: () => AsyncIterable<Buffer>;
      apply: (body: AsyncIterable<Buffer> | undefined) => Promise<unknown>;
    },
  ): { answered: Promise<boolean>; ended: Promise<unknown> } {
    // Whether the transfer timed out (a plain flag: an AbortController per send costs more and nothing listens).
    const ctl = { aborted: false };
    let late!: (err: Error) => void;
    const timedOut = new Promise<never>((_, reject) => {
      late = reject;
    });
    const fire = () => {
      ctl.aborted = true;
      late(new MirrorTimeoutError(`mirror ${m.nodeId} made no progress for ${this.ackTimeoutMs} ms`));
    };
    let timer = setTimeout(fire, this.ackTimeoutMs);
    const body = t.stream
      ? progressing(t.stream(), ctl, {
          chunk: () => timer.refresh(),
          // The whole body is sent: the mirror gets time to make it durable (its final fdatasync) before it answers.
          end: (bytes) => {
            clearTimeout(timer);
            timer = setTimeout(fire, this.ackTimeoutMs + bytes / FLUSH_BYTES_PER_MS);
          },
        })
      : undefined;
    const call = t.apply(body);
    const ended = call.catch(() => undefined);
    const answered = Promise.race([call, timedOut]).then(
      () => {
        if (t.unit !== undefined) m.noteAcked(t.unit, t.bytes);
        return true;
      },
      (err: unknown) => {
        this.leaveBehind(m, err);
        return false;
      },
    );
    void answered.finally(() => clearTimeout(timer));
    return { answered, ended };
  }

  private leaveBehind(m: Mirror<ReplicaTarget>, err: unknown): void {
    m.noteMissed();
    if (!m.responsive) return;
    m.responsive = false;
    this.totals.leftBehind++;
    this.o.log?.warn(
      { mirror: m.nodeId, err: (err as Error)?.message ?? String(err) },
      'mirror left behind: writes are acknowledged without it until push sync catches it up',
    );
  }
}

/** What a put wrote: its opver and the body it was given (undefined if it was not taken whole). */
interface KnownBody {
  opver: Opver;
  bytes: Buffer | undefined;
}

/** Bodies up to this size are kept in memory as they pass into a put (larger ones are read back, streamed). */
const KEEP_BODY_BYTES = 128 * 1024;

/** The put with its body passing through a copy; `bytes()` once the local write has taken all of it. */
function keepBody(input: PutObjectInput): { input: PutObjectInput; bytes(): Buffer | undefined } {
  const chunks: Buffer[] = [];
  let size = 0;
  let whole = false;
  const body = (async function* () {
    for await (const c of input.body) {
      chunks.push(c);
      size += c.length;
      yield c;
    }
    whole = true;
  })();
  return {
    input: { ...input, body },
    bytes: () => (whole && size === input.size ? Buffer.concat(chunks, size) : undefined),
  };
}

function sameOpver(a: Opver, b: Opver): boolean {
  return a.counter === b.counter && a.nodeId === b.nodeId;
}

async function* once(bytes: Buffer): AsyncIterable<Buffer> {
  yield bytes;
}

/** Yields `body`'s chunks, telling `on.chunk` of each; throws once `cut` is aborted. */
async function* progressing(
  body: AsyncIterable<Buffer>,
  cut: { readonly aborted: boolean },
  on: { chunk: () => void; end: (bytes: number) => void },
): AsyncIterable<Buffer> {
  let bytes = 0;
  for await (const c of body) {
    if (cut.aborted) throw new MirrorTimeoutError('the mirror stopped taking the body');
    on.chunk();
    bytes += c.length;
    yield c;
  }
  on.end(bytes);
}
