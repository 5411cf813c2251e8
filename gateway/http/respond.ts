// Writing S3 responses to the Node response: XML bodies, errors, and streamed object bytes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from '../errors.ts';

/** Everything a handler knows about the request it is answering. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** Bytes of object data sent or received, for the access log and metrics. */
  bytesIn: number;
  bytesOut: number;
  /** True once the body has been (or is being) consumed, so an early error does not drain it twice. */
  bodyTaken: boolean;
  /** A body that sends nothing for this long fails with RequestTimeout (undefined: never). */
  readonly bodyTimeoutMs?: number;
}

const XML_TYPE = 'application/xml';

type HeaderValue = string | number;

/**
 * Sends the status line and headers, with the request id and server headers every answer carries. One flat
 * array handed to writeHead is Node's fast path: no per-header setHeader bookkeeping. Headers set earlier with
 * setHeader (`connection: close` for an unread body, an error's extra headers) are still merged by Node.
 */
export function writeHead(ex: Exchange, status: number, headers: Record<string, HeaderValue>): void {
  // Answering before the body was read: decide now (while headers can still change) what happens to it.
  if (!ex.bodyTaken) settleUnreadBody(ex);
  const flat: HeaderValue[] = [
    'x-amz-request-id',
    ex.requestId,
    'x-amz-id-2',
    ex.requestId,
    'server',
    'Quire',
  ];
  // Content-Length goes last: once Node has seen it, it re-encodes a Content-Disposition value (nodejs/node#46528)
  // and mangles the UTF-8 bytes we send (a filename="報告.txt" went out as "1J.txt", or threw).
  for (const name in headers) if (name !== 'content-length') flat.push(name, headers[name] as HeaderValue);
  if (headers['content-length'] !== undefined) flat.push('content-length', headers['content-length']);
  try {
    ex.res.writeHead(status, flat as unknown as string[]);
  } catch (err) {
    // A value that cannot be a header (CR, LF, NUL... from a request parameter echoed back) is the request's
    // fault, not ours. Nothing was sent: drop what Node kept of this attempt so the error answer starts clean.
    const code = (err as { code?: unknown }).code;
    if (code !== 'ERR_INVALID_CHAR' && code !== 'ERR_INVALID_HTTP_TOKEN') throw err;
    const connection = ex.res.getHeader('connection');
    for (const name of ex.res.getHeaderNames()) ex.res.removeHeader(name);
    if (connection !== undefined) ex.res.setHeader('connection', connection);
    throw new S3Error(
      'InvalidArgument',
      'A value given in the request cannot be sent back as an HTTP header.',
    );
  }
}

export function sendXml(
  ex: Exchange,
  status: number,
  xml: string,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(xml, 'utf8');
  writeHead(ex, status, { ...headers, 'content-type': XML_TYPE, 'content-length': body.length });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}

/** An answer without a body; `headers` is taken over (content-length is added to it). */
export function sendEmpty(ex: Exchange, status: number, headers: Record<string, string | number> = {}): void {
  headers['content-length'] = 0;
  writeHead(ex, status, headers);
  ex.res.end();
}

/**
 * Writes one chunk, waiting for the socket to drain when Node's buffer is full. A client that reads nothing for
 * `stallMs` (the exchange's body timeout) gets its connection cut (it holds the object's read pin and buffers
 * otherwise).
 */
export function writeChunk(res: ServerResponse, chunk: Buffer, stallMs?: number): Promise<void> | undefined {
  if (res.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const timer =
      stallMs === undefined || stallMs <= 0
        ? undefined
        : setTimeout(() => {
            res.off('drain', onDrain);
            res.off('close', onClose);
            res.destroy();
            reject(new Error('client stopped reading'));
          }, stallMs);
    const onDrain = () => {
      clearTimeout(timer);
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      reject(new Error('client went away'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** Above this many unread bytes we stop draining a refused body and close the connection instead. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;
/** How long a body we will not use may keep arriving after the answer went out before the connection is cut. */
const DRAIN_GRACE_MS = 2000;

/**
 * Called before any answer that did not read the request body (and again, harmlessly, at the end of every
 * request); never throws, whether or not the headers are out. A client still waiting for `100 Continue` never
 * sends the body: close after the answer. Otherwise drain what arrives (discarded), because closing a socket with
 * unread bytes makes the kernel reset it and the client loses our answer. A body that has not fully arrived a
 * grace time after the answer (large, chunked, or announced and never sent) is cut off with its connection, so
 * no request stays open waiting for bytes nobody will read.
 */
export function settleUnreadBody(ex: Exchange): void {
  if (ex.bodyTaken) return;
  ex.bodyTaken = true;
  const { req, res } = ex;
  if (req.complete) return;
  const expectsContinue = /100-continue/i.test(String(req.headers.expect ?? ''));
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const declared = Number(req.headers['content-length'] ?? 0);
  const drainable = !expectsContinue && !chunked && declared <= DRAIN_LIMIT_BYTES;
  if (!drainable && !res.headersSent) res.setHeader('connection', 'close');
  if (!expectsContinue) req.resume();
  afterAnswer(res, () => {
    if (req.complete || req.destroyed) return;
    const timer = setTimeout(() => req.destroy(), DRAIN_GRACE_MS);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
  });
}

/** Runs `fn` once the answer is completely handed to the socket (at once if it already is). */
function afterAnswer(res: ServerResponse, fn: () => void): void {
  if (res.writableFinished) fn();
  else if (!res.destroyed) res.once('finish', fn);
}
