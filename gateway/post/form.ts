// A streaming multipart/form-data reader (RFC 7578) for browser form uploads: fields are read one after
// another from the request stream; a part's body can be collected (small fields, capped) or streamed (the
// file) without ever holding more than one network chunk plus a delimiter's length.
import { S3Error } from '../errors.ts';

export interface FormPart {
  /** The `name` of its Content-Disposition, as sent. */
  readonly name: string;
  /** The `filename` of its Content-Disposition, when it is a file. */
  readonly filename?: string;
  readonly contentType?: string;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** Part headers longer than this are not a browser's: refuse rather than buffer. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

export function malformedPost(
  message = 'The body of your POST request is not well-formed multipart/form-data.',
) {
  return new S3Error('MalformedPOSTRequest', message);
}

/** The boundary of a `multipart/form-data; boundary=...` Content-Type, or undefined if it is not one. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    const value = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    // RFC 2046: 1-70 characters.
    return value.length >= 1 && value.length <= 70 ? value : undefined;
  }
  return undefined;
}

/** Reads parts in order from a request body. */
export class FormReader {
  private readonly source: AsyncIterator<Buffer>;
  /** `\r\n--boundary`: what precedes every part and the closing `--`. */
  private readonly delimiter: Buffer;
  private buf: Buffer;
  private ended = false;
  /** True while the current part's body has not been read to its delimiter. */
  private inPart = false;
  private closed = false;
  /** Bytes taken from the source so far. */
  consumed = 0;

  constructor(body: AsyncIterable<Buffer>, boundary: string) {
    this.source = body[Symbol.asyncIterator]();
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    // The first delimiter has no CRLF before it: pretend it had, so every delimiter looks the same.
    this.buf = CRLF;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    this.consumed += next.value.length;
    this.buf = this.buf.length === 0 ? next.value : Buffer.concat([this.buf, next.value]);
    return true;
  }

  /** Moves to the next part and reads its headers; undefined after the closing delimiter. */
  async next(): Promise<FormPart | undefined> {
    if (this.closed) return undefined;
    if (this.inPart) for await (const _ of this.body()) void _;
    if (this.consumed === 0 && this.buf === CRLF) await this.skipPreamble();
    // At a delimiter: `--` closes the form, CRLF starts a part (transport padding allowed before it).
    while (this.buf.length < this.delimiter.length + 2) if (!(await this.fill())) throw malformedPost();
    if (!this.buf.subarray(0, this.delimiter.length).equals(this.delimiter)) throw malformedPost();
    let at = this.delimiter.length;
    if (this.buf[at] === 0x2d && this.buf[at + 1] === 0x2d) {
      this.closed = true;
      this.buf = this.buf.subarray(at + 2);
      return undefined;
    }
    let end = this.buf.indexOf(HEADER_END, at);
    while (end < 0) {
      if (this.buf.length > MAX_PART_HEADER_BYTES || !(await this.fill())) throw malformedPost();
      end = this.buf.indexOf(HEADER_END, at);
    }
    while (this.buf[at] === 0x20 || this.buf[at] === 0x09) at++;
    if (this.buf[at] !== 0x0d || this.buf[at + 1] !== 0x0a) throw malformedPost();
    const part = parsePartHeaders(this.buf.subarray(at + 2, end + 2).toString('utf8'));
    this.buf = this.buf.subarray(end + HEADER_END.length);
    this.inPart = true;
    return part;
  }

  /** Skips anything before the first delimiter (RFC 2046's preamble), keeping the delimiter itself. */
  private async skipPreamble(): Promise<void> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        this.buf = this.buf.subarray(at);
        return;
      }
      if (this.buf.length > MAX_PART_HEADER_BYTES || !(await this.fill())) throw malformedPost();
    }
  }

  /** The current part's body as it arrives, up to (not including) the next delimiter. */
  async *body(): AsyncGenerator<Buffer> {
    if (!this.inPart) return;
    const keep = this.delimiter.length - 1;
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        const chunk = this.buf.subarray(0, at);
        this.buf = this.buf.subarray(at);
        this.inPart = false;
        if (chunk.length > 0) yield chunk;
        return;
      }
      // Everything but a tail that could be the start of the delimiter is part data.
      if (this.buf.length > keep) {
        const chunk = this.buf.subarray(0, this.buf.length - keep);
        this.buf = this.buf.subarray(this.buf.length - keep);
        yield chunk;
      }
      if (!(await this.fill())) throw malformedPost();
    }
  }

  /** The current part's body whole; more than `max` bytes is `tooLarge()`. */
  async value(max: number, tooLarge: () => Error): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.body()) {
      total += chunk.length;
      if (total > max) throw tooLarge();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  /** After the closing delimiter: what is left (the epilogue) is read and dropped. */
  async rest(): Promise<number> {
    let bytes = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (await this.fill()) {
      bytes += this.buf.length;
      this.buf = Buffer.alloc(0);
    }
    return bytes;
  }

  /** Wire bytes of the closing delimiter after a part's data (`\r\n--boundary--`). */
  get closingBytes(): number {
    return this.delimiter.length + 2;
  }

  /** Bytes taken from the source but not yet handed out. */
  get buffered(): number {
    return this.buf.length;
  }
}

function parsePartHeaders(text: string): FormPart {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformedPost();
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (header === 'content-type') contentType = value;
    if (header !== 'content-disposition') continue;
    const [kind, ...params] = splitParams(value);
    if (kind?.toLowerCase() !== 'form-data') throw malformedPost();
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const raw = p.slice(eq + 1).trim();
      // Browsers send `"` as %22 and never backslash-escape (HTML's form encoding): a backslash is a
      // character of the name (an old browser's C:\path\file), so it is kept.
      const v = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
      if (key === 'name') name = v;
      else if (key === 'filename') filename = v;
    }
  }
  if (name === undefined) throw malformedPost();
  return {
    name,
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
  };
}

/** Splits `form-data; name="a;b"; filename="x"` at the semicolons outside quotes. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  out.push(current.trim());
  return out;
}
