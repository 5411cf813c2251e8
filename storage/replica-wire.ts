// applyReplica over the internal HTTP API: its arguments (the state, whose record may list 10,000 parts: too
// large for a header) lead the request body, then the version's bytes follow framed as a put's (http-wire.ts):
//   u32 BE length | arguments (wire JSON) | framed body
import type { IncomingMessage } from 'node:http';
import { IncompleteBodyError, StorageError } from './errors.ts';
import { frameBody, frameWhole, unframeBody } from './http-wire.ts';

/** Client side. */
export async function* frameApply(args: string, body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const a = Buffer.from(args);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(a.length);
  yield Buffer.concat([head, a]);
  yield* frameBody(body, async () => ({ etag: '', checksums: {} }));
}

/** Client side, a body held whole (`chunks`): the same bytes as frameApply's, in one buffer. */
export function frameApplyWhole(args: string, chunks: Buffer[]): Buffer {
  const a = Buffer.from(args);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(a.length);
  return Buffer.concat([head, a, frameWhole(chunks, { etag: '', checksums: {} })]);
}

/**
 * Server side: the arguments (at most `maxArgsBytes`), the version's bytes, and `drain()` to read what the
 * node left unread (a stale state's body), so the connection can carry the next request.
 */
export async function readApply(
  req: IncomingMessage,
  maxArgsBytes: number,
): Promise<{ args: string; body: AsyncIterable<Buffer>; drain: () => Promise<void> }> {
  // One iterator, never returned early: ending it would destroy the request (and the connection).
  const it = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  while (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) {
    if (buf.length >= 4 && buf.readUInt32BE(0) > maxArgsBytes)
      throw new StorageError('InvalidArgument', 'arguments too large');
    const n = await it.next();
    if (n.done) throw new IncompleteBodyError('request body ended inside its arguments');
    buf = buf.length ? Buffer.concat([buf, n.value]) : n.value;
  }
  const len = buf.readUInt32BE(0);
  const args = buf.subarray(4, 4 + len).toString();
  const first = buf.subarray(4 + len);
  let ended = false;
  async function* rest(): AsyncIterable<Buffer> {
    if (first.length) yield first;
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      yield n.value;
    }
    ended = true;
  }
  const raw = rest();
  const { body } = unframeBody(raw);
  return {
    args,
    body,
    drain: async () => {
      if (ended) return;
      for (;;) if ((await it.next()).done) return;
    },
  };
}
