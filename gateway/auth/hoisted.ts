// Headers a presigned URL carries in its query. SDK presigners move ("hoist") x-amz-* headers such as
// x-amz-meta-*, x-amz-checksum-* or x-amz-acl into the signed query, so the URL works without extra headers;
// S3 applies them as if they were headers. They are signed (the whole query is), so they may take effect.
import { S3Error } from '../errors.ts';
import { headerWireValue } from '../s3/headers.ts';
import type { HeaderMap } from './canonical.ts';

/** Query parameters of SigV4 itself: they authenticate the request and are never headers. */
const SIGV4_PARAMS = new Set([
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
  'x-amz-security-token',
  'x-amz-content-sha256',
]);

/**
 * The x-amz-* headers a presigned request carries in its query (lower-case names), or undefined when it
 * carries none or is not presigned. A name also sent as a real header is InvalidRequest: which one was meant?
 */
export function hoistedHeaders(
  query: ReadonlyMap<string, string>,
  headers: HeaderMap,
): Record<string, string> | undefined {
  if (!query.has('X-Amz-Signature')) return undefined;
  let hoisted: Record<string, string> | undefined;
  for (const [rawName, value] of query) {
    const name = rawName.toLowerCase();
    if (!name.startsWith('x-amz-') || SIGV4_PARAMS.has(name)) continue;
    if (headers[name] !== undefined) {
      throw new S3Error('InvalidRequest', `${name} is given both as a header and as a query parameter.`);
    }
    // As a header would carry it: its UTF-8 bytes, one latin1 char each; never a CR or LF.
    const wire = headerWireValue(value);
    if (wire === undefined) {
      throw new S3Error('InvalidArgument', `The value of ${name} cannot be sent as an HTTP header value.`, {
        ArgumentName: name,
        ArgumentValue: value.slice(0, 256),
      });
    }
    hoisted ??= {};
    hoisted[name] = wire;
  }
  return hoisted;
}
