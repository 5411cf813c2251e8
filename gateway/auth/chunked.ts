// Decoder for `Content-Encoding: aws-chunked` bodies (AWS "sigv4-streaming" and "sigv4-streaming-trailers"):
//   <hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n[<trailer lines>]\r\n
// Synchronous and copy-free: push() returns slices of its input. Every chunk signature is checked the
// moment its data is complete, chained from the seed (header) signature; data is handed on before that
// check, so a consumer must discard everything when the decoder throws (storage aborts the write).
import { createHash, type Hash } from 'node:crypto';
import { S3Error } from '../errors.ts';
import { EMPTY_SHA256_HEX, hmacHex, sha256Hex, signaturesEqual } from './crypto.ts';
import type { StreamingSigningContext } from './types.ts';

export interface ChunkedDecoderOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: chunk signatures are required and checked. */
  signing?: StreamingSigningContext;
  /** Trailer lines may follow the last chunk (the -TRAILER payload modes). */
  trailer: boolean;
  /** Most decoded bytes accepted; a chunk announcing more fails with `tooLarge()` before its data arrives. */
  decodedBytesMax?: number;
  tooLarge?: () => S3Error;
}

const LINE_BYTES_MAX = 4096;
const TRAILER_LINES_MAX = 16;
const SIZE_HEX_DIGITS_MAX = 13; // 2^52: beyond any object size and still an exact JS number

type State = 'size' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

function malformed(message: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${message}`);
}

export class AwsChunkedDecoder {
  private state: State = 'size';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private remaining = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private previousSignature: string;
  private trailerLines: Array<[string, string]> = [];
  private trailerSignature: string | undefined;
  decodedBytes = 0;

  constructor(private readonly opts: ChunkedDecoderOptions) {
    this.previousSignature = opts.signing?.seedSignature ?? '';
  }

  /** Feeds wire bytes; returns the object bytes they contained (slices of `buf`). */
  push(buf: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'data': {
          const n = Math.min(this.remaining, buf.length - pos);
          const slice = buf.subarray(pos, pos + n);
          this.chunkHash?.update(slice);
          out.push(slice);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishChunkData();
          break;
        }
        case 'data-cr':
        case 'data-lf':
          pos = this.expectCrlf(buf, pos);
          break;
        case 'size':
        case 'trailer':
          pos = this.readLine(buf, pos);
          break;
        case 'done':
          throw malformed('bytes after the final chunk');
      }
    }
    return out;
  }

  /** Call at end of input: returns the trailer fields (lower-case names), or throws if the body was cut short. */
  end(): Map<string, string> {
    // A body may stop right after its last trailer line (or after the final chunk) without the blank line.
    if (this.state === 'trailer' && this.lineBytes === 0) this.finishTrailers();
    if (this.state !== 'done') throw new S3Error('IncompleteBody');
    return new Map(this.trailerLines);
  }

  private expectCrlf(buf: Buffer, pos: number): number {
    const want = this.state === 'data-cr' ? 0x0d : 0x0a;
    if (buf[pos] !== want) throw malformed('chunk data is not followed by CRLF');
    this.state = this.state === 'data-cr' ? 'data-lf' : 'size';
    return pos + 1;
  }

  /** Accumulates one line (which may span pushes) and acts on it once its LF arrives. */
  private readLine(buf: Buffer, pos: number): number {
    const lf = buf.indexOf(0x0a, pos);
    const end = lf < 0 ? buf.length : lf;
    this.lineBytes += end - pos;
    if (this.lineBytes > LINE_BYTES_MAX) throw malformed('line too long');
    if (end > pos) this.line.push(buf.subarray(pos, end));
    if (lf < 0) return buf.length;
    const text = Buffer.concat(this.line, this.lineBytes).toString('latin1');
    // Every line ends in CRLF: a bare LF is a corrupt body (a CR changed into a space would otherwise be trimmed
    // off a trailer value and the body accepted).
    if (!text.endsWith('\r')) throw malformed('a line of the body does not end in CRLF');
    this.line = [];
    this.lineBytes = 0;
    if (this.state === 'size') this.onSizeLine(text.slice(0, -1));
    else this.onTrailerLine(text.slice(0, -1));
    return lf + 1;
  }

  private onSizeLine(text: string): void {
    const semi = text.indexOf(';');
    // Exact framing, no trimming: a byte inserted into a size line is a corrupt body, not a spelling.
    const hex = semi < 0 ? text : text.slice(0, semi);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length > SIZE_HEX_DIGITS_MAX)
      throw malformed(`bad chunk size '${hex.slice(0, 20)}'`);
    const size = Number.parseInt(hex, 16);
    if (this.opts.signing) {
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(semi < 0 ? '' : text.slice(semi + 1));
      if (!m) throw malformed('chunk without a valid chunk-signature');
      this.chunkSignature = m[1] as string;
      this.chunkHash = createHash('sha256');
    }
    if (this.opts.decodedBytesMax !== undefined && this.decodedBytes + size > this.opts.decodedBytesMax) {
      throw this.opts.tooLarge?.() ?? malformed('more data than declared');
    }
    this.decodedBytes += size;
    this.remaining = size;
    if (size > 0) {
      this.state = 'data';
      return;
    }
    this.verifyChunk(EMPTY_SHA256_HEX);
    this.state = 'trailer';
  }

  private finishChunkData(): void {
    if (this.chunkHash) this.verifyChunk(this.chunkHash.digest('hex'));
    this.chunkHash = undefined;
    this.state = 'data-cr';
  }

  private verifyChunk(dataSha256Hex: string): void {
    const signing = this.opts.signing;
    if (!signing) return;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n${this.previousSignature}\n${EMPTY_SHA256_HEX}\n${dataSha256Hex}`;
    const expected = hmacHex(signing.signingKey, toSign);
    if (!signaturesEqual(expected, this.chunkSignature)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The chunk signature we calculated does not match the signature you provided.',
      );
    }
    this.previousSignature = this.chunkSignature;
  }

  private onTrailerLine(text: string): void {
    if (text === '') {
      // Some clients put a blank line between the checksum and its signature: wait for the signature.
      if (this.opts.signing && this.opts.trailer && this.trailerLines.length > 0 && !this.trailerSignature)
        return;
      this.finishTrailers();
      return;
    }
    if (!this.opts.trailer) throw malformed('trailer in a body that announced none');
    const colon = text.indexOf(':');
    if (colon <= 0) throw malformed('bad trailer line');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.trailerSignature = value;
      return;
    }
    if (this.trailerLines.length >= TRAILER_LINES_MAX) throw malformed('too many trailer lines');
    this.trailerLines.push([name, value]);
  }

  private finishTrailers(): void {
    const signing = this.opts.signing;
    if (signing && this.opts.trailer) {
      if (this.trailerSignature === undefined) throw malformed('trailer without x-amz-trailer-signature');
      const canonical = this.trailerLines.map(([n, v]) => `${n}:${v}\n`).join('');
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${this.previousSignature}\n${sha256Hex(canonical)}`;
      if (!signaturesEqual(hmacHex(signing.signingKey, toSign), this.trailerSignature)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The trailer signature we calculated does not match the signature you provided.',
        );
      }
    }
    this.state = 'done';
  }
}
