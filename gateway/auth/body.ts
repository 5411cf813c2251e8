// decodeBody: turns the raw request stream into the object's bytes, verifying as it goes. aws-chunked
// framing is removed and its signatures checked, MD5 (the ETag) and every requested checksum computed,
// and any mismatch thrown from the final next() — after the last data, before `done` — so the consumer
// (storage) aborts the write and nothing is stored.
import {
  type ChecksumAlgorithm,
  checksumHeaderName,
  type HashingPool,
  type HashName,
  isValidDigestBase64,
  openBodyHasher,
} from '../checksums/index.ts';
import { S3Error } from '../errors.ts';
import { AwsChunkedDecoder } from './chunked.ts';
import type { BodyDigests, DecodedBody, ExpectedDigests, VerifiedRequest } from './types.ts';

export type { BodyDigests, ChecksumAlgorithm, DecodedBody, ExpectedDigests };

export interface DecodeBodyOptions {
  /** Content-Length header (wire bytes). */
  contentLength: number | undefined;
  /** From headers; trailer checksums are added automatically. */
  expected: ExpectedDigests;
  /** x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm: computed even without a value to compare. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Most object bytes accepted (EntityTooLarge beyond). */
  maxBytes?: number;
  /** Large bodies are hashed off-thread when given. */
  hasher?: HashingPool;
}

interface Plan {
  /** Hashes to run: MD5, the requested checksums, SHA256 for a signed payload hash. */
  names: HashName[];
  /** Checksums the caller gets back in BodyDigests. */
  requested: Set<ChecksumAlgorithm>;
  streaming: boolean;
  expectedBytes: number | undefined;
}

export function decodeBody(
  source: AsyncIterable<Buffer>,
  verified: VerifiedRequest,
  opts: DecodeBodyOptions,
): DecodedBody {
  const plan = planBody(verified, opts);
  let resolve!: (d: BodyDigests) => void;
  let reject!: (e: unknown) => void;
  const digests = new Promise<BodyDigests>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A consumer that fails on the iterator may never await digests: do not let that become unhandled.
  digests.catch(() => {});
  let started = false;
  return {
    digests,
    [Symbol.asyncIterator]() {
      if (started) throw new Error('a request body can be iterated only once');
      started = true;
      return decode(source, verified, opts, plan, resolve, reject);
    },
  };
}

/** Checks everything knowable before the first byte, so a bad request is refused before its body is read. */
function planBody(verified: VerifiedRequest, opts: DecodeBodyOptions): Plan {
  const { expected } = opts;
  if (expected.contentMd5 !== undefined && !isValidDigestBase64('MD5', expected.contentMd5)) {
    throw new S3Error('InvalidDigest');
  }
  const requested = new Set<ChecksumAlgorithm>();
  for (const [algo, value] of Object.entries(expected.checksums ?? {}) as Array<
    [ChecksumAlgorithm, string | undefined]
  >) {
    if (value === undefined) continue;
    if (!isValidDigestBase64(algo, value)) {
      throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(algo)} header is invalid.`);
    }
    requested.add(algo);
  }
  if (opts.checksumAlgorithm) requested.add(opts.checksumAlgorithm);
  if (verified.trailerChecksum) requested.add(verified.trailerChecksum);
  const names: HashName[] = ['MD5', ...requested];
  if (verified.payload.kind === 'sha256' && !requested.has('SHA256')) names.push('SHA256');
  const streaming =
    verified.payload.kind === 'streaming-signed' || verified.payload.kind === 'streaming-unsigned-trailer';
  if (verified.payload.kind === 'streaming-signed' && !verified.streaming) {
    throw new S3Error('InternalError', 'streaming-signed request without its signing context');
  }
  const expectedBytes = streaming ? verified.decodedContentLength : opts.contentLength;
  if (opts.maxBytes !== undefined && expectedBytes !== undefined && expectedBytes > opts.maxBytes) {
    throw new S3Error('EntityTooLarge', undefined, {
      ProposedSize: String(expectedBytes),
      MaxSizeAllowed: String(opts.maxBytes),
    });
  }
  return { names, requested, streaming, expectedBytes };
}

async function* decode(
  source: AsyncIterable<Buffer>,
  verified: VerifiedRequest,
  opts: DecodeBodyOptions,
  plan: Plan,
  resolve: (d: BodyDigests) => void,
  reject: (e: unknown) => void,
): AsyncGenerator<Buffer, void, undefined> {
  const hasher = openBodyHasher(plan.names, { expectedBytes: plan.expectedBytes, pool: opts.hasher });
  const decoder = plan.streaming ? chunkedDecoder(verified, opts) : undefined;
  let wireBytes = 0;
  let bytes = 0;
  let settled = false;
  try {
    for await (const chunk of incomplete(source)) {
      wireBytes += chunk.length;
      if (opts.contentLength !== undefined && wireBytes > opts.contentLength) {
        throw new S3Error('InvalidRequest', 'The body is longer than its Content-Length.');
      }
      for (const piece of decoder ? decoder.push(chunk) : [chunk]) {
        bytes += piece.length;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) throw new S3Error('EntityTooLarge');
        const wait = hasher.update(piece);
        if (wait) await wait;
        yield piece;
      }
    }
    if (opts.contentLength !== undefined && wireBytes < opts.contentLength)
      throw new S3Error('IncompleteBody');
    const trailers = decoder?.end() ?? new Map<string, string>();
    if (
      plan.streaming &&
      verified.decodedContentLength !== undefined &&
      bytes !== verified.decodedContentLength
    ) {
      throw new S3Error('IncompleteBody', 'The decoded body is shorter than x-amz-decoded-content-length.');
    }
    const result = checkDigests(await hasher.digest(), trailers, verified, opts, plan, bytes);
    settled = true;
    resolve(result);
  } catch (err) {
    settled = true;
    reject(err);
    throw err;
  } finally {
    if (!settled) {
      // The consumer stopped early (return()): nothing was verified.
      reject(new S3Error('IncompleteBody', 'The body was not read to its end.'));
    }
    hasher.abort();
  }
}

function chunkedDecoder(verified: VerifiedRequest, opts: DecodeBodyOptions): AwsChunkedDecoder {
  const trailer =
    verified.payload.kind === 'streaming-unsigned-trailer' ||
    (verified.payload.kind === 'streaming-signed' && verified.payload.trailer);
  const limits = [verified.decodedContentLength, opts.maxBytes].filter((n): n is number => n !== undefined);
  return new AwsChunkedDecoder({
    trailer,
    ...(verified.payload.kind === 'streaming-signed' && verified.streaming
      ? { signing: verified.streaming }
      : {}),
    ...(limits.length > 0 ? { decodedBytesMax: Math.min(...limits) } : {}),
    tooLarge: () =>
      opts.maxBytes !== undefined &&
      (verified.decodedContentLength === undefined || opts.maxBytes < verified.decodedContentLength)
        ? new S3Error('EntityTooLarge')
        : new S3Error('InvalidRequest', 'The decoded body is longer than x-amz-decoded-content-length.'),
  });
}

/** The source, with transport failures (client gone, connection reset) reported as an incomplete body. */
async function* incomplete(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  try {
    yield* source;
  } catch (err) {
    if (err instanceof S3Error) throw err;
    throw new S3Error('IncompleteBody');
  }
}

function checkDigests(
  computed: Map<HashName, Buffer>,
  trailers: Map<string, string>,
  verified: VerifiedRequest,
  opts: DecodeBodyOptions,
  plan: Plan,
  bytes: number,
): BodyDigests {
  const digestOf = (name: HashName): Buffer => computed.get(name) as Buffer;
  if (verified.payload.kind === 'sha256' && digestOf('SHA256').toString('hex') !== verified.payload.hex) {
    throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
      ClientComputedContentSHA256: verified.payload.hex,
      S3ComputedContentSHA256: digestOf('SHA256').toString('hex'),
    });
  }
  if (
    opts.expected.contentMd5 !== undefined &&
    digestOf('MD5').toString('base64') !== opts.expected.contentMd5
  ) {
    throw new S3Error('BadDigest');
  }
  const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const algo of plan.requested) checksums[algo] = digestOf(algo).toString('base64');
  const given: Array<[ChecksumAlgorithm, string]> = [];
  for (const [algo, value] of Object.entries(opts.expected.checksums ?? {})) {
    if (value !== undefined) given.push([algo as ChecksumAlgorithm, value]);
  }
  given.push(...trailerChecksums(trailers, verified));
  for (const [algo, value] of given) {
    if (checksums[algo] !== value) {
      throw new S3Error('BadDigest', `The ${algo} you specified did not match the calculated checksum.`);
    }
  }
  return { md5Hex: digestOf('MD5').toString('hex'), checksums, bytes };
}

/** The checksum an aws-chunked trailer carries. Like AWS, the trailer holds exactly what x-amz-trailer announced:
 * any other line (another checksum, an unknown name, junk with a colon) is MalformedTrailerError, so a body
 * with bytes nothing vouches for is never stored. A repeated announced line counts once, the last one wins. */
function trailerChecksums(
  trailers: Map<string, string>,
  verified: VerifiedRequest,
): Array<[ChecksumAlgorithm, string]> {
  const announced = verified.trailerChecksum;
  const announcedName = announced && checksumHeaderName(announced);
  for (const name of trailers.keys()) {
    // The name is not echoed back: it may hold any byte.
    if (name !== announcedName) throw new S3Error('MalformedTrailerError');
  }
  if (!announced || !announcedName) return [];
  const value = trailers.get(announcedName);
  if (value === undefined) {
    throw new S3Error('MalformedTrailerError', undefined, { TrailerHeader: announcedName });
  }
  if (!isValidDigestBase64(announced, value))
    throw new S3Error('InvalidRequest', `Value for ${announcedName} trailing header is invalid.`);
  return [[announced, value]];
}
