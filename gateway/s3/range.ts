// The Range header with AWS's semantics, which are more forgiving than RFC 9110: anything S3 cannot
// parse as ONE byte range is ignored (200, whole object); only a parsable range that starts at or past
// the end, or the suffix `-0`, is 416 InvalidRange. Multiple ranges are ignored (AWS sends 200).

import { S3Error } from '../errors.ts';

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

const SINGLE = /^bytes=(\d*)-(\d*)$/;

/** Returns undefined when the whole object should be served, a range for 206, or throws InvalidRange. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = SINGLE.exec(header.trim());
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  const lastByte = size - 1;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw invalidRange(header, size);
    // A suffix on an empty object leaves nothing to serve; AWS then serves the (empty) whole object.
    if (size === 0) return undefined;
    return { start: size - Math.min(suffix, size), end: lastByte };
  }
  const start = Number(first);
  if (start > lastByte) throw invalidRange(header, size);
  const end = last === '' ? lastByte : Math.min(Number(last), lastByte);
  // `bytes=5-2` is syntactically invalid and AWS ignores it.
  if (start > end) return undefined;
  return { start, end };
}

function invalidRange(header: string, size: number): S3Error {
  return new S3Error(
    'InvalidRange',
    undefined,
    { RangeRequested: header, ActualObjectSize: String(size) },
    { 'Content-Range': `bytes */${size}` },
  );
}

/** The Content-Range value of a 206 answer. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
