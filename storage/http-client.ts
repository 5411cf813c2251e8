// StorageApi over the internal HTTP API (undici Pool): the gateway uses this for a remote node.
// Bodies stream both ways; a `{code, message}` error reply is rethrown as the same typed error.
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { SECRET_HEADER } from '../common/cluster-wire.ts';
import type {
  BodyFinish,
  ByteRangeInclusive,
  ChecksumAlgorithm,
  CopyDestination,
  CopySource,
  DeleteOptions,
  DroppedBucket,
  ListedObject,
  ListedUpload,
  ListedVersion,
  ListPartsResult,
  NodeStats,
  ObjectRecord,
  PutObjectInput,
  ReadHandle,
  RemoveObjectInput,
  RemoveObjectResult,
  StorageApi,
  StoredHeaders,
  UpdateAttributesInput,
  UploadAttributes,
  UploadPartCopyInput,
  UploadPartInput,
  VersioningMode,
  VersionSelector,
} from './api.ts';
import type { BinlogPosition } from './binlog-record.ts';
import { errorFromWire } from './errors.ts';
import {
  collectChunks,
  frameBody,
  frameWhole,
  fromWire,
  INLINE_READ_BYTES,
  INLINE_TYPE,
  toWire,
  unframeInline,
  WHOLE_BODY_BYTES,
} from './http-wire.ts';
import type { JoinResult } from './recovery-pull.ts';
import type {
  ApplyReplicaInput,
  ApplyResult,
  ApplyUploadInput,
  PartHandle,
  ReplicaEnd,
  ReplicaKey,
  ReplicaState,
  UploadState,
} from './replica-api.ts';
import { bytesHandle, pageFromWire, type ScannedKey } from './replica-scan.ts';
import { frameApply, frameApplyWhole } from './replica-wire.ts';

export interface StorageClientOptions {
  connections?: number;
  /** Body timeout for streamed reads and writes. */
  bodyTimeoutMs?: number;
  /** How long a TCP connect to the node may take (a machine that vanished never refuses). Default 1 s. */
  connectTimeoutMs?: number;
  /** How long the node may take to answer (status line) after the request was sent. Default 300 s. */
  headersTimeoutMs?: number;
  /** The cluster secret, sent with every request (a cluster's nodes refuse requests without it). */
  secret?: string;
}

/** A call to a node bounded by `answerMs` that got no answer in time (code ETIMEDOUT: a network failure). */
export class NodeAnswerTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(origin: string, ms: number) {
    super(`storage node ${origin} did not answer within ${ms} ms`);
  }
}

/** What bounds each call of a `bounded` view of a client. */
export interface CallLimits {
  /** The answer (for a stream: its first bytes) must come within this many ms, queueing and connect included. */
  answerMs?: number;
  /** Aborts the call (its reason is what the call throws). */
  signal?: AbortSignal;
}

export class StorageClient implements StorageApi, ReplicaEnd {
  private readonly pool: Pool;
  private readonly auth: Record<string, string>;
  private readonly origin: string;
  private readonly limits: CallLimits;
  private readonly ownsPool: boolean;

  constructor(origin: string, opts: StorageClientOptions = {}, shared?: { pool: Pool; limits: CallLimits }) {
    this.origin = origin;
    this.pool =
      shared?.pool ??
      new Pool(origin, {
        connections: opts.connections ?? 16,
        bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
        headersTimeout: opts.headersTimeoutMs ?? 300_000,
        connectTimeout: opts.connectTimeoutMs ?? 1000,
      });
    this.ownsPool = shared === undefined;
    this.limits = shared?.limits ?? {};
    this.auth = opts.secret === undefined ? {} : { [SECRET_HEADER]: opts.secret };
  }

  /**
   * The same node over the same connections, each call bounded by `limits`: a read that another node can serve
   * gives up on a node that does not answer in time (a frozen node, SIGSTOP, accepts connections through the
   * kernel's backlog and never answers, so only a deadline tells), and a call can be cut when its node is found dead.
   */
  bounded(limits: CallLimits): StorageClient {
    return new StorageClient(this.origin, { secret: this.auth[SECRET_HEADER] }, { pool: this.pool, limits });
  }

  /** Runs `send` with this view's limits as its abort signal; `send` settles before it returns. */
  private async deadline<T>(send: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const { answerMs: ms, signal: outer } = this.limits;
    if (ms === undefined) {
      if (outer === undefined) return send(undefined);
      // Only the caller's signal: handed on as it is (a controller and a listener per call cost ~25 us here).
      try {
        return await send(outer);
      } catch (err) {
        throw outer.aborted ? outer.reason : err;
      }
    }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new NodeAnswerTimeout(this.origin, ms)), ms);
    const cut = () => ac.abort(outer?.reason);
    if (outer?.aborted) cut();
    else outer?.addEventListener('abort', cut, { once: true });
    try {
      return await send(ac.signal);
    } catch (err) {
      throw ac.signal.aborted ? ac.signal.reason : err;
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', cut);
    }
  }

  private call<T>(method: string, args: unknown): Promise<T> {
    return this.deadline(async (signal) => {
      const res = await this.pool.request({
        path: `/v1/${method}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.auth },
        body: toWire(args),
        signal: signal ?? null,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw wireError(text);
      return fromWire<T>(text);
    });
  }

  /**
   * Puts and parts: arguments in a header, the framed body streamed, finish() appended to it; a body of at most
   * WHOLE_BODY_BYTES is collected first and sent as one buffer.
   */
  private async upload<T>(
    method: string,
    args: { size: number },
    body: AsyncIterable<Buffer>,
    finish: () => Promise<BodyFinish>,
  ): Promise<T> {
    let finishError: unknown;
    const guarded = async () => {
      try {
        return await finish();
      } catch (err) {
        finishError = err;
        throw err;
      }
    };
    try {
      return await this.deadline(async (signal) => {
        const framed =
          args.size <= WHOLE_BODY_BYTES
            ? frameWhole(await collectChunks(body, args.size), await guarded())
            : Readable.from(frameBody(body, guarded));
        const res = await this.pool.request({
          path: `/v1/${method}`,
          method: 'POST',
          headers: {
            'x-quire-args': Buffer.from(toWire(args)).toString('base64url'),
            'content-type': 'application/octet-stream',
            ...this.auth,
          },
          body: framed,
          signal: signal ?? null,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw wireError(text);
        return fromWire<T>(text);
      });
    } catch (err) {
      // A failing finish() (bad digest) aborts the request: the caller sees its own error.
      throw finishError ?? err;
    }
  }

  putObject(input: PutObjectInput): Promise<ObjectRecord> {
    const { body, finish, ...args } = input;
    return this.upload('putObject', args, body, finish);
  }
  uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    const { body, finish, ...args } = input;
    return this.upload('uploadPart', args, body, finish);
  }
  async headObject(
    bucket: string,
    key: Buffer,
    which: VersionSelector = {},
  ): Promise<ObjectRecord | undefined> {
    return (await this.call<ObjectRecord | null>('headObject', { bucket, key, which })) ?? undefined;
  }
  /**
   * A version up to INLINE_READ_BYTES comes whole in the answer (read under the node's pin, verified, and released
   * there: one call); a larger one is a handle on the node, streamed by a second call and released by a third.
   */
  async openObject(
    bucket: string,
    key: Buffer,
    which: VersionSelector = {},
  ): Promise<ReadHandle | undefined> {
    const args = { bucket, key, which, inline: INLINE_READ_BYTES };
    const r = await this.deadline(async (signal) => {
      const res = await this.pool.request({
        path: '/v1/openObject',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.auth },
        body: toWire(args),
        signal: signal ?? null,
      });
      const answer = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) throw wireError(answer.toString());
      if (res.headers['content-type'] === INLINE_TYPE) return unframeInline<ObjectRecord>(answer);
      return fromWire<{ handleId: string; record: ObjectRecord } | null>(answer.toString());
    });
    if (!r) return undefined;
    if ('bytes' in r) return bytesHandle(r.record, r.bytes);
    return { record: r.record, ...this.remoteHandle(r.handleId) };
  }
  /** The bytes of a handle the node holds open (an object or a part), streamed on demand, released once. */
  private remoteHandle(handleId: string): Pick<ReadHandle, 'stream' | 'release'> {
    const r = { handleId };
    let released = false;
    const pool = this.pool;
    const auth = this.auth;
    // The node sends the status line only once it has the first bytes: the deadline covers exactly those.
    const open = (range: ByteRangeInclusive | undefined) =>
      this.deadline(async (signal) => {
        const res = await pool.request({
          path: '/v1/stream',
          method: 'POST',
          headers: auth,
          body: toWire({ handleId: r.handleId, range: range ?? null }),
          signal: signal ?? null,
        });
        if (res.statusCode !== 200) throw wireError(await res.body.text());
        return res;
      });
    return {
      async *stream(range?: ByteRangeInclusive) {
        const res = await open(range);
        for await (const c of res.body) yield c as Buffer;
      },
      release: () => {
        if (released) return;
        released = true;
        this.call('release', { handleId: r.handleId }).catch(() => undefined);
      },
    };
  }
  deleteObject(bucket: string, key: Buffer, opts: DeleteOptions = {}): Promise<boolean> {
    return this.call('deleteObject', { bucket, key, opts });
  }
  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult> {
    return this.call('removeObject', input);
  }
  updateObjectAttributes(input: UpdateAttributesInput): Promise<ObjectRecord> {
    return this.call('updateObjectAttributes', input);
  }
  listObjectVersions(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterVersionId?: string; limit: number },
  ): Promise<ListedVersion[]> {
    return this.call('listObjectVersions', { bucket, opts });
  }
  copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    return this.call('copyObject', { src, dst });
  }
  listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]> {
    return this.call('listObjects', { bucket, opts });
  }
  hasObjects(bucket: string): Promise<boolean> {
    return this.call('hasObjects', { bucket });
  }
  dropBucket(bucket: string): Promise<DroppedBucket> {
    return this.call('dropBucket', { bucket });
  }
  createUpload(
    bucket: string,
    key: Buffer,
    headers: StoredHeaders,
    nowMs: number,
    checksumAlgorithm?: ChecksumAlgorithm,
    attributes?: UploadAttributes,
  ): Promise<string> {
    return this.call('createUpload', {
      bucket,
      key,
      headers,
      nowMs,
      checksumAlgorithm: checksumAlgorithm ?? null,
      attributes: attributes ?? null,
    });
  }
  uploadPartCopy(input: UploadPartCopyInput): Promise<BodyFinish> {
    return this.call('uploadPartCopy', input);
  }
  completeUpload(
    bucket: string,
    key: Buffer,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>,
    nowMs: number,
    versioning?: VersioningMode,
  ): Promise<ObjectRecord> {
    return this.call('completeUpload', {
      bucket,
      key,
      uploadId,
      parts,
      nowMs,
      versioning: versioning ?? null,
    });
  }
  async abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    await this.call('abortUpload', { bucket, key, uploadId });
  }
  listParts(
    bucket: string,
    key: Buffer,
    uploadId: string,
    opts: { afterPart: number; limit: number },
  ): Promise<ListPartsResult> {
    return this.call('listParts', { bucket, key, uploadId, opts });
  }
  listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]> {
    return this.call('listUploads', { bucket, opts });
  }
  stats(): Promise<NodeStats> {
    return this.call('stats', {});
  }
  /** Recovery pull: where this member's push sync toward a node pulling from `toward` must start. */
  syncPosition(toward: string, forNode?: string): Promise<BinlogPosition> {
    return this.call('syncPosition', { toward, ...(forNode ? { for: forNode } : {}) });
  }
  /** Recovery pull: this member's push sync ships to `nodeId` from `at` on; answers within about `waitMs`. */
  joinPushSync(nodeId: string, at: BinlogPosition, waitMs: number): Promise<JoinResult> {
    return this.call('joinPushSync', { nodeId, at, waitMs });
  }
  // ---- replication (replica-api.ts) ----
  replicaStates(bucket: string, key: Buffer): Promise<ReplicaState[]> {
    return this.call('replicaStates', { bucket, key });
  }
  scanKeys(opts: { after?: ReplicaKey; limit: number }): Promise<ReplicaKey[]> {
    return this.call('scanKeys', opts);
  }
  /** A page of keys with their states and small versions' bytes (replica-scan.ts), in one call. */
  scanStates(opts: { after?: ReplicaKey; limit: number }): Promise<ScannedKey[]> {
    return this.deadline(async (signal) => {
      const res = await this.pool.request({
        path: '/v1/scanStates',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.auth },
        body: toWire({ ...opts, inline: INLINE_READ_BYTES }),
        signal: signal ?? null,
      });
      const answer = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) throw wireError(answer.toString());
      const { record: head, bytes } = unframeInline<Parameters<typeof pageFromWire>[0]>(answer);
      return pageFromWire(head, bytes);
    });
  }
  uploadStates(bucket: string, key: Buffer): Promise<UploadState[]> {
    return this.call('uploadStates', { bucket, key });
  }
  async openPart(
    bucket: string,
    key: Buffer,
    uploadId: string,
    partNumber: number,
  ): Promise<PartHandle | undefined> {
    const r = await this.call<{ handleId: string; state: UploadState } | null>('openPart', {
      bucket,
      key,
      uploadId,
      partNumber,
    });
    if (!r) return undefined;
    const h = this.remoteHandle(r.handleId);
    return { state: r.state, stream: () => h.stream(), release: h.release };
  }
  applyUpload(input: ApplyUploadInput): Promise<ApplyResult> {
    const { body, ...args } = input;
    return this.applyFramed('applyUpload', args, body);
  }
  /**
   * The arguments lead the body (replica-wire.ts); the bytes follow framed as a put's, in one buffer when the
   * version is at most WHOLE_BODY_BYTES.
   */
  applyReplica(input: ApplyReplicaInput): Promise<ApplyResult> {
    const { body, ...args } = input;
    return this.applyFramed('applyReplica', args, body, input.state.record?.size ?? 0);
  }
  /** `size`, when known, is the body's: at most WHOLE_BODY_BYTES, it is collected and sent in one buffer. */
  private async applyFramed(
    method: string,
    args: unknown,
    body: AsyncIterable<Buffer> | undefined,
    size?: number,
  ): Promise<ApplyResult> {
    const json = toWire(args);
    const whole = !body || (size !== undefined && size <= WHOLE_BODY_BYTES);
    const res = await this.pool.request({
      path: `/v1/${method}`,
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...this.auth },
      body: whole
        ? frameApplyWhole(json, body ? await collectChunks(body, size ?? 0) : [])
        : Readable.from(frameApply(json, body)),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw wireError(text);
    return fromWire<ApplyResult>(text);
  }
  /** Closes the connections (the remote node stays up); a `bounded` view leaves them to the client it came from. */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.close();
  }
}

function wireError(text: string): Error {
  try {
    const { code, message, reason } = JSON.parse(text) as { code: string; message: string; reason?: string };
    return errorFromWire(code, message, reason);
  } catch {
    return errorFromWire('InternalError', text.slice(0, 200));
  }
}
