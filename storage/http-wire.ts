// What crosses the internal HTTP API: JSON in which Buffers travel as {"$b": base64url} and
// bigints as {"$n": decimal}; request bodies of puts and parts are framed so the sender's
// finish() result (ETag, checksums) can follow the bytes in the same request:
//   frame = u32 BE length | bytes ;  end = u32 BE 0xffffffff | u32 BE length | finish JSON

import { fromWire, toWire } from '../common/wire-json.ts';
import type { BodyFinish } from './api.ts';
import { IncompleteBodyError } from './errors.ts';

export { fromWire, toWire };

const END = 0xffffffff;

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
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      for (;;) {
        if (finLen >= 0) {
          if (buf.length < finLen) break;
          result = fromWire<BodyFinish>(buf.subarray(0, finLen).toString());
          return;
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
    throw new IncompleteBodyError('request body ended before its final frame');
  }
  return {
    body: body(),
    finish: async () => {
      if (!result) throw new IncompleteBodyError('body not complete');
      return result;
    },
  };
}
