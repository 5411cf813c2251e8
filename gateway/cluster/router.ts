// The gateway's StorageApi in a cluster: each key's calls go to the storage node that holds it — partition →
// syncgroup (layout) → primary (rendezvous over the syncgroup's members) — and whole-bucket calls (listings,
// emptiness, drop) go to every node holding a share, their sorted answers k-way merged.
//
// Members do not mirror each other yet, so each member holds exactly the keys it is primary for: a key is routed
// over *all* members the tracker knows (up or suspect), never re-routed around a silent one (its keys would seem
// absent), and a listing asks every member. When mirroring lands, `membersFor` becomes the live members and
// `listSources` one member per syncgroup. A node that cannot be reached makes the call fail with 503
// ServiceUnavailable (retryable); a listing never silently leaves out a node's keys.
import { createHash } from 'node:crypto';
import type { NodeView } from '../../common/cluster-wire.ts';
import { type Layout, rankMembers, routeKey } from '../../common/layout.ts';
import type {
  BodyFinish,
  CopyDestination,
  CopySource,
  DeleteOptions,
  DroppedBucket,
  ListedObject,
  ListedUpload,
  ListedVersion,
  NodeStats,
  ObjectRecord,
  PutObjectInput,
  ReadHandle,
  RemoveObjectInput,
  RemoveObjectResult,
  StorageApi,
  StoredHeaders,
  UpdateAttributesInput,
  UploadPartCopyInput,
  UploadPartInput,
  VersionSelector,
} from '../../storage/api.ts';
import { copyHeaders } from '../../storage/api.ts';
import { NoSuchKeyError, PreconditionFailedError, WrongPartitionError } from '../../storage/errors.ts';
import { S3Error } from '../errors.ts';
import { byKey, byKeyThenUpload, mergeSorted } from './merge.ts';

export type NodeClient = StorageApi;

export interface ClusterView {
  readonly layout: Layout | undefined;
  readonly nodes: readonly NodeView[];
  /** Asks the tracker for the current layout and nodes (after a wrong-partition answer). */
  refresh(): Promise<void>;
}

export interface RouterOptions {
  view: ClusterView;
  /** A client for the node whose storage API answers at `url` (kept and reused by the router). */
  connect: (url: string) => NodeClient;
  /** How many times a call refused as wrong partition is retried after refreshing the layout. */
  wrongPartitionRetries?: number;
}

interface Target {
  nodeId: string;
  client: NodeClient;
}

export class ClusterRouter implements StorageApi {
  private readonly clients = new Map<string, NodeClient>();

  constructor(private readonly opts: RouterOptions) {}

  private client(url: string): NodeClient {
    let c = this.clients.get(url);
    if (!c) {
      c = this.opts.connect(url);
      this.clients.set(url, c);
    }
    return c;
  }

  /** The members a key of `syncgroup` may be routed to (see the file comment). */
  private membersFor(syncgroup: string): NodeView[] {
    return this.opts.view.nodes.filter((n) => n.syncgroup === syncgroup);
  }

  /** The nodes a whole-bucket call must ask: every member of every syncgroup of the layout. */
  private listSources(): Target[] {
    const layout = this.layoutOrFail();
    const nodes = this.opts.view.nodes.filter((n) => layout.syncgroups.includes(n.syncgroup));
    for (const g of layout.syncgroups)
      if (!nodes.some((n) => n.syncgroup === g)) throw unavailable(`syncgroup ${g} has no storage node yet`);
    return nodes.map((n) => ({ nodeId: n.nodeId, client: this.client(n.url) }));
  }

  private layoutOrFail(): Layout {
    const layout = this.opts.view.layout;
    if (!layout) throw unavailable('the gateway has no layout from the tracker yet');
    return layout;
  }

  /** The node that holds (bucket, key) now. */
  route(bucket: string, key: Buffer): Target {
    const group = routeKey(this.layoutOrFail(), bucket, key);
    const members = this.membersFor(group);
    const primary = rankMembers(
      members.map((m) => m.nodeId),
      bucket,
      key,
    )[0];
    const node = members.find((m) => m.nodeId === primary);
    if (!node) throw unavailable(`syncgroup ${group} has no storage node`);
    return { nodeId: node.nodeId, client: this.client(node.url) };
  }

  /** Runs a keyed call on the key's node; a wrong-partition answer refreshes the layout and tries again. */
  private async keyed<T>(bucket: string, key: Buffer, call: (c: NodeClient) => Promise<T>): Promise<T> {
    const retries = this.opts.wrongPartitionRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const target = this.route(bucket, key);
      try {
        return await call(target.client);
      } catch (err) {
        if (err instanceof WrongPartitionError && attempt < retries) {
          await this.opts.view.refresh().catch(() => undefined);
          continue;
        }
        throw translate(err, target.nodeId);
      }
    }
  }

  private async everywhere<T>(call: (c: NodeClient) => Promise<T>): Promise<T[]> {
    const sources = this.listSources();
    return Promise.all(
      sources.map((s) =>
        call(s.client).catch((err: unknown) => {
          throw translate(err, s.nodeId);
        }),
      ),
    );
  }

  putObject(input: PutObjectInput): Promise<ObjectRecord> {
    // A body can be sent once: no retry after the node refused it (the layout is refreshed for the next request).
    return this.keyedOnce(input.bucket, input.key, (c) => c.putObject(input));
  }
  headObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ObjectRecord | undefined> {
    return this.keyed(bucket, key, (c) => c.headObject(bucket, key, which));
  }
  openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined> {
    return this.keyed(bucket, key, (c) => c.openObject(bucket, key, which));
  }
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions): Promise<boolean> {
    return this.keyed(bucket, key, (c) => c.deleteObject(bucket, key, opts));
  }
  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult> {
    return this.keyed(input.bucket, input.key, (c) => c.removeObject(input));
  }
  updateObjectAttributes(input: UpdateAttributesInput): Promise<ObjectRecord> {
    return this.keyed(input.bucket, input.key, (c) => c.updateObjectAttributes(input));
  }
  async listObjectVersions(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterVersionId?: string; limit: number },
  ): Promise<ListedVersion[]> {
    // A key lives in one syncgroup: its versions come from one node, already newest first.
    const lists = await this.everywhere((c) => c.listObjectVersions(bucket, opts));
    return mergeSorted(lists, byKey, opts.limit);
  }

  async copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    const from = this.route(src.bucket, src.key);
    const to = this.route(dst.bucket, dst.key);
    if (from.nodeId === to.nodeId) return this.keyed(dst.bucket, dst.key, (c) => c.copyObject(src, dst));
    // Across nodes: stream the source version through the gateway into the destination's node.
    const h = await this.openSource(src);
    try {
      const r = h.record;
      const tee = md5Tee(h.stream(src.range));
      const whole = !src.range && r.checksumType !== 'COMPOSITE';
      return await this.keyedOnce(dst.bucket, dst.key, (c) =>
        c.putObject({
          bucket: dst.bucket,
          key: dst.key,
          size: src.range ? src.range.end - src.range.start + 1 : r.size,
          body: tee.body,
          headers: copyHeaders(dst, r.headers as StoredHeaders),
          nowMs: dst.nowMs,
          ...(dst.condition ? { condition: dst.condition } : {}),
          ...(dst.versioning ? { versioning: dst.versioning } : {}),
          ...((dst.tags ?? r.tags) ? { tags: dst.tags ?? r.tags } : {}),
          ...(dst.retention ? { retention: dst.retention } : {}),
          ...(dst.legalHold !== undefined ? { legalHold: dst.legalHold } : {}),
          finish: async () => ({ etag: tee.etag(), checksums: whole ? r.checksums : {} }),
        }),
      );
    } finally {
      h.release();
    }
  }

  async uploadPartCopy(input: UploadPartCopyInput): Promise<BodyFinish> {
    const from = this.route(input.src.bucket, input.src.key);
    const to = this.route(input.bucket, input.key);
    if (from.nodeId === to.nodeId) return this.keyed(input.bucket, input.key, (c) => c.uploadPartCopy(input));
    const h = await this.openSource(input.src);
    try {
      const range = input.src.range;
      const tee = md5Tee(h.stream(range));
      return await this.keyedOnce(input.bucket, input.key, (c) =>
        c.uploadPart({
          bucket: input.bucket,
          key: input.key,
          uploadId: input.uploadId,
          partNumber: input.partNumber,
          size: range ? range.end - range.start + 1 : h.record.size,
          body: tee.body,
          nowMs: input.nowMs,
          finish: async () => ({ etag: tee.etag(), checksums: {} }),
        }),
      );
    } finally {
      h.release();
    }
  }

  /** The copy source, pinned; only the version with `src.etag` when given (as the node's own copy checks). */
  private async openSource(src: CopySource): Promise<ReadHandle> {
    const h = await this.openObject(
      src.bucket,
      src.key,
      src.versionId === undefined ? {} : { versionId: src.versionId },
    );
    if (!h) throw new NoSuchKeyError();
    if (src.etag !== undefined && src.etag.replace(/^"|"$/g, '') !== h.record.etag) {
      h.release();
      throw new PreconditionFailedError('the copy source changed since its conditions were checked');
    }
    return h;
  }

  private async keyedOnce<T>(bucket: string, key: Buffer, call: (c: NodeClient) => Promise<T>): Promise<T> {
    const target = this.route(bucket, key);
    try {
      return await call(target.client);
    } catch (err) {
      if (err instanceof WrongPartitionError) void this.opts.view.refresh().catch(() => undefined);
      throw translate(err, target.nodeId);
    }
  }

  async listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]> {
    const lists = await this.everywhere((c) => c.listObjects(bucket, opts));
    return mergeSorted(lists, byKey, opts.limit);
  }
  async hasObjects(bucket: string): Promise<boolean> {
    return (await this.everywhere((c) => c.hasObjects(bucket))).some(Boolean);
  }
  async dropBucket(bucket: string): Promise<DroppedBucket> {
    const all = await this.everywhere((c) => c.dropBucket(bucket));
    return all.reduce((a, b) => ({ objects: a.objects + b.objects, uploads: a.uploads + b.uploads }), {
      objects: 0,
      uploads: 0,
    });
  }
  createUpload(...args: Parameters<StorageApi['createUpload']>): Promise<string> {
    return this.keyed(args[0], args[1], (c) => c.createUpload(...args));
  }
  uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    return this.keyedOnce(input.bucket, input.key, (c) => c.uploadPart(input));
  }
  completeUpload(...args: Parameters<StorageApi['completeUpload']>): Promise<ObjectRecord> {
    return this.keyed(args[0], args[1], (c) => c.completeUpload(...args));
  }
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    return this.keyed(bucket, key, (c) => c.abortUpload(bucket, key, uploadId));
  }
  listParts(...args: Parameters<StorageApi['listParts']>) {
    return this.keyed(args[0], args[1], (c) => c.listParts(...args));
  }
  async listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]> {
    const lists = await this.everywhere((c) => c.listUploads(bucket, opts));
    return mergeSorted(lists, byKeyThenUpload, opts.limit);
  }
  /** Every node's volumes, and the cluster's object and upload counts. */
  async stats(): Promise<NodeStats> {
    const all = await this.everywhere((c) => c.stats());
    return {
      nodeId: 0,
      volumes: all.flatMap((s) =>
        s.volumes.map((v) => ({ ...v, volumeId: `${s.nodeId.toString(16)}/${v.volumeId}` })),
      ),
      objects: all.reduce((n, s) => n + s.objects, 0),
      uploads: all.reduce((n, s) => n + s.uploads, 0),
    };
  }
  /** Closes the connections to the nodes (the nodes stay up). */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}

function unavailable(message: string): S3Error {
  return new S3Error('ServiceUnavailable', `${message}; retry the request.`);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** A node that cannot be reached is S3's retryable 503; anything else passes as it is. */
function translate(err: unknown, nodeId: string): unknown {
  const code = (err as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code;
  const causeCode = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (NETWORK_CODES.has(String(code)) || NETWORK_CODES.has(String(causeCode)))
    return unavailable(`storage node ${nodeId} cannot be reached`);
  return err;
}

/** MD5 of what streams through (the ETag of a copy), hashed chunk by chunk as it passes. */
function md5Tee(src: AsyncIterable<Buffer>): { body: AsyncIterable<Buffer>; etag: () => string } {
  const hash = createHash('md5');
  let digest: string | undefined;
  return {
    body: (async function* () {
      for await (const c of src) {
        hash.update(c);
        yield c;
      }
      digest = hash.digest('hex');
    })(),
    etag: () => {
      if (digest === undefined) throw new Error('copy body not fully read');
      return digest;
    },
  };
}
