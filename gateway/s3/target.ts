// Bucket, key and query from the RAW request target and Host header. Never the WHATWG URL parser:
// it resolves `/a/../b` and `%2e%2e`, which would silently address a different S3 key.

import { S3Error } from '../errors.ts';
import { percentDecode } from './percent.ts';
import { decodeQuery, firstValues, type QueryPairs } from './query.ts';

export interface ParsedTarget {
  bucket?: string;
  key?: string;
  /** Decoded query parameters; the first occurrence of a name wins; `?uploads` maps to ''. */
  query: Map<string, string>;
  /** Every parameter in wire order, decoded once: what SigV4 verification signs over. */
  params: QueryPairs;
  /** Path exactly as sent (SigV4 signs it as is). */
  rawPath: string;
  rawQuery: string;
}

export interface TargetOptions {
  /** Domains under which `bucket.<domain>` Host names select a bucket (virtual-hosted style). */
  baseDomains: string[];
}

/** Query parameters decoded as forms are (`+` is a space), the way S3 reads `prefix=a+b`. */
export function parseQuery(rawQuery: string): Map<string, string> {
  return firstValues(decodeQuery(rawQuery));
}

/** The bucket named by a virtual-hosted Host header, or undefined for path style. Port is ignored. */
export function bucketFromHost(host: string | undefined, baseDomains: readonly string[]): string | undefined {
  if (host === undefined || host === '' || host.startsWith('[')) return undefined;
  const name = host.replace(/:\d*$/, '').toLowerCase().replace(/\.$/, '');
  for (const domain of baseDomains) {
    const base = domain.toLowerCase();
    if (name.length > base.length + 1 && name.endsWith(`.${base}`)) {
      return name.slice(0, name.length - base.length - 1);
    }
  }
  return undefined;
}

/** Splits an origin-form target (or the path of an absolute-form one) into raw path and raw query. */
export function splitTarget(rawTarget: string): { rawPath: string; rawQuery: string; authority?: string } {
  let target = rawTarget;
  let authority: string | undefined;
  const scheme = target.startsWith('/') ? null : /^https?:\/\/([^/?#]*)/i.exec(target);
  if (scheme) {
    authority = scheme[1];
    target = target.slice(scheme[0].length) || '/';
  }
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  if (!target.startsWith('/')) throw new S3Error('InvalidURI');
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  return authority === undefined ? { rawPath, rawQuery } : { rawPath, rawQuery, authority };
}

export function parseTarget(rawTarget: string, host: string | undefined, opts: TargetOptions): ParsedTarget {
  const { rawPath, rawQuery, authority } = splitTarget(rawTarget);
  const params = decodeQuery(rawQuery);
  const hostBucket = bucketFromHost(host ?? authority, opts.baseDomains);
  const result: ParsedTarget = { query: firstValues(params), params, rawPath, rawQuery };
  if (hostBucket !== undefined) {
    result.bucket = hostBucket;
    const key = percentDecode(rawPath.slice(1), false);
    if (key !== '') result.key = key;
    return result;
  }
  if (rawPath === '/') return result;
  const slash = rawPath.indexOf('/', 1);
  const rawBucket = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
  result.bucket = percentDecode(rawBucket, false);
  if (result.bucket === '') throw new S3Error('InvalidBucketName', undefined, { BucketName: '' });
  if (slash >= 0) {
    const key = percentDecode(rawPath.slice(slash + 1), false);
    if (key !== '') result.key = key;
  }
  return result;
}
