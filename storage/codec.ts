// A tiny binary writer/reader for index values, volume entry metadata and binlog records.
// Little-endian; strings and byte strings carry a u32 length. Callers prefix a version byte.

export class Writer {
  private buf: Buffer;
  private at = 0;
  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  u8(v: number): this {
    this.room(1);
    this.buf[this.at++] = v;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
    return this;
  }
  /** Non-negative safe integer (sizes, offsets, milliseconds). */
  num(v: number): this {
    this.room(8);
    this.buf.writeDoubleLE(v, this.at);
    this.at += 8;
    return this;
  }
  u64(v: bigint): this {
    this.room(8);
    this.buf.writeBigUInt64LE(v, this.at);
    this.at += 8;
    return this;
  }
  bytes(v: Buffer): this {
    this.u32(v.length);
    this.room(v.length);
    v.copy(this.buf, this.at);
    this.at += v.length;
    return this;
  }
  /** Bytes as they are, no length prefix. */
  raw(v: Buffer): this {
    this.room(v.length);
    v.copy(this.buf, this.at);
    this.at += v.length;
    return this;
  }
  str(v: string): this {
    const n = Buffer.byteLength(v, 'utf8');
    this.u32(n);
    this.room(n);
    this.buf.write(v, this.at, 'utf8');
    this.at += n;
    return this;
  }
  optStr(v: string | undefined): this {
    if (v === undefined) return this.u8(0);
    return this.u8(1).str(v);
  }
  strMap(m: Record<string, string>): this {
    const keys = Object.keys(m);
    this.u32(keys.length);
    for (const k of keys) this.str(k).str(m[k]!);
    return this;
  }
  /** Exactly the written bytes (a view: the writer must not be used afterwards). */
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

export class Reader {
  at = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new RangeError('truncated record');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  num(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const v = Buffer.from(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return v;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const v = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
  optStr(): string | undefined {
    return this.u8() === 0 ? undefined : this.str();
  }
  /** Steps over `n` bytes, or one length-prefixed string/byte string when `n` is absent. */
  skip(n?: number): this {
    const len = n ?? this.u32();
    this.need(len);
    this.at += len;
    return this;
  }
  strMap(): Record<string, string> {
    const n = this.u32();
    const m: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const k = this.str();
      m[k] = this.str();
    }
    return m;
  }
  get remaining(): number {
    return this.buf.length - this.at;
  }
}
