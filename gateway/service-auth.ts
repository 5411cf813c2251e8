// The bearer token that may guard /metrics (--metrics-token). Metrics name buckets' traffic and volumes'
// fill; an operator exposing the S3 port may not want to expose them too.
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** True when an `Authorization: Bearer <token>` header carries `token`; compared in constant time. */
export function bearerTokenMatches(authorization: string | undefined, token: string): boolean {
  const given = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  if (given === undefined) return false;
  // Equal-length digests: the comparison time says nothing about the token's length or prefix.
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** True for an Authorization header meant for the service endpoints rather than SigV4. */
export function isBearer(authorization: string | undefined): boolean {
  return authorization !== undefined && /^Bearer(?:[ \t]|$)/i.test(authorization);
}
