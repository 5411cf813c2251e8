// AWS Signature Version 4 (header auth) for the benchmark client: real HMAC signing per request,
// with everything that does not change per request computed once (scope, signing key per day,
// the x-amz-date string per second, the signed-headers list).
import { createHash, createHmac } from 'node:crypto';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const SIGNED_HEADERS = 'host;x-amz-content-sha256;x-amz-date';

export interface SignerOptions {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region?: string;
  readonly service?: string;
}

export interface Signature {
  readonly authorization: string;
  /** The x-amz-date header value the signature covers (YYYYMMDDTHHMMSSZ). */
  readonly amzDate: string;
}

/** What one request contributes to the canonical request. */
export interface SignInput {
  readonly method: string;
  /** Already URI-encoded path, as sent on the wire (see `encodeKeyPath`). */
  readonly canonicalUri: string;
  /** Already canonical: sorted by name, names and values encoded (see `canonicalQuery`). */
  readonly canonicalQuery: string;
  readonly host: string;
  readonly payloadHash: string;
}

export class SigV4Signer {
  readonly #accessKey: string;
  readonly #secretKey: string;
  readonly #region: string;
  readonly #service: string;
  #day = '';
  #scope = '';
  #credentialPrefix = '';
  #signingKey: Buffer = Buffer.alloc(0);
  #second = -1;
  #amzDate = '';

  constructor(opts: SignerOptions) {
    this.#accessKey = opts.accessKey;
    this.#secretKey = opts.secretKey;
    this.#region = opts.region ?? 'us-east-1';
    this.#service = opts.service ?? 's3';
  }

  /** Signs one request at wall-clock time `nowMs`. */
  sign(input: SignInput, nowMs: number): Signature {
    this.#advanceClock(nowMs);
    const canonicalRequest =
      `${input.method}\n${input.canonicalUri}\n${input.canonicalQuery}\n` +
      `host:${input.host}\nx-amz-content-sha256:${input.payloadHash}\nx-amz-date:${this.#amzDate}\n\n` +
      `${SIGNED_HEADERS}\n${input.payloadHash}`;
    const requestHash = createHash('sha256').update(canonicalRequest).digest('hex');
    const stringToSign = `AWS4-HMAC-SHA256\n${this.#amzDate}\n${this.#scope}\n${requestHash}`;
    const signature = createHmac('sha256', this.#signingKey).update(stringToSign).digest('hex');
    return {
      authorization: `${this.#credentialPrefix}${signature}`,
      amzDate: this.#amzDate,
    };
  }

  #advanceClock(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === this.#second) return;
    this.#second = second;
    // toISOString: 2024-01-02T03:04:05.678Z -> 20240102T030405Z
    const iso = new Date(second * 1000).toISOString();
    this.#amzDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    const day = this.#amzDate.slice(0, 8);
    if (day !== this.#day) this.#deriveDay(day);
  }

  // The signing key depends only on the secret, the day, the region and the service: derive it once a day.
  #deriveDay(day: string): void {
    this.#day = day;
    this.#scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    this.#credentialPrefix =
      `AWS4-HMAC-SHA256 Credential=${this.#accessKey}/${this.#scope}, ` +
      `SignedHeaders=${SIGNED_HEADERS}, Signature=`;
    const kDate = hmac(`AWS4${this.#secretKey}`, day);
    const kRegion = hmac(kDate, this.#region);
    const kService = hmac(kRegion, this.#service);
    this.#signingKey = hmac(kService, 'aws4_request');
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX (upper hex). */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `/bucket/key` with each path segment encoded and the slashes kept (S3 does not double-encode). */
export function encodeKeyPath(bucket: string, key?: string): string {
  if (key === undefined) return `/${uriEncode(bucket)}`;
  return `/${uriEncode(bucket)}/${key.split('/').map(uriEncode).join('/')}`;
}

/** Canonical query string: encoded names and values, sorted by encoded name (then value). */
export function canonicalQuery(params: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(params).map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}
