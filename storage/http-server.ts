// The storage node's internal HTTP API (node:http): POST /v1/<method>. Arguments travel as wire
// JSON (http-wire.ts) in the body, or — for puts and parts, whose body is the framed object data —
// in the `x-quire-args` header (base64url). Errors answer `{code, message}` with a status.
// In a cluster every request must carry the cluster secret; arguments are size-limited and checked (zod) always.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SECRET_HEADER, secretMatches } from '../common/cluster-wire.ts';
import type { ByteRangeInclusive, ReadHandle, StorageApi } from './api.ts';
import { errorToWire } from './errors.ts';
import { MAX_ARGS_BYTES, STORAGE_CALL_SCHEMAS } from './http-schemas.ts';
import { frameInline, fromWire, INLINE_TYPE, toWire, unframeBody } from './http-wire.ts';
import type { PushSyncControl } from './recovery-pull.ts';
import type { ReplicaEnd } from './replica-api.ts';
import { pageHead, readWhole, scanStates } from './replica-scan.ts';
import { readApply } from './replica-wire.ts';

export interface StorageServerOptions {
  /** An opened object not streamed or released within this time is released. */
  handleIdleMs?: number;
  /** Random source for read-handle ids. */
  nextHandleId?: () => string;
  /** When set (a cluster), a request without this secret in `x-quire-cluster-secret` is refused (403). */
  secret?: string;
  /** Asked before each call runs, with its name; a call it throws for is refused with that error (a recovering node). */
  gate?: (method: string) => void;
  /** This node's push sync, for a recovery pull of a mirror (`syncPosition`, `joinPushSync`); absent: refused. */
  pushSync?: PushSyncControl;
}

const STATUS: Record<string, number> = {
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  MethodNotAllowed: 405,
  AccessDenied: 403,
  PreconditionFailed: 412,
  InvalidRange: 416,
  InsufficientStorage: 507,
  ServiceUnavailable: 503,
  InternalError: 500,
};

type Handler = (req: IncomingMessage, args: Record<string, unknown>) => Promise<unknown>;

/** A storage node serves the replication calls too (replica-api.ts); a plain StorageApi answers them 404. */
export function createStorageServer(
  api: StorageApi & Partial<ReplicaEnd>,
  opts: StorageServerOptions = {},
): Server {
  const handles = new Map<string, { h: Pick<ReadHandle, 'stream' | 'release'>; timer: NodeJS.Timeout }>();
  let seq = 0;
  const nextId = opts.nextHandleId ?? (() => `h${++seq}`);
  const idleMs = opts.handleIdleMs ?? 60_000;
  const drop = (id: string) => {
    const e = handles.get(id);
    if (!e) return;
    clearTimeout(e.timer);
    e.h.release();
    handles.delete(id);
  };
  const touch = (id: string) => {
    const e = handles.get(id);
    if (!e) return undefined;
    e.timer.refresh();
    return e.h;
  };
  const a = (v: unknown) => v as never;
  /** Holds an opened object (or part) for `stream` calls until released or idle. */
  const keep = (h: Pick<ReadHandle, 'stream' | 'release'>): string => {
    const id = nextId();
    const timer = setTimeout(() => drop(id), idleMs);
    timer.unref();
    handles.set(id, { h, timer });
    return id;
  };
  const pushSync = () => {
    if (!opts.pushSync) throw invalid('this node runs no push sync');
    return opts.pushSync;
  };
  const calls: Record<string, Handler> = {
    putObject: async (req, x) => api.putObject({ ...(x as object), ...unframeBody(req) } as never),
    uploadPart: async (req, x) => api.uploadPart({ ...(x as object), ...unframeBody(req) } as never),
    headObject: async (_r, x) => (await api.headObject(a(x.bucket), a(x.key), a(x.which ?? {}))) ?? null,
    deleteObject: async (_r, x) => api.deleteObject(a(x.bucket), a(x.key), a(x.opts ?? {})),
    removeObject: async (_r, x) => api.removeObject(a(x)),
    updateObjectAttributes: async (_r, x) => api.updateObjectAttributes(a(x)),
    listObjectVersions: async (_r, x) => api.listObjectVersions(a(x.bucket), a(x.opts)),
    copyObject: async (_r, x) => api.copyObject(a(x.src), a(x.dst)),
    listObjects: async (_r, x) => api.listObjects(a(x.bucket), a(x.opts)),
    hasObjects: async (_r, x) => api.hasObjects(a(x.bucket)),
    dropBucket: async (_r, x) => api.dropBucket(a(x.bucket)),
    createUpload: async (_r, x) =>
      api.createUpload(
        a(x.bucket),
        a(x.key),
        a(x.headers),
        a(x.nowMs),
        a(x.checksumAlgorithm ?? undefined),
        a(x.attributes ?? undefined),
      ),
    uploadPartCopy: async (_r, x) => api.uploadPartCopy(a(x)),
    completeUpload: async (_r, x) =>
      api.completeUpload(
        a(x.bucket),
        a(x.key),
        a(x.uploadId),
        a(x.parts),
        a(x.nowMs),
        a(x.versioning ?? undefined),
      ),
    abortUpload: async (_r, x) => (await api.abortUpload(a(x.bucket), a(x.key), a(x.uploadId))) ?? null,
    listParts: async (_r, x) => api.listParts(a(x.bucket), a(x.key), a(x.uploadId), a(x.opts)),
    listUploads: async (_r, x) => api.listUploads(a(x.bucket), a(x.opts)),
    stats: async () => api.stats(),
    syncPosition: async (_r, x) => pushSync().position(a(x.toward), a(x.for)),
    joinPushSync: async (_r, x) => pushSync().join(a(x.nodeId), a(x.at), a(x.waitMs)),
    openObject: async (_r, x) => {
      const h = await api.openObject(a(x.bucket), a(x.key), a(x.which ?? {}));
      if (!h) return null;
      // A small version travels whole in the answer: read (every byte verified) under the pin the open took, so
      // it is one whole version however the key changes meanwhile, and released at once (one call, not three).
      if (h.record.size <= ((x.inline as number | undefined) ?? -1)) {
        try {
          return new Inline(h.record, await readWhole(h));
        } finally {
          h.release();
        }
      }
      return { handleId: keep(h), record: h.record };
    },
    release: async (_r, x) => {
      drop(x.handleId as string);
      return null;
    },
  };
  const replica = api.replicaStates && api.applyReplica && api.scanKeys ? (api as ReplicaEnd) : undefined;
  if (replica) {
    calls.replicaStates = async (_r, x) => replica.replicaStates(a(x.bucket), a(x.key));
    calls.scanKeys = async (_r, x) => replica.scanKeys(a(x));
    calls.scanStates = async (_r, x) => {
      const { head, bytes } = pageHead(await scanStates(replica, a(x)));
      return new Inline(head, Buffer.concat(bytes));
    };
    calls.uploadStates = async (_r, x) => replica.uploadStates(a(x.bucket), a(x.key));
    calls.openPart = async (_r, x) => {
      const h = await replica.openPart(a(x.bucket), a(x.key), a(x.uploadId), a(x.partNumber));
      return h ? { handleId: keep(h), state: h.state } : null;
    };
    calls.applyUpload = async (req) => {
      const apply = await readApply(req, MAX_ARGS_BYTES);
      try {
        const x = checkArgs('applyUpload', apply.args);
        return await replica.applyUpload({ ...(x as object), body: apply.body } as never);
      } finally {
        await apply.drain().catch(() => undefined);
      }
    };
    // Arguments lead the body (replica-wire.ts); a stale state's bytes are read off unused.
    calls.applyReplica = async (req) => {
      const apply = await readApply(req, MAX_ARGS_BYTES);
      try {
        const x = checkArgs('applyReplica', apply.args);
        return await replica.applyReplica({ ...(x as object), body: apply.body } as never);
      } finally {
        // Also after a refusal: the answer must not wait behind bytes nobody reads.
        await apply.drain().catch(() => undefined);
      }
    };
  }

  const server = createServer((req, res) => {
    void serve(req, res).catch((err) => sendError(res, err));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Liveness for container healthchecks and load balancers: says nothing of the data, so no secret.
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      return void res.end('ok');
    }
    if (opts.secret !== undefined && !secretMatches(header(req, SECRET_HEADER), opts.secret))
      return refuse(res, 403, 'AccessDenied', 'missing or wrong cluster secret');
    const method = /^\/v1\/(\w+)$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'POST' || !method)
      return sendError(res, Object.assign(new Error('no such call'), { code: 'InvalidArgument' }), 404);
    opts.gate?.(method);
    if (method === 'stream') return streamHandle(req, res);
    const handler = calls[method];
    if (!handler)
      return sendError(
        res,
        Object.assign(new Error(`no such call ${method}`), { code: 'InvalidArgument' }),
        404,
      );
    if (method === 'applyReplica' || method === 'applyUpload') return reply(res, await handler(req, {}));
    const argsHeader = req.headers['x-quire-args'];
    const args = checkArgs(
      method,
      typeof argsHeader === 'string' ? Buffer.from(argsHeader, 'base64url').toString() : await readBody(req),
    );
    reply(res, await handler(req, args));
  }

  function reply(res: ServerResponse, result: unknown): void {
    if (result instanceof Inline) {
      const body = frameInline(result.record, result.bytes);
      res.writeHead(200, { 'content-type': INLINE_TYPE, 'content-length': body.length });
      return void res.end(body);
    }
    const body = toWire(result);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function streamHandle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = checkArgs('stream', await readBody(req));
    const h = touch(x.handleId as string);
    if (!h) return sendError(res, Object.assign(new Error('read handle expired'), { code: 'NoSuchKey' }));
    const it = h.stream((x.range as ByteRangeInclusive | null) ?? undefined)[Symbol.asyncIterator]();
    // The first chunk is awaited before the headers, so an early failure is a proper error reply.
    let next = await it.next();
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    try {
      while (!next.done) {
        if (!res.write(next.value)) await new Promise((r) => res.once('drain', r));
        next = await it.next();
      }
      res.end();
    } catch {
      // Mid-stream failure (e.g. a checksum mismatch): cut the response so the client sees an error.
      res.destroy();
    }
  }

  server.on('close', () => {
    for (const id of [...handles.keys()]) drop(id);
  });
  return server;
}

/** An answer carrying bytes after its JSON head (http-wire.ts INLINE_TYPE): a version's record, a scanStates page. */
class Inline {
  constructor(
    readonly record: unknown,
    readonly bytes: Buffer,
  ) {}
}

/** An answer outside the storage error codes (the caller is refused before any call runs). */
function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function invalid(message: string): Error {
  return Object.assign(new Error(message), { code: 'InvalidArgument' });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_ARGS_BYTES) throw invalid('arguments too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString();
}

/** Parses and checks a call's arguments; a malformed call is refused before the node sees it. */
function checkArgs(method: string, text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = text === '' ? {} : fromWire(text);
  } catch {
    throw invalid('arguments are not JSON');
  }
  const parsed = STORAGE_CALL_SCHEMAS[method]?.safeParse(raw);
  if (!parsed?.success)
    throw invalid(`invalid arguments for ${method}: ${parsed?.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

function sendError(res: ServerResponse, err: unknown, status?: number): void {
  const wire = errorToWire(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(wire);
  // The connection stays open: the caller may still be sending the body of a refused put or part (a gateway
  // relaying its client); Node discards the rest, and the caller reads this answer instead of a broken pipe.
  res.writeHead(status ?? STATUS[wire.code] ?? 400, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
