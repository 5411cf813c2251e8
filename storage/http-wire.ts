// What crosses the internal HTTP API: JSON in which Buffers travel as {"$b": base64url} and
// bigints as {"$n": decimal}; request bodies of puts and parts are framed so the sender's
// finish() result (ETag, checksums) can follow the bytes in the same request:
//   frame = u32 BE length | bytes ;  end = u32 BE 0xffffffff | u32 BE length | finish JSON

import { fromWire, toWire } from '../common/wire-json.ts';
import type { BodyFinish } from './api.ts';
import { IncompleteBodyError } from './errors.ts';

export { fromWire, toWire };

const END = 0xffffffff;

/**
 * The content type of an answer that carries a small version's bytes after its record (openObject with
 * `inline`): u32 BE length | record (wire JSON) | the bytes, exactly record.size of them.
 */
export const INLINE_TYPE = 'application/x-quire-inline';
/** The largest version a caller may ask to get inline (the client asks for INLINE_READ_BYTES). */
export const INLINE_MAX_BYTES = 1024 * 1024;
/**
 * Versions up to this size are read in one call (open + bytes + release) rather than three. It bounds the memory
 * a read holds on both ends like a streamed read's buffers do.
 */
export const INLINE_READ_BYTES = 128 * 1024;

/** Server side: a version's record and its whole (verified) bytes in one answer. */
export function frameInline(record: unknown, bytes: Buffer): Buffer {
  const json = Buffer.from(toWire(record));
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(json.length);
  return Buffer.concat([head, json, bytes]);
}

/** Client side: the record and the bytes of an inline answer (a subarray: no copy). */
export function unframeInline<R>(answer: Buffer): { record: R; bytes: Buffer } {
  if (answer.length < 4 || answer.length < 4 + answer.readUInt32BE(0))
    throw new IncompleteBodyError('inline answer cut short');
  const len = answer.readUInt32BE(0);
  return { record: fromWire<R>(answer.subarray(4, 4 + len).toString()), bytes: answer.subarray(4 + len) };
}

/** Client side: frames the body, then appends the finish() result. */
export async function* frameBody(
  body: AsyncIterable<Buffer>,
  finish: () => Promise<BodyFinish>,
): AsyncIterable<Buffer> {
  for await (const c of body) {
    if (c.length === 0) continue;
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(c.length);
    yield head;
    yield c;
  }
  const fin = Buffer.from(toWire(await finish()));
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32BE(END, 0);
  tail.writeUInt32BE(fin.length, 4);
  yield Buffer.concat([tail, fin]);
}

/** Client side: a body held whole (`chunks`) and its finish() result, as one frame and the end (unframeBody reads it). */
export function frameWhole(chunks: Buffer[], fin: BodyFinish): Buffer {
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const f = Buffer.from(toWire(fin));
  const out = Buffer.allocUnsafe((size > 0 ? 4 + size : 0) + 8 + f.length);
  let at = 0;
  if (size > 0) at = out.writeUInt32BE(size, at);
  for (const c of chunks) at += c.copy(out, at);
  at = out.writeUInt32BE(END, at);
  at = out.writeUInt32BE(f.length, at);
  f.copy(out, at);
  return out;
}

/**
 * Bodies up to this size are sent as one buffer with a Content-Length (collected first: one write, no stream
 * machinery on either end) rather than streamed; the receiving node collects bodies this small whole anyway.
 */
export const WHOLE_BODY_BYTES = 128 * 1024;

/** The chunks of `body`, which must be at most `max` bytes (more: IncompleteBody, as the node would say). */
export async function collectChunks(body: AsyncIterable<Buffer>, max: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new IncompleteBodyError(`body longer than ${max} bytes`);
    if (c.length > 0) chunks.push(c);
  }
  return chunks;
}

/** Server side: the data chunks of a framed body; `finish()` is valid once they are consumed. */
export function unframeBody(input: AsyncIterable<Buffer>): {
  body: AsyncIterable<Buffer>;
  finish: () => Promise<BodyFinish>;
} {
  let result: BodyFinish | undefined;
  async function* body(): AsyncIterable<Buffer> {
    let buf: Buffer = Buffer.alloc(0);
    let want = -1; // -1: reading a length; -2: reading finish length; else bytes of the current frame
    let finLen = -1;
    for await (const c of input) {
      if (result) {
        if (c.length > 0) throw new IncompleteBodyError('bytes after the final frame of the body');
        continue;
      }
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      for (;;) {
        if (finLen >= 0) {
          if (buf.length < finLen) break;
          if (buf.length > finLen) throw new IncompleteBodyError('bytes after the final frame of the body');
          result = fromWire<BodyFinish>(buf.toString());
          // Read on to the end of the input, never leave it early: a request stream left before its end is
          // destroyed (an AbortError, its stack captured: measurable CPU per call) and, when its end has not
          // been parsed yet (a chunked request's last chunk), its connection with it.
          break;
        }
        if (want === -1) {
          if (buf.length < 4) break;
          const n = buf.readUInt32BE(0);
          buf = buf.subarray(4);
          want = n === END ? -2 : n;
          continue;
        }
        if (want === -2) {
          if (buf.length < 4) break;
          finLen = buf.readUInt32BE(0);
          buf = buf.subarray(4);
          continue;
        }
        if (buf.length === 0) break;
        const take = Math.min(want, buf.length);
        yield buf.subarray(0, take);
        buf = buf.subarray(take);
        want -= take;
        if (want === 0) want = -1;
      }
    }
    if (!result) throw new IncompleteBodyError('request body ended before its final frame');
  }
  return {
    body: body(),
    finish: async () => {
      if (!result) throw new IncompleteBodyError('body not complete');
      return result;
    },
  };
}
