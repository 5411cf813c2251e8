// A lean S3 client for the benchmark: undici Pool + the low-level dispatch API (no response
// streams, no header objects built by us), SigV4 header auth signed per request, bodies sent
// as UNSIGNED-PAYLOAD from caller-owned reusable buffers. Response bodies are counted and
// dropped unless the caller needs them (list pages, error replies).
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Pool } from 'undici';
import { canonicalQuery, EMPTY_SHA256, encodeKeyPath, SigV4Signer, UNSIGNED_PAYLOAD } from './sigv4.ts';

export interface S3Endpoint {
  /** e.g. http://127.0.0.1:9000 (path-style addressing). */
  readonly url: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region?: string;
}

export interface ClientOptions {
  /** Sockets in the pool; the benchmark runs at most this many requests at once. */
  readonly connections: number;
  /** Wall clock for x-amz-date; injectable so signing is testable. */
  readonly clock?: () => number;
}

export interface Reply {
  readonly status: number;
  /** Response body bytes received. */
  readonly bytes: number;
  /** The body, kept only for list pages and for replies that are not 2xx (first 4 KiB). */
  readonly body: Buffer | null;
}

export interface ListQuery {
  readonly prefix?: string;
  readonly startAfter?: string;
  readonly continuationToken?: string;
  readonly maxKeys?: number;
}

export interface ListPage {
  readonly status: number;
  readonly keys: number;
  readonly truncated: boolean;
  readonly nextToken: string | null;
  readonly body: Buffer;
}

const ERROR_BODY_BYTES = 4096;

export class BenchS3Client {
  readonly #pool: Pool;
  readonly #signer: SigV4Signer;
  readonly #host: string;
  readonly #clock: () => number;

  constructor(endpoint: S3Endpoint, opts: ClientOptions) {
    const url = new URL(endpoint.url);
    this.#host = url.host;
    this.#pool = new Pool(url.origin, {
      connections: opts.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
    });
    this.#signer = new SigV4Signer({
      accessKey: endpoint.accessKey,
      secretKey: endpoint.secretKey,
      region: endpoint.region ?? 'us-east-1',
    });
    this.#clock = opts.clock ?? Date.now;
  }

  createBucket(bucket: string): Promise<Reply> {
    return this.#send('PUT', encodeKeyPath(bucket), '', null, 0, false);
  }

  /** PUT of a whole in-memory body (the buffer must not change until the promise settles). */
  put(bucket: string, key: string, body: Buffer): Promise<Reply> {
    return this.#send('PUT', encodeKeyPath(bucket, key), '', body, body.length, false);
  }

  /** PUT of `bytes` bytes streamed as repeats of `chunk` (a large object without a large buffer). */
  putRepeated(bucket: string, key: string, chunk: Buffer, bytes: number): Promise<Reply> {
    // undici's dispatch documents Iterable bodies (written chunk by chunk with backpressure, no stream
    // machinery: measured ~10 % faster than Readable.from) though its typings omit them.
    const body = repeatChunks(chunk, bytes) as unknown as Readable;
    return this.#send('PUT', encodeKeyPath(bucket, key), '', body, bytes, false);
  }

  /** `keepBody`: return the body too (for checks), not only its size. */
  get(bucket: string, key: string, keepBody = false): Promise<Reply> {
    return this.#send('GET', encodeKeyPath(bucket, key), '', null, 0, keepBody);
  }

  delete(bucket: string, key: string): Promise<Reply> {
    return this.#send('DELETE', encodeKeyPath(bucket, key), '', null, 0, false);
  }

  async listPage(bucket: string, q: ListQuery): Promise<ListPage> {
    const params: Record<string, string> = { 'list-type': '2', 'max-keys': String(q.maxKeys ?? 1000) };
    if (q.prefix !== undefined) params.prefix = q.prefix;
    if (q.startAfter !== undefined) params['start-after'] = q.startAfter;
    if (q.continuationToken !== undefined) params['continuation-token'] = q.continuationToken;
    const reply = await this.#send('GET', encodeKeyPath(bucket), canonicalQuery(params), null, 0, true);
    return parseListPage(reply);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  #send(
    method: string,
    path: string,
    query: string,
    body: Buffer | Readable | null,
    bodyBytes: number,
    keepBody: boolean,
  ): Promise<Reply> {
    const payloadHash = body === null ? EMPTY_SHA256 : UNSIGNED_PAYLOAD;
    const sig = this.#signer.sign(
      { method, canonicalUri: path, canonicalQuery: query, host: this.#host, payloadHash },
      this.#clock(),
    );
    const headers = [
      'host',
      this.#host,
      'x-amz-date',
      sig.amzDate,
      'x-amz-content-sha256',
      payloadHash,
      'authorization',
      sig.authorization,
    ];
    if (body !== null) headers.push('content-length', String(bodyBytes));
    return new Promise<Reply>((resolve, reject) => {
      this.#pool.dispatch(
        { method, path: query === '' ? path : `${path}?${query}`, headers, body },
        new ReplyHandler(keepBody, resolve, reject),
      );
    });
  }
}

function* repeatChunks(chunk: Buffer, bytes: number): Generator<Buffer> {
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    yield sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent);
  }
}

/** Collects one response: status, byte count, and the body only when it is wanted. */
class ReplyHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #bytes = 0;
  #keep: boolean;
  #chunks: Buffer[] = [];

  constructor(
    keepBody: boolean,
    private readonly resolve: (r: Reply) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.#keep = keepBody;
  }

  onRequestStart(): void {
    // Nothing to set up; a retried request (idempotent GET) starts over.
    this.#bytes = 0;
    this.#chunks = [];
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number): void {
    this.#status = statusCode;
    if (statusCode < 200 || statusCode > 299) this.#keep = true;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#keep && (this.#status < 300 || this.#bytes <= ERROR_BODY_BYTES)) this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.#keep ? Buffer.concat(this.#chunks) : null;
    this.resolve({ status: this.#status, bytes: this.#bytes, body });
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    this.reject(error);
  }
}

const KEY_OPEN = Buffer.from('<Key>');
const TRUNCATED = Buffer.from('<IsTruncated>true</IsTruncated>');
const TOKEN_OPEN = Buffer.from('<NextContinuationToken>');
const TOKEN_CLOSE = Buffer.from('</NextContinuationToken>');

/** Reads only what the benchmark needs from a ListObjectsV2 page, straight from the bytes. */
export function parseListPage(reply: Reply): ListPage {
  const body = reply.body ?? Buffer.alloc(0);
  let keys = 0;
  for (let at = body.indexOf(KEY_OPEN); at !== -1; at = body.indexOf(KEY_OPEN, at + KEY_OPEN.length)) keys++;
  let nextToken: string | null = null;
  const open = body.indexOf(TOKEN_OPEN);
  if (open !== -1) {
    const close = body.indexOf(TOKEN_CLOSE, open);
    if (close !== -1) nextToken = unescapeXml(body.toString('utf8', open + TOKEN_OPEN.length, close));
  }
  return { status: reply.status, keys, truncated: body.includes(TRUNCATED), nextToken, body };
}

function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_m, d: string) => String.fromCodePoint(Number.parseInt(d, 10)))
    .replace(/&amp;/g, '&');
}
