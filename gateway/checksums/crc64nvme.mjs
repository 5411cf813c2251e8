// CRC-64/NVME (reflected poly 0x9A6C9329AC4BC9B5, init and xorout all ones), as S3's x-amz-checksum-crc64nvme.
// Plain JS so the hashing worker (which runs without the TypeScript loader) can import it too.
// The 64-bit state is kept as two uint32 halves and the input is consumed 8 bytes at a time with a
// slicing-by-8 table: no BigInt on the hot path.

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x9a6c9329;

// TABLE_LO[k * 256 + i] / TABLE_HI[...]: CRC of byte i followed by k zero bytes (k = 0..7).
const TABLE_LO = new Uint32Array(8 * 256);
const TABLE_HI = new Uint32Array(8 * 256);

function buildTables() {
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    TABLE_LO[i] = lo;
    TABLE_HI[i] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prevLo = TABLE_LO[(k - 1) * 256 + i];
      const prevHi = TABLE_HI[(k - 1) * 256 + i];
      const idx = prevLo & 0xff;
      TABLE_LO[k * 256 + i] = (((prevLo >>> 8) | (prevHi << 24)) ^ TABLE_LO[idx]) >>> 0;
      TABLE_HI[k * 256 + i] = ((prevHi >>> 8) ^ TABLE_HI[idx]) >>> 0;
    }
  }
}
buildTables();

/** Incremental CRC-64/NVME. `digest()` is the 8-byte big-endian CRC, as S3 base64-encodes it. */
export class Crc64Nvme {
  lo = 0xffffffff;
  hi = 0xffffffff;

  /** @param {Uint8Array} data */
  update(data) {
    let lo = this.lo;
    let hi = this.hi;
    const n = data.length;
    let i = 0;
    const T = TABLE_LO;
    const H = TABLE_HI;
    for (; i + 8 <= n; i += 8) {
      const a = (lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
      const b = (hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24))) >>> 0;
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = T[i7] ^ T[i6] ^ T[i5] ^ T[i4] ^ T[i3] ^ T[i2] ^ T[i1] ^ T[i0];
      hi = H[i7] ^ H[i6] ^ H[i5] ^ H[i4] ^ H[i3] ^ H[i2] ^ H[i1] ^ H[i0];
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ T[idx];
      hi = (hi >>> 8) ^ H[idx];
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** @returns {Buffer} */
  digest() {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}
