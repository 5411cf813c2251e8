// Hand-signed raw HTTP for requests the SDK would refuse to make: bad XML, tampered signatures,
// raw paths such as `/b/../x`, truncated bodies and huge headers.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Credentials, Target } from './target.ts';

// The Checksum shape @smithy/signature-v4 expects, backed by node:crypto.
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const s = this.secret;
    const key =
      typeof s === 'string'
        ? s
        : ArrayBuffer.isView(s)
          ? Buffer.from(s.buffer, s.byteOffset, s.byteLength)
          : Buffer.from(s);
    return createHmac('sha256', key);
  }
  update(data: Uint8Array | string): void {
    this.hash.update(typeof data === 'string' ? Buffer.from(data) : data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export function signerFor(target: Target, creds: Credentials = target.creds): SignatureV4 {
  return new SignatureV4({
    credentials: creds,
    region: target.region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
}

export interface RawRequest {
  method: string;
  /** Raw request path, already percent-encoded as it goes on the wire (no query). */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SignedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Signs with SigV4 in the Authorization header; the payload hash is the body's real SHA-256. */
export async function signRaw(target: Target, req: RawRequest, creds?: Credentials): Promise<SignedRequest> {
  const body = req.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    host: `${target.host}:${target.port}`,
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    ...(req.headers ?? {}),
  };
  const signed = await signerFor(target, creds).sign({
    method: req.method,
    protocol: 'http:',
    hostname: target.host,
    port: target.port,
    path: req.path,
    query: req.query ?? {},
    headers,
    body,
  });
  return {
    method: req.method,
    path: req.path,
    query: req.query ?? {},
    headers: signed.headers,
    body: req.body,
  };
}

/** A presigned URL path+query for `method` on `path`, valid `expiresIn` seconds from `signingDate`. */
export async function presignRaw(
  target: Target,
  method: string,
  path: string,
  expiresIn: number,
  signingDate: Date = new Date(),
  query: Record<string, string> = {},
): Promise<string> {
  const presigned = await signerFor(target).presign(
    {
      method,
      protocol: 'http:',
      hostname: target.host,
      port: target.port,
      path,
      query,
      // S3 presigned URLs sign UNSIGNED-PAYLOAD; the header only feeds the payload hash and is not sent.
      headers: { host: `${target.host}:${target.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    {
      expiresIn,
      signingDate,
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
    },
  );
  return `${path}?${encodeQuery(presigned.query as Record<string, string>)}`;
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join('&');
}

export function fullPath(req: { path: string; query?: Record<string, string> }): string {
  const q = req.query && Object.keys(req.query).length > 0 ? `?${encodeQuery(req.query)}` : '';
  return req.path + q;
}

/** Sends exactly these bytes' worth of request (no path normalisation) and collects the answer. */
export function sendRaw(
  target: Target,
  req: SignedRequest | RawRequest,
  timeoutMs = 15_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: fullPath(req),
        headers: { ...(req.headers ?? {}), 'content-length': String(req.body?.length ?? 0) },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Signs then sends. */
export async function signedRaw(target: Target, req: RawRequest, creds?: Credentials): Promise<RawResponse> {
  return sendRaw(target, await signRaw(target, req, creds));
}

/** The <Code> of an S3 error body, or '' when there is none. */
export function errorCode(body: Buffer): string {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1] ?? '';
}

/** Encodes an S3 key for a path: every byte outside the unreserved set and `/` is percent-encoded. */
export function keyPath(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(rfc3986).join('/')}`;
}
