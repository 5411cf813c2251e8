// SigV4 verification of a request's head: Authorization header or presigned query. Produces the
// VerifiedRequest the handlers require; the body is verified later by decodeBody (auth/body.ts).
import { S3Error } from '../errors.ts';
import { decodeQuery, firstValues, type QueryPairs } from '../s3/query.ts';
import { splitTarget } from '../s3/target.ts';
import { canonicalRequest, type HeaderMap, signatureHex, stringToSign } from './canonical.ts';
import { signaturesEqual, signingKey } from './crypto.ts';
import {
  formatAmzDate,
  parseAmzDate,
  parseAuthorizationHeader,
  parsePresignQuery,
  type SignatureParams,
} from './parse.ts';
import {
  decodedContentLength,
  headerString,
  isStreaming,
  parsePayloadHash,
  trailerChecksum,
  UNSIGNED_PAYLOAD,
} from './payload.ts';
import {
  isSigV2Authorization,
  isSigV2Query,
  type SigV2Request,
  verifySigV2Header,
  verifySigV2Query,
} from './sigv2.ts';
import type { CredentialLookup, RawRequest, SignedTarget, VerifiedRequest } from './types.ts';
import { canonicalQuery, canonicalUriCandidates } from './uri.ts';

export interface VerifyOptions {
  /** The region requests must be signed for; any region is accepted when absent. */
  region?: string;
  /** Allowed clock difference between client and server (AWS: 15 minutes). */
  maxSkewMs?: number;
  /** Accept signature version 2 (default true; `--no-sigv2` turns it off). */
  sigV2?: boolean;
  /** The bucket named by the Host header (virtual-hosted style), which a V2 signature covers. */
  hostBucket?: () => string | undefined;
}

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

export function verifyRequest(
  req: RawRequest,
  lookup: CredentialLookup,
  nowMs: number,
  opts: VerifyOptions = {},
): VerifiedRequest {
  const { rawPath: path, params: query } = req.parsed ?? readTarget(req.rawTarget);
  const params = firstValues(query);
  const authorization = headerString(req.headers, 'authorization');
  const presigned =
    params.has('X-Amz-Signature') || params.has('X-Amz-Algorithm') || params.has('X-Amz-Credential');
  if (authorization !== undefined && presigned) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  const ctx: SignContext = {
    req,
    path,
    query,
    lookup,
    nowMs,
    region: opts.region,
    maxSkewMs: opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS,
  };
  const v2Query = isSigV2Query(params);
  if (authorization !== undefined && v2Query) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (authorization !== undefined && isSigV2Authorization(authorization)) {
    return verifySigV2Header(sigV2Request(ctx, opts), authorization);
  }
  if (authorization !== undefined) return verifyHeaderAuth(ctx, authorization);
  if (presigned) return verifyPresigned(ctx, params);
  if (v2Query) return verifySigV2Query(sigV2Request(ctx, opts), params);
  // Unsigned: anonymous. Authorization allows it only where a policy or an ACL grants it to everyone.
  return ANONYMOUS;
}

const ANONYMOUS: VerifiedRequest = Object.freeze({
  accessKeyId: undefined,
  payload: { kind: 'unsigned' as const },
});

/** The V2 verifier's view of the request; V2 itself refused when turned off, with AWS's answer for it. */
function sigV2Request(ctx: SignContext, opts: VerifyOptions): SigV2Request {
  if (opts.sigV2 === false) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  return {
    method: ctx.req.method,
    path: ctx.path,
    query: ctx.query,
    headers: ctx.req.headers,
    hostBucket: opts.hostBucket?.(),
    lookup: ctx.lookup,
    nowMs: ctx.nowMs,
    maxSkewMs: ctx.maxSkewMs,
  };
}

function readTarget(rawTarget: string): SignedTarget {
  const { rawPath, rawQuery } = splitTarget(rawTarget);
  return { rawPath, params: decodeQuery(rawQuery) };
}

interface SignContext {
  req: RawRequest;
  path: string;
  query: QueryPairs;
  lookup: CredentialLookup;
  nowMs: number;
  region: string | undefined;
  maxSkewMs: number;
}

function verifyHeaderAuth(ctx: SignContext, authorization: string): VerifiedRequest {
  const sp = parseAuthorizationHeader(authorization);
  const headers = ctx.req.headers;
  const amzDate = requestAmzDate(headers, sp);
  if (amzDate.slice(0, 8) !== sp.credential.date) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'Invalid credential date. Date is not the same as X-Amz-Date.',
    );
  }
  const timeMs = parseAmzDate(amzDate);
  if (Math.abs(ctx.nowMs - timeMs) > ctx.maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: amzDate,
      ServerTime: new Date(ctx.nowMs).toISOString(),
      MaxAllowedSkewMilliseconds: String(ctx.maxSkewMs),
    });
  }
  const payloadHash = headerString(headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const payload = parsePayloadHash(payloadHash);
  const key = checkSignature(ctx, sp, amzDate, payloadHash, canonicalQuery(ctx.query));
  const streaming = isStreaming(payload);
  const decoded = streaming ? decodedContentLength(headers, payload) : undefined;
  const trailer = streaming ? trailerChecksum(headers) : undefined;
  return {
    accessKeyId: sp.credential.accessKeyId,
    payload,
    ...(decoded !== undefined ? { decodedContentLength: decoded } : {}),
    ...(trailer !== undefined ? { trailerChecksum: trailer } : {}),
    ...(payload.kind === 'streaming-signed'
      ? { streaming: { signingKey: key, scope: sp.credential.scope, amzDate, seedSignature: sp.signature } }
      : {}),
  };
}

/** The request time: x-amz-date, or the Date header when there is none (it must be signed either way). */
function requestAmzDate(headers: HeaderMap, sp: SignatureParams): string {
  const amz = headerString(headers, 'x-amz-date');
  if (amz !== undefined) {
    if (Number.isNaN(parseAmzDate(amz)) || !sp.signedHeaders.includes('x-amz-date')) throw dateRequired();
    return amz;
  }
  const date = headerString(headers, 'date');
  const ms = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(ms) || !sp.signedHeaders.includes('date')) throw dateRequired();
  return formatAmzDate(ms);
}

function dateRequired(): S3Error {
  return new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

function verifyPresigned(ctx: SignContext, params: Map<string, string>): VerifiedRequest {
  const pp = parsePresignQuery(params);
  const timeMs = parseAmzDate(pp.amzDate);
  if (Number.isNaN(timeMs)) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`,
    );
  }
  if (pp.amzDate.slice(0, 8) !== pp.credential.date) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'Invalid credential date. Date is not the same as X-Amz-Date.',
    );
  }
  if (timeMs - ctx.nowMs > ctx.maxSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet');
  if (ctx.nowMs > timeMs + pp.expiresSec * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': String(pp.expiresSec),
      Expires: new Date(timeMs + pp.expiresSec * 1000).toISOString(),
      ServerTime: new Date(ctx.nowMs).toISOString(),
    });
  }
  // S3 presigned URLs sign UNSIGNED-PAYLOAD unless the URL itself pins a payload hash.
  const pinned = [...params].find(([name]) => name.toLowerCase() === 'x-amz-content-sha256')?.[1];
  const payloadHash = pinned ?? UNSIGNED_PAYLOAD;
  const payload = parsePayloadHash(payloadHash);
  if (payload.kind !== 'unsigned' && payload.kind !== 'sha256') {
    throw new S3Error('InvalidRequest', 'Presigned requests cannot use streaming payloads.');
  }
  checkSignature(
    ctx,
    pp,
    pp.amzDate,
    payloadHash,
    canonicalQuery(ctx.query, (name) => name === 'X-Amz-Signature'),
  );
  return { accessKeyId: pp.credential.accessKeyId, payload };
}

/** Computes the signature for every acceptable canonical URI; returns the signing key on a match. */
function checkSignature(
  ctx: SignContext,
  sp: SignatureParams,
  amzDate: string,
  payloadHash: string,
  query: string,
): Buffer {
  const { credential } = sp;
  if (ctx.region !== undefined && credential.region !== ctx.region) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${credential.region}' is wrong; expecting '${ctx.region}'`,
      { Region: ctx.region },
    );
  }
  if (!sp.signedHeaders.includes('host')) {
    throw new S3Error('AccessDenied', 'The host header must be signed.');
  }
  requireSignedAmzHeaders(ctx.req.headers, sp.signedHeaders);
  const creds = ctx.lookup(credential.accessKeyId);
  if (!creds) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
  const key = signingKey(creds.secretAccessKey, credential.date, credential.region, credential.service);
  let first: { canonical: string; toSign: string } | undefined;
  for (const canonicalUri of canonicalUriCandidates(ctx.path)) {
    const canonical = canonicalRequest({
      method: ctx.req.method.toUpperCase(),
      canonicalUri,
      canonicalQuery: query,
      signedHeaders: sp.signedHeaders,
      headers: ctx.req.headers,
      payloadHash,
    });
    const toSign = stringToSign(amzDate, credential.scope, canonical);
    if (signaturesEqual(signatureHex(key, toSign), sp.signature)) return key;
    first ??= { canonical, toSign };
  }
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    AWSAccessKeyId: credential.accessKeyId,
    StringToSign: first?.toSign ?? '',
    SignatureProvided: sp.signature,
    CanonicalRequest: first?.canonical ?? '',
  });
}

/**
 * A request does only what its signer signed: every x-amz-* header present must be in SignedHeaders (or
 * X-Amz-SignedHeaders), or an unsigned x-amz-copy-source could turn a presigned PUT into a copy of another
 * object, and unsigned x-amz-meta-* would be stored. x-amz-content-sha256 is exempt, as AWS exempts it:
 * with header auth its value is the payload-hash line of the canonical request, and a presigned request
 * ignores the header (its payload hash comes from the URL).
 */
function requireSignedAmzHeaders(headers: HeaderMap, signed: readonly string[]): void {
  const unsigned: string[] = [];
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('x-amz-') || name === 'x-amz-content-sha256' || headers[name] === undefined)
      continue;
    if (!signed.includes(name)) unsigned.push(name);
  }
  if (unsigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: unsigned.join(', '),
    });
  }
}
