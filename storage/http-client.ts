// StorageApi over the internal HTTP API (undici Pool): the gateway uses this for a remote node.
// Bodies stream both ways; a `{code, message}` error reply is rethrown as the same typed error.
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { SECRET_HEADER } from '../common/cluster-wire.ts';
import type {
  BodyFinish,
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
import { frameBody, fromWire, toWire } from './http-wire.ts';
import type { JoinResult } from './recovery-pull.ts';

export interface StorageClientOptions {
  connections?: number;
  /** Body timeout for streamed reads and writes. */
  bodyTimeoutMs?: number;
  /** The cluster secret, sent with every request (a cluster's nodes refuse requests without it). */
  secret?: string;
}

export class StorageClient implements StorageApi {
  private readonly pool: Pool;
  private readonly auth: Record<string, string>;

  constructor(origin: string, opts: StorageClientOptions = {}) {
    this.pool = new Pool(origin, {
      connections: opts.connections ?? 16,
      bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
      headersTimeout: 300_000,
    });
    this.auth = opts.secret === undefined ? {} : { [SECRET_HEADER]: opts.secret };
  }

  private async call<T>(method: string, args: unknown): Promise<T> {
    const res = await this.pool.request({
      path: `/v1/${method}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.auth },
      body: toWire(args),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw wireError(text);
    return fromWire<T>(text);
  }

  /** Puts and parts: arguments in a header, the framed body streamed, finish() appended to it. */
  private async upload<T>(
    method: string,
    args: unknown,
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
      const res = await this.pool.request({
        path: `/v1/${method}`,
        method: 'POST',
        headers: {
          'x-quire-args': Buffer.from(toWire(args)).toString('base64url'),
          'content-type': 'application/octet-stream',
          ...this.auth,
        },
        body: Readable.from(frameBody(body, guarded)),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw wireError(text);
      return fromWire<T>(text);
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
  async openObject(
    bucket: string,
    key: Buffer,
    which: VersionSelector = {},
  ): Promise<ReadHandle | undefined> {
    const r = await this.call<{ handleId: string; record: ObjectRecord } | null>('openObject', {
      bucket,
      key,
      which,
    });
    if (!r) return undefined;
    let released = false;
    const pool = this.pool;
    const auth = this.auth;
    return {
      record: r.record,
      async *stream(range) {
        const res = await pool.request({
          path: '/v1/stream',
          method: 'POST',
          headers: auth,
          body: toWire({ handleId: r.handleId, range: range ?? null }),
        });
        if (res.statusCode !== 200) throw wireError(await res.body.text());
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
  syncPosition(toward: string): Promise<BinlogPosition> {
    return this.call('syncPosition', { toward });
  }
  /** Recovery pull: this member's push sync ships to `nodeId` from `at` on; answers within about `waitMs`. */
  joinPushSync(nodeId: string, at: BinlogPosition, waitMs: number): Promise<JoinResult> {
    return this.call('joinPushSync', { nodeId, at, waitMs });
  }
  /** Closes the connections (the remote node stays up). */
  async close(): Promise<void> {
    await this.pool.close();
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
