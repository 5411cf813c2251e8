// The gateway's StorageApi in a cluster. Each key's calls go to its syncgroup (partition → syncgroup, from the
// layout) and there to a member chosen by `routing.ts`:
// - writes (put, delete, attribute updates, copy destination, multipart calls) to the key's rendezvous primary
//   over the members that are up: a write fails over once the tracker marks the primary suspect, and before that
//   only when the primary could not even be connected to (nothing reached it; a body of up to 1 MiB is held in
//   memory for that, a larger one is sent once);
// - reads (head, open + the first bytes of the stream) to the primary, and at once to the next member in
//   rendezvous order (up, then suspect; never recovering) when one does not answer: connection refused or reset,
//   connect timeout, or no answer within `failoverAfterMs` (a frozen node accepts connections but never answers).
//   The last member tried gets the ordinary timeouts. Once a body has begun streaming there is no failover;
// - listings (multipart upload listings included) and emptiness to one member per syncgroup, failing over the
//   same way; a bucket drop to every member.
// An upload in progress is mirrored like an object (storage/mirror.ts): its calls follow the key's write primary,
// and when that moves (a member turning suspect, a recovered member becoming up) the new primary continues the
// same upload; ListParts is a read and fails over like one.
//
// A syncgroup whose members do not mirror (see routing.ts) is routed as before mirroring: every member the tracker
// knows, no failover, and a listing asks every member, their sorted answers k-way merged (the same item from two
// members taken once). A node that refuses a key's partition makes the gateway refresh its layout and retry.
// When no member can answer, the call fails with 503 ServiceUnavailable (retryable); a listing never silently
// leaves out a syncgroup's keys.
import { createHash } from 'node:crypto';
import type { NodeView } from '../../common/cluster-wire.ts';
import { type Layout, routeKey } from '../../common/layout.ts';
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
import {
  dropTargets,
  listOrder,
  membersOf,
  mirrored,
  readOrder,
  writeOrder,
  writeTarget,
} from './routing.ts';

/** A storage node's API as the router uses it. */
export interface NodeClient extends StorageApi {
  /**
   * The same node, each call failing with a network error (code ETIMEDOUT) when its answer (for a stream: its
   * first bytes) has not come within `answerMs`, time waiting for a connection included, and cut with the
   * signal's reason when `signal` aborts.
   */
  bounded(limits: { answerMs?: number; signal?: AbortSignal }): StorageApi;
}

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
  /** How long a read waits for a member's answer before it asks the next member (default 2000 ms). */
  failoverAfterMs?: number;
  /** Told each time a read leaves a member that did not answer for the next one (logs, metrics). */
  onFailover?: (event: { nodeId: string; error: unknown }) => void;
}

export const DEFAULT_FAILOVER_AFTER_MS = 2000;
/** How often calls in flight compare their node with the tracker's view (to cut those to a node turned suspect). */
const SUSPECT_CHECK_MS = 200;

type Call<T> = (c: StorageApi, node: NodeView) => Promise<T>;

export class ClusterRouter implements StorageApi {
  private readonly clients = new Map<string, NodeClient>();
  /** Calls in flight to nodes that were up when sent, by node id: cut when the tracker marks the node suspect. */
  private readonly inFlight = new Map<string, Set<AbortController>>();
  private watcher: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RouterOptions) {}

  /**
   * Runs `call` on `node`: with a deadline when `answerMs` is given, and, when the node is up, cut with a 503 as
   * soon as the tracker marks it suspect. A frozen node holds what was sent to it; without this a write would wait
   * for it as long as the node stays frozen, while new writes already go to the next member.
   */
  private async send<T>(node: NodeView, call: Call<T>, answerMs?: number): Promise<T> {
    const client = this.client(node.url);
    if (node.state !== 'up')
      return call(answerMs === undefined ? client : client.bounded({ answerMs }), node);
    const ac = new AbortController();
    const calls = this.inFlight.get(node.nodeId) ?? new Set<AbortController>();
    this.inFlight.set(node.nodeId, calls);
    calls.add(ac);
    this.watcher ??= setInterval(() => this.cutSuspects(), SUSPECT_CHECK_MS);
    try {
      return await call(
        client.bounded({ signal: ac.signal, ...(answerMs === undefined ? {} : { answerMs }) }),
        node,
      );
    } finally {
      calls.delete(ac);
      if (calls.size === 0) this.inFlight.delete(node.nodeId);
      if (this.inFlight.size === 0) {
        clearInterval(this.watcher);
        this.watcher = undefined;
      }
    }
  }

  private cutSuspects(): void {
    for (const [nodeId, calls] of this.inFlight) {
      const state = this.opts.view.nodes.find((n) => n.nodeId === nodeId)?.state;
      if (state === 'up') continue;
      // A network failure as far as the caller is concerned: a read moves on to the next member at once, a
      // write ends in 503 ServiceUnavailable (retryable).
      const reason = new SuspectCut(
        `storage node ${nodeId} stopped answering (the tracker reports it ${state ?? 'gone'})`,
      );
      for (const ac of calls) ac.abort(reason);
    }
  }

  private client(url: string): NodeClient {
    let c = this.clients.get(url);
    if (!c) {
      c = this.opts.connect(url);
      this.clients.set(url, c);
    }
    return c;
  }

  private layoutOrFail(): Layout {
    const layout = this.opts.view.layout;
    if (!layout) throw unavailable('the gateway has no layout from the tracker yet');
    return layout;
  }

  /** The syncgroup that holds (bucket, key) and its members. */
  private groupOf(bucket: string, key: Buffer): { group: string; members: NodeView[] } {
    const group = routeKey(this.layoutOrFail(), bucket, key);
    return { group, members: membersOf(this.opts.view.nodes, group) };
  }

  /** Every syncgroup of the layout with its members; one without any cannot be listed. */
  private groups(): Array<{ group: string; members: NodeView[] }> {
    const layout = this.layoutOrFail();
    return layout.syncgroups.map((group) => {
      const members = membersOf(this.opts.view.nodes, group);
      if (members.length === 0) throw unavailable(`syncgroup ${group} has no storage node yet`);
      return { group, members };
    });
  }

  /** The node a write of (bucket, key) goes to now. */
  route(bucket: string, key: Buffer): NodeView {
    const { group, members } = this.groupOf(bucket, key);
    const node = writeTarget(members, bucket, key);
    if (!node) throw unavailable(`syncgroup ${group} has no storage node up`);
    return node;
  }

  /**
   * Runs `call` on the first of `candidates()` that answers: a member that does not (a network error, or no
   * answer within failoverAfterMs while another is left) is left for the next. Members that were only too slow get
   * a second chance, without the deadline, when every other one failed outright: a busy member beats a dead one.
   * A wrong-partition answer refreshes the layout and starts again with fresh candidates. Any other answer, error
   * or not, is the call's.
   */
  private async attempt<T>(
    candidates: () => NodeView[],
    call: Call<T>,
    opts: { unreachedOnly?: boolean } = {},
  ): Promise<T> {
    const retries = this.opts.wrongPartitionRetries ?? 2;
    const waitMs = this.opts.failoverAfterMs ?? DEFAULT_FAILOVER_AFTER_MS;
    for (let refreshed = 0; ; refreshed++) {
      const order = candidates();
      let failed: { err: unknown; nodeId: string } | undefined;
      let stale = false;
      const slow: NodeView[] = [];
      // A write waits for its answer (it may be taking effect), and moves on only from a member never reached.
      const tries = order.map((node, i) => ({
        node,
        answerMs: i < order.length - 1 && !opts.unreachedOnly ? waitMs : undefined,
      }));
      for (let i = 0; i < tries.length; i++) {
        const { node, answerMs } = tries[i]!;
        try {
          return await this.send(node, call, answerMs);
        } catch (err) {
          if (err instanceof WrongPartitionError && refreshed < retries) {
            stale = true;
            break;
          }
          if (!isNetworkError(err)) throw err;
          if (opts.unreachedOnly && !isUnreached(err)) throw translate(err, node.nodeId);
          failed = { err, nodeId: node.nodeId };
          if (answerMs !== undefined && isTimeout(err)) slow.push(node);
          if (i < tries.length - 1) this.opts.onFailover?.({ nodeId: node.nodeId, error: err });
          else tries.push(...slow.splice(0).map((n) => ({ node: n, answerMs: undefined })));
        }
      }
      if (!stale) throw translate(failed?.err, failed?.nodeId ?? '?');
      await this.opts.view.refresh().catch(() => undefined);
    }
  }

  /** A read of (bucket, key): its members in read order (less `skip`), failing over. */
  private read<T>(bucket: string, key: Buffer, call: Call<T>, skip?: ReadonlySet<string>): Promise<T> {
    return this.attempt(() => {
      const { group, members } = this.groupOf(bucket, key);
      const order = readOrder(members, bucket, key).filter((n) => !skip?.has(n.nodeId));
      if (order.length === 0)
        throw unavailable(`syncgroup ${group} has no storage node that can serve the read`);
      return order;
    }, call);
  }

  /**
   * A write of (bucket, key) that can be sent again (no body, or one held in memory): its primary, then the next
   * member that takes writes when one could not be connected to (`writeOrder`), retried after a wrong-partition
   * refresh.
   */
  private write<T>(bucket: string, key: Buffer, call: Call<T>): Promise<T> {
    return this.attempt(
      () => {
        const { group, members } = this.groupOf(bucket, key);
        const order = writeOrder(members, bucket, key);
        if (order.length === 0) throw unavailable(`syncgroup ${group} has no storage node up`);
        return order;
      },
      call,
      { unreachedOnly: true },
    );
  }

  /**
   * A write whose body is sent as it arrives: a small one is held in memory first and written like a write without
   * a body (it can go to the next member when the primary cannot be connected to); a larger one is sent once, to
   * the primary, and a wrong-partition answer refreshes the layout for the next call.
   */
  private async writeBody<T>(
    input: { bucket: string; key: Buffer; size: number; body: AsyncIterable<Buffer> },
    call: (c: StorageApi, body: AsyncIterable<Buffer>) => Promise<T>,
  ): Promise<T> {
    if (input.size > RESEND_BODY_BYTES)
      return this.writeOnce(input.bucket, input.key, (c) => call(c, input.body));
    const chunks: Buffer[] = [];
    for await (const c of input.body) chunks.push(c);
    return this.write(input.bucket, input.key, (c) => call(c, replay(chunks)));
  }

  /** A write with a body: sent once, to the primary; a wrong-partition answer refreshes the layout for the next. */
  private async writeOnce<T>(bucket: string, key: Buffer, call: Call<T>): Promise<T> {
    const node = this.route(bucket, key);
    try {
      return await this.send(node, call);
    } catch (err) {
      if (err instanceof WrongPartitionError) void this.opts.view.refresh().catch(() => undefined);
      throw translate(err, node.nodeId);
    }
  }

  /** One answer per syncgroup: one member of a mirrored group (failing over), every member of one that is not. */
  private async perGroup<T>(bucket: string, call: Call<T>): Promise<T[]> {
    const answers = await Promise.all(
      this.groups().map(async ({ group, members }) => {
        const order = listOrder(members, bucket);
        if (order.askAll) return Promise.all(order.nodes.map((n) => this.everyone(n, call)));
        if (order.nodes.length === 0) throw unavailable(`syncgroup ${group} has no storage node that serves`);
        return [await this.attempt(() => order.nodes, call)];
      }),
    );
    return answers.flat();
  }

  /** `call` on one given node, which must answer. */
  private async everyone<T>(node: NodeView, call: Call<T>): Promise<T> {
    try {
      return await this.send(node, call);
    } catch (err) {
      throw translate(err, node.nodeId);
    }
  }

  putObject(input: PutObjectInput): Promise<ObjectRecord> {
    return this.writeBody(input, (c, body) => c.putObject({ ...input, body }));
  }
  headObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ObjectRecord | undefined> {
    return this.read(bucket, key, (c) => c.headObject(bucket, key, which));
  }
  /** The version is opened on the first member that answers; its stream fails over too, until its first bytes. */
  openObject(bucket: string, key: Buffer, which?: VersionSelector): Promise<ReadHandle | undefined> {
    return this.read(bucket, key, async (c, node) => {
      const h = await c.openObject(bucket, key, which);
      return h && this.failingOver(h, node, bucket, key);
    });
  }
  deleteObject(bucket: string, key: Buffer, opts?: DeleteOptions): Promise<boolean> {
    return this.write(bucket, key, (c) => c.deleteObject(bucket, key, opts));
  }
  removeObject(input: RemoveObjectInput): Promise<RemoveObjectResult> {
    return this.write(input.bucket, input.key, (c) => c.removeObject(input));
  }
  updateObjectAttributes(input: UpdateAttributesInput): Promise<ObjectRecord> {
    return this.write(input.bucket, input.key, (c) => c.updateObjectAttributes(input));
  }
  async listObjectVersions(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterVersionId?: string; limit: number },
  ): Promise<ListedVersion[]> {
    // A key lives in one syncgroup: its versions come from one node, already newest first.
    const lists = await this.perGroup(bucket, (c) => c.listObjectVersions(bucket, opts));
    return mergeSorted(lists, byKey, opts.limit);
  }

  /**
   * A handle whose stream, if the node does not deliver the first bytes, opens the same version (same version id
   * and opver) on the next member in read order and streams from there. After the first bytes it is that stream's.
   */
  private failingOver(first: ReadHandle, firstNode: NodeView, bucket: string, key: Buffer): ReadHandle {
    const opened: ReadHandle[] = [first];
    const tried = new Set([firstNode.nodeId]);
    /** Members whose stream only missed its deadline: alive, perhaps busy; the last resort. */
    const slow: NodeView[] = [];
    const record = first.record;
    const which = { versionId: record.versionId };
    const check = (h: ReadHandle | undefined): ReadHandle => {
      if (!h) throw unavailable('the version being read is gone from the member that still answers');
      opened.push(h);
      if (!sameVersion(h.record, record))
        throw unavailable('the member that still answers holds another version of the key');
      return h;
    };
    const reopen = async (): Promise<{ h: ReadHandle; node: NodeView }> => {
      let from: NodeView | undefined;
      try {
        const h = await this.read(
          bucket,
          key,
          async (c, node) => {
            tried.add(node.nodeId);
            from = node;
            return c.openObject(bucket, key, which);
          },
          tried,
        );
        return { h: check(h), node: from! };
      } catch (err) {
        const again = slow.shift();
        if (!again || !(err instanceof S3Error && err.code === 'ServiceUnavailable')) throw err;
        // Every other member failed outright: the one that was only slow, again, without the deadline.
        return { h: check(await this.send(again, (c) => c.openObject(bucket, key, which))), node: again };
      }
    };
    return {
      record,
      async *stream(range) {
        let h = first;
        let node = firstNode;
        for (;;) {
          const it = h.stream(range)[Symbol.asyncIterator]();
          try {
            let next: IteratorResult<Buffer>;
            try {
              next = await it.next();
            } catch (err) {
              if (!isNetworkError(err)) throw err;
              if (isTimeout(err)) slow.push(node);
              ({ h, node } = await reopen());
              continue;
            }
            while (!next.done) {
              yield next.value;
              next = await it.next();
            }
            return;
          } finally {
            await it.return?.();
          }
        }
      },
      release: () => {
        for (const h of opened) h.release();
      },
    };
  }

  /** Whether the node a write of `dst` goes to is the first a read of `src` asks: then it copies by itself. */
  private copiesLocally(src: { bucket: string; key: Buffer }, dst: { bucket: string; key: Buffer }): boolean {
    const g = this.groupOf(src.bucket, src.key);
    const from = readOrder(g.members, src.bucket, src.key)[0];
    return from !== undefined && from.nodeId === this.route(dst.bucket, dst.key).nodeId;
  }

  async copyObject(src: CopySource, dst: CopyDestination): Promise<ObjectRecord> {
    if (this.copiesLocally(src, dst)) return this.write(dst.bucket, dst.key, (c) => c.copyObject(src, dst));
    // Across nodes: stream the source version through the gateway into the destination's node.
    const h = await this.openSource(src);
    try {
      const r = h.record;
      const tee = md5Tee(h.stream(src.range));
      const whole = !src.range && r.checksumType !== 'COMPOSITE';
      return await this.writeOnce(dst.bucket, dst.key, (c) =>
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
    if (this.copiesLocally(input.src, input))
      return this.write(input.bucket, input.key, (c) => c.uploadPartCopy(input));
    const h = await this.openSource(input.src);
    try {
      const range = input.src.range;
      const tee = md5Tee(h.stream(range));
      return await this.writeOnce(input.bucket, input.key, (c) =>
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

  async listObjects(
    bucket: string,
    opts: { prefix: Buffer; after?: Buffer; limit: number },
  ): Promise<ListedObject[]> {
    const lists = await this.perGroup(bucket, (c) => c.listObjects(bucket, opts));
    return mergeSorted(lists, byKey, opts.limit);
  }
  async hasObjects(bucket: string): Promise<boolean> {
    return (await this.perGroup(bucket, (c) => c.hasObjects(bucket))).some(Boolean);
  }
  /** Every member drops the bucket's data (see `dropTargets`); mirrors hold the same objects, counted once. */
  async dropBucket(bucket: string): Promise<DroppedBucket> {
    const perGroup = await Promise.all(
      this.groups().map(async ({ members }) => {
        const dropped = await Promise.all(
          dropTargets(members).map(({ node, required }) =>
            this.everyone(node, (c) => c.dropBucket(bucket)).catch((err: unknown) => {
              if (required || !(err instanceof S3Error && err.code === 'ServiceUnavailable')) throw err;
              return { objects: 0, uploads: 0 };
            }),
          ),
        );
        // Mirrored members hold the same objects and uploads: the most any dropped is the group's count.
        const objects = Math.max(0, ...dropped.map((d) => d.objects));
        const uploads = mirrored(members)
          ? Math.max(0, ...dropped.map((d) => d.uploads))
          : dropped.reduce((n, d) => n + d.uploads, 0);
        return { objects, uploads };
      }),
    );
    return perGroup.reduce((a, b) => ({ objects: a.objects + b.objects, uploads: a.uploads + b.uploads }), {
      objects: 0,
      uploads: 0,
    });
  }
  createUpload(...args: Parameters<StorageApi['createUpload']>): Promise<string> {
    return this.write(args[0], args[1], (c) => c.createUpload(...args));
  }
  uploadPart(input: UploadPartInput): Promise<BodyFinish> {
    return this.writeBody(input, (c, body) => c.uploadPart({ ...input, body }));
  }
  completeUpload(...args: Parameters<StorageApi['completeUpload']>): Promise<ObjectRecord> {
    return this.write(args[0], args[1], (c) => c.completeUpload(...args));
  }
  abortUpload(bucket: string, key: Buffer, uploadId: string): Promise<void> {
    return this.write(bucket, key, (c) => c.abortUpload(bucket, key, uploadId));
  }
  /** Parts are mirrored with their upload: a read, failing over like one. */
  listParts(...args: Parameters<StorageApi['listParts']>) {
    return this.read(args[0], args[1], (c) => c.listParts(...args));
  }
  /** Uploads in progress are mirrored: one member per syncgroup is asked, as for an object listing. */
  async listUploads(
    bucket: string,
    opts: { prefix: Buffer; afterKey?: Buffer; afterUploadId?: string; limit: number },
  ): Promise<ListedUpload[]> {
    const lists = await this.perGroup(bucket, (c) => c.listUploads(bucket, opts));
    return mergeSorted(lists, byKeyThenUpload, opts.limit);
  }
  /** Every node's volumes, and the cluster's object and upload counts. */
  async stats(): Promise<NodeStats> {
    const all = await Promise.all(this.opts.view.nodes.map((n) => this.everyone(n, (c) => c.stats())));
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
    clearInterval(this.watcher);
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

/** The node did not answer (refused, reset, timed out): another member may. */
function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const causeCode = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return NETWORK_CODES.has(String(code)) || NETWORK_CODES.has(String(causeCode));
}

/** Codes of a connection that was never made: nothing of the request reached the node. */
const UNREACHED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function isUnreached(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const causeCode = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return UNREACHED_CODES.has(String(code)) || UNREACHED_CODES.has(String(causeCode));
}

/** Bodies up to this size are held in memory by the gateway, so a write can go to the next member (`writeBody`). */
const RESEND_BODY_BYTES = 1024 * 1024;

async function* replay(chunks: readonly Buffer[]): AsyncIterable<Buffer> {
  yield* chunks;
}

/** A call cut because the tracker turned its node suspect: for failover, the node did not answer. */
class SuspectCut extends Error {
  readonly code = 'ETIMEDOUT';
}

/** No answer in time (the node may only be busy), as opposed to a refused or broken connection or a dead node. */
function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ETIMEDOUT' && !(err instanceof SuspectCut);
}

/** A node that cannot be reached is S3's retryable 503; anything else passes as it is. */
function translate(err: unknown, nodeId: string): unknown {
  if (err instanceof SuspectCut) return unavailable(err.message);
  return isNetworkError(err) ? unavailable(`storage node ${nodeId} cannot be reached`) : err;
}

/** The same version of a key: the same version id written by the same operation. */
function sameVersion(a: ObjectRecord, b: ObjectRecord): boolean {
  return (
    a.versionId === b.versionId && a.opver.counter === b.opver.counter && a.opver.nodeId === b.opver.nodeId
  );
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
