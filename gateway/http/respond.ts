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
}

const XML_TYPE = 'application/xml';

export function sendXml(ex: Exchange, status: number, xml: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(xml, 'utf8');
  ex.res.writeHead(status, { ...headers, 'content-type': XML_TYPE, 'content-length': body.length });
  ex.res.end(ex.req.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(ex: Exchange, status: number, headers: Record<string, string | number> = {}): void {
  ex.res.writeHead(status, { ...headers, 'content-length': 0 });
  ex.res.end();
}

/** Writes one chunk, waiting for the socket to drain when Node's buffer is full. */
export function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> | undefined {
  if (res.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new Error('client went away'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * An answer sent before the request body was read: keep the connection usable for small bodies by draining
 * them, but do not read a large body we are refusing — close the connection after the response instead.
 */
export function settleUnreadBody(ex: Exchange): void {
  if (ex.bodyTaken) return;
  ex.bodyTaken = true;
  const { req, res } = ex;
  if (req.complete) return;
  const declared = Number(req.headers['content-length'] ?? 0);
  const expectsContinue = /100-continue/i.test(String(req.headers.expect ?? ''));
  if (expectsContinue || !(declared <= 1024 * 1024)) {
    res.setHeader('connection', 'close');
    res.once('finish', () => req.destroy());
    return;
  }
  req.resume();
}

export function errorFor(err: unknown): S3Error | undefined {
  if (err instanceof S3Error) return err;
  return undefined;
}
