// Signature version 2 (`Authorization: AWS AK:sig`, and presigned `?AWSAccessKeyId=&Expires=&Signature=`),
// for old clients, the aws CLI v1's default `s3 presign` and `s3cmd signurl`. Verified with the care SigV4
// gets: HMAC-SHA1 over the method, Content-MD5, Content-Type, the date (Expires for a presigned URL), every
// x-amz-* header and the resource with the sub-resources V2 signs; constant-time comparison; clock skew and
// expiry checked. The body is not signed by V2 (Content-MD5, when sent, is, and is checked against the body).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors.ts';
import type { QueryPairs } from '../s3/query.ts';
import type { HeaderMap } from './canonical.ts';
import { headerString } from './payload.ts';
import type { CredentialLookup, VerifiedRequest } from './types.ts';

/** The query parameters V2 signs as part of the resource (the set AWS's SDKs sign), sorted when signed. */
const SIGNED_SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'delete',
  'inventory',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'partNumber',
  'policy',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'select',
  'select-type',
  'storageClass',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

export interface SigV2Request {
  method: string;
  /** Raw path as sent. */
  path: string;
  /** Decoded query pairs in wire order. */
  query: QueryPairs;
  headers: HeaderMap;
  /** The bucket named by the Host header (virtual-hosted style), which V2 signs as a leading `/bucket`. */
  hostBucket: string | undefined;
  lookup: CredentialLookup;
  nowMs: number;
  maxSkewMs: number;
}

const AUTH_PREFIX = 'AWS ';

export function isSigV2Authorization(authorization: string): boolean {
  return authorization.startsWith(AUTH_PREFIX);
}

export function isSigV2Query(params: Map<string, string>): boolean {
  return params.has('Signature') || params.has('AWSAccessKeyId');
}

/** `Authorization: AWS AccessKeyId:Base64(HMAC-SHA1)` */
export function verifySigV2Header(req: SigV2Request, authorization: string): VerifiedRequest {
  const value = authorization.slice(AUTH_PREFIX.length);
  const colon = value.lastIndexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature',
      {
        ArgumentName: 'Authorization',
        ArgumentValue: authorization,
      },
    );
  }
  const accessKeyId = value.slice(0, colon);
  const signature = value.slice(colon + 1);
  const amzDate = headerString(req.headers, 'x-amz-date');
  const date = amzDate ?? headerString(req.headers, 'date');
  const timeMs = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(timeMs))
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(req.nowMs - timeMs) > req.maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: date ?? '',
      ServerTime: new Date(req.nowMs).toISOString(),
      MaxAllowedSkewMilliseconds: String(req.maxSkewMs),
    });
  }
  // With x-amz-date, the Date line is empty: the time is signed among the x-amz-* headers.
  check(req, accessKeyId, signature, amzDate !== undefined ? '' : (date ?? ''));
  return { accessKeyId, payload: { kind: 'unsigned' } };
}

/** `?AWSAccessKeyId=...&Expires=<epoch seconds>&Signature=...` */
export function verifySigV2Query(req: SigV2Request, params: Map<string, string>): VerifiedRequest {
  const accessKeyId = params.get('AWSAccessKeyId');
  const signature = params.get('Signature');
  const expires = params.get('Expires');
  if (accessKeyId === undefined || signature === undefined || expires === undefined) {
    throw new S3Error(
      'AccessDenied',
      'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
    );
  }
  if (!/^\d{1,12}$/.test(expires))
    throw new S3Error('AccessDenied', 'Invalid date (should be seconds since epoch)');
  const expiresMs = Number(expires) * 1000;
  if (req.nowMs > expiresMs) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      Expires: new Date(expiresMs).toISOString(),
      ServerTime: new Date(req.nowMs).toISOString(),
    });
  }
  check(req, accessKeyId, signature, expires);
  return { accessKeyId, payload: { kind: 'unsigned' } };
}

function check(req: SigV2Request, accessKeyId: string, signature: string, dateLine: string): void {
  const creds = req.lookup(accessKeyId);
  if (!creds) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  const toSign = stringToSign(req, dateLine);
  const computed = createHmac('sha1', creds.secretAccessKey).update(toSign, 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  // Re-encoding catches signatures that are not canonical base64 (trailing junk decodes silently).
  const wellFormed = given.toString('base64') === signature;
  if (!wellFormed || given.length !== computed.length || !timingSafeEqual(given, computed)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: accessKeyId,
      StringToSign: toSign,
      SignatureProvided: signature,
    });
  }
}

export function stringToSign(req: SigV2Request, dateLine: string): string {
  const h = req.headers;
  return [
    req.method.toUpperCase(),
    headerString(h, 'content-md5') ?? '',
    headerString(h, 'content-type') ?? '',
    dateLine,
    amzHeaders(h) + canonicalResource(req),
  ].join('\n');
}

/** Every x-amz-* header as `name:value\n`, names lower-case and sorted, values trimmed and unfolded. */
function amzHeaders(headers: HeaderMap): string {
  const names = Object.keys(headers)
    .filter((n) => n.startsWith('x-amz-') && headers[n] !== undefined)
    .sort();
  let out = '';
  for (const name of names) {
    const raw = headers[name];
    const values = Array.isArray(raw) ? raw : [raw ?? ''];
    out += `${name}:${values.map((v) => v.replace(/\s*\r?\n\s*/g, ' ').trim()).join(',')}\n`;
  }
  return out;
}

/** `/bucket` for a virtual-hosted request, the path as sent, then `?` and the signed sub-resources. */
function canonicalResource(req: SigV2Request): string {
  const path = req.hostBucket === undefined ? req.path : `/${req.hostBucket}${req.path}`;
  const signed = req.query
    .filter(([name]) => SIGNED_SUBRESOURCES.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`));
  return signed.length === 0 ? path : `${path}?${signed.join('&')}`;
}
