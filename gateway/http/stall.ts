// A request body whose every wait for the next chunk is bounded. Only the time spent waiting on the client
// counts: while the consumer is busy (disk, hashing) the socket is paused and the client is not at fault.
import type { IncomingMessage } from 'node:http';
import { S3Error } from '../errors.ts';

/**
 * Yields the body's chunks; a client that sends nothing for `stallMs` makes it throw RequestTimeout. The
 * connection is left open on that path so the handler's error answer can still go out (it closes it after).
 * A consumer that stops early releases the body as a plain `for await` over the request would.
 */
export async function* stallGuarded(
  req: IncomingMessage,
  stallMs: number | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  if (stallMs === undefined || stallMs <= 0) {
    yield* req;
    return;
  }
  const chunks = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let timedOut = false;
  let done = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new S3Error('RequestTimeout'));
        }, stallMs);
      });
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([chunks.next(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done && !timedOut) await chunks.return?.();
  }
}
