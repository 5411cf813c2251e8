// One HTTP/1.1 connection on a raw socket, for requests no client library would send: bodies announced
// and never sent, broken framing, stalls. Responses are parsed by hand (status, headers, Content-Length or
// chunked body), so the test sees exactly what the server wrote and whether it closed the connection.
import { connect, type Socket } from 'node:net';
import { fullPath, type SignedRequest } from './raw.ts';
import type { Target } from './target.ts';

export interface WireResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export class WireConnection {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static open(target: Target): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(target.port, target.host, () => {
        socket.off('error', reject);
        resolve(new WireConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** True once the server has closed (or reset) the connection. */
  get isClosed(): boolean {
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * The next response (a `100 Continue` is returned like any other; pass skipContinue to skip it).
   * Rejects when the connection closes first or nothing complete arrives within `timeoutMs`.
   */
  async readResponse(opts: { head?: boolean; timeoutMs?: number; skipContinue?: boolean } = {}) {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (;;) {
      const parsed = parseResponse(this.buffered, opts.head === true);
      if (parsed) {
        this.buffered = this.buffered.subarray(parsed.used);
        if (opts.skipContinue && parsed.response.status === 100) continue;
        return parsed.response;
      }
      if (this.ended)
        throw new Error(`connection closed before a whole response (${this.buffered.length} bytes)`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${opts.timeoutMs ?? 15_000} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Resolves true if the server closes the connection within `ms`, false otherwise. */
  async closesWithin(ms: number): Promise<boolean> {
    if (this.ended) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }
}

/** The request line and header block of a signed request (CRLF CRLF included); the body is not included. */
export function requestHead(req: SignedRequest, extra: Record<string, string> = {}): string {
  const headers = { ...req.headers, ...extra };
  const lines = [`${req.method} ${fullPath(req)} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function parseResponse(buf: Buffer, head: boolean): { response: WireResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 'NaN');
  if (!Number.isInteger(status)) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let at = end + 4;
  if (head || status === 100 || status === 204 || status === 304) {
    return { response: { status, headers, body: Buffer.alloc(0) }, used: at };
  }
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      const dataEnd = lineEnd + 2 + size;
      if (buf.length < dataEnd + 2) return undefined;
      parts.push(buf.subarray(lineEnd + 2, dataEnd));
      at = dataEnd + 2;
      if (size === 0) return { response: { status, headers, body: Buffer.concat(parts) }, used: at };
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < at + length) return undefined;
  return {
    response: { status, headers, body: Buffer.from(buf.subarray(at, at + length)) },
    used: at + length,
  };
}
