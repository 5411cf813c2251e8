// GetObject and HeadObject: conditionals, ranges, partNumber, header overrides, streamed verified bytes.
import type { ReadHandle } from '../../storage/api.ts';
import { absentObjectError, requireObjectGrant } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { type Exchange, writeChunk, writeHead } from '../http/respond.ts';
import { evaluateReadConditions } from '../s3/conditionals.ts';
import { httpDate, objectResponseHeaders, responseOverrides } from '../s3/headers.ts';
import type { Operation } from '../s3/operation.ts';
import { parseRange } from '../s3/range.ts';
import { taggingCountHeader } from '../s3/tagging.ts';
import { deleteMarkerError, notFound, requestedVersionId, versionIdHeader } from '../s3/version-id.ts';
import { type IncarnationCall, inIncarnation, requireBucket } from './access.ts';
import type { HandlerInput } from './deps.ts';
import { objectExpiration } from './lifecycle.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

export async function getObject(input: HandlerInput<Op<'GetObject'>>): Promise<void> {
  await readObject(input, true);
}

export async function headObject(input: HandlerInput<Op<'HeadObject'>>): Promise<void> {
  await readObject(input, false);
}

/** A read pin taken for an incarnation deleted meanwhile is given back (one object for every request). */
const OPEN_FOR_READ: IncarnationCall<ReadHandle | undefined> = {
  writes: false,
  discard: (h) => h?.release(),
};

async function readObject(
  { deps, ex, verified, target, op }: HandlerInput<Op<'GetObject'> | Op<'HeadObject'>>,
  withBody: boolean,
): Promise<void> {
  const bucket = requireBucket(deps, op.bucket, verified);
  const versionId = requestedVersionId(target.query);
  const overrides = responseOverrides(target.query);
  const handle = await inIncarnation(deps, bucket, OPEN_FOR_READ, () =>
    deps.storage.openObject(
      bucket.id,
      Buffer.from(op.key, 'utf8'),
      versionId === undefined ? {} : { versionId },
    ),
  );
  const admitted = verified.access.target;
  if (!handle) throw absentObjectError(deps, admitted, notFound(op.key, versionId));
  try {
    const { record } = handle;
    requireObjectGrant(deps, admitted, record.acl);
    if (record.deleteMarker)
      throw deleteMarkerError(op.key, record, versionId !== undefined, withBody ? 'GET' : 'HEAD');
    const validators = { etag: record.etag, lastModifiedMs: record.lastModifiedMs };
    const verdict = evaluateReadConditions(ex.req.headers, validators);
    if (verdict === 'not-modified') {
      throw new S3Error(
        'NotModified',
        undefined,
        {},
        { etag: `"${record.etag}"`, 'last-modified': httpDate(record.lastModifiedMs) },
      );
    }
    if (verdict === 'precondition-failed')
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });

    const range = selectRange(ex, target.query, record);
    const headers = objectResponseHeaders(record, {
      overrides,
      checksumMode: String(ex.req.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED',
      range,
    });
    Object.assign(
      headers,
      versionIdHeader(versioningOf(deps, bucket), record),
      objectExpiration(deps, bucket, record),
      taggingCountHeader(record.tags),
    );
    const status = range.partial ? 206 : 200;
    const length = record.size === 0 ? 0 : range.end - range.start + 1;
    headers['content-length'] = String(length);
    if (!withBody || record.size === 0) {
      writeHead(ex, status, headers);
      ex.res.end();
      return;
    }
    // The first chunk is read (and verified) before the status line: a read that fails there is a
    // clean S3 error, not a 200 cut short.
    const chunks = handle.stream({ start: range.start, end: range.end })[Symbol.asyncIterator]();
    try {
      const first = await chunks.next();
      writeHead(ex, status, headers);
      await streamBody(ex, first, chunks, length);
    } finally {
      // Closes the volume stream when the response ended early or at its last byte.
      await chunks.return?.();
    }
  } finally {
    handle.release();
  }
}

interface SelectedRange {
  readonly start: number;
  readonly end: number;
  readonly partial: boolean;
  readonly partsCount?: number;
}

function selectRange(ex: Exchange, query: Map<string, string>, record: ReadHandle['record']): SelectedRange {
  const partParam = query.get('partNumber');
  if (partParam !== undefined) {
    if (ex.req.headers.range !== undefined) {
      throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
    }
    const part = Number(partParam);
    if (!Number.isInteger(part) || part < 1 || part > 10000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
        ArgumentName: 'partNumber',
        ArgumentValue: partParam,
      });
    }
    const parts = record.parts ?? [{ size: record.size, etag: record.etag }];
    // 400 InvalidPartNumber naming the part asked for and how many the object has (as the issue and the
    // s3-tests suite expect; AWS's error table lists 416 for this code).
    if (part > parts.length) {
      throw new S3Error('InvalidPartNumber', undefined, {
        PartNumberRequested: String(part),
        ActualPartCount: String(parts.length),
      });
    }
    let start = 0;
    for (let i = 0; i < part - 1; i++) start += parts[i]!.size;
    const size = parts[part - 1]!.size;
    return { start, end: start + size - 1, partial: record.parts !== undefined, partsCount: parts.length };
  }
  const range = parseRange(header(ex.req.headers.range), record.size);
  if (!range) return { start: 0, end: record.size - 1, partial: false };
  return { start: range.start, end: range.end, partial: true };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Streams the rest of an object after its first chunk (read before the status line), exactly `length` bytes. */
export async function streamBody(
  ex: Exchange,
  first: IteratorResult<Buffer>,
  chunks: AsyncIterator<Buffer>,
  length: number,
): Promise<void> {
  const { res } = ex;
  for (let r = first; !r.done; r = await chunks.next()) {
    const chunk = r.value;
    ex.bytesOut += chunk.length;
    // The last chunk goes out with end(): headers and a small body leave in one write.
    if (ex.bytesOut === length) {
      res.end(chunk);
      return;
    }
    const wait = writeChunk(res, chunk, ex.bodyTimeoutMs);
    if (wait) await wait;
  }
  // Fewer bytes than announced must not look like a complete response: drop the connection.
  if (ex.bytesOut !== length)
    res.destroy(new Error(`object body ended at ${ex.bytesOut} of ${length} bytes`));
  else res.end();
}
