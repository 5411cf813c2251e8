// Small request bodies (XML documents) read whole through the verifying decoder, with a hard cap so a
// hostile client cannot fill memory.
import { decodeBody } from '../auth/body.ts';
import type { VerifiedRequest } from '../auth/types.ts';
import { S3Error } from '../errors.ts';
import { acceptBody } from '../handlers/access.ts';
import type { GatewayDeps } from '../handlers/deps.ts';
import { expectedDigests } from './digests.ts';
import type { Exchange } from './respond.ts';

export async function readVerifiedSmallBody(
  _deps: GatewayDeps,
  ex: Exchange,
  verified: VerifiedRequest,
  maxBytes: number,
): Promise<Buffer> {
  const declared = ex.req.headers['content-length'];
  const wireLength = declared === undefined ? undefined : Number(declared);
  if (wireLength !== undefined && !(wireLength >= 0))
    throw new S3Error('InvalidArgument', 'Content-Length is not a number');
  if ((verified.decodedContentLength ?? wireLength ?? 0) > maxBytes)
    throw new S3Error('MaxMessageLengthExceeded');
  const body = decodeBody(acceptBody(ex) as AsyncIterable<Buffer>, verified, {
    contentLength: wireLength,
    expected: expectedDigests(ex.req.headers),
    maxBytes,
  });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    chunks.push(chunk);
  }
  await body.digests;
  return Buffer.concat(chunks, total);
}
