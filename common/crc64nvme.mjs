// CRC-64/NVME (reflected poly 0x9A6C9329AC4BC9B5, init and xorout all ones; check value of "123456789"
// = 0xAE8B14860A799888), as S3's x-amz-checksum-crc64nvme. The one implementation: the gateway hashes
// bodies with `Crc64Nvme`, the storage node combines part CRCs into a whole object's CRC with
// `crc64nvmeCombine`. Plain JS so the hashing worker (which runs without the TypeScript loader) can
// import it. The 64-bit state is kept as two uint32 halves and the input is consumed 8 bytes at a time
// with a slicing-by-8 table: no BigInt on the hot path.

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

/**
 * CRC-64/NVME of `data` as a number.
 * @param {Uint8Array} data
 * @returns {bigint}
 */
export function crc64nvme(data) {
  return new Crc64Nvme().update(data).digest().readBigUInt64BE(0);
}

// Combining (zlib's crc32_combine, for this polynomial): crc(A‖B) = crc(A)·x^(8·|B|) ⊕ crc(B), with the
// multiplication modulo the polynomial, in the reflected representation (bit 63 is x^0).
const POLY = 0x9a6c9329ac4bc9b5n;
const X0 = 1n << 63n;

/**
 * a·b modulo the polynomial, both reflected.
 * @param {bigint} a
 * @param {bigint} b
 */
function multmod(a, b) {
  let m = X0;
  let p = 0n;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    b = b & 1n ? (b >> 1n) ^ POLY : b >> 1n;
  }
  return p;
}

/** @type {bigint[] | undefined} x^(2^k) for k = 0..63. */
let powers;
function x2nTable() {
  if (powers) return powers;
  const t = [X0 >> 1n];
  for (let k = 1; k < 64; k++) t.push(multmod(t[k - 1], t[k - 1]));
  powers = t;
  return t;
}

/**
 * x^(n·2^k) modulo the polynomial.
 * @param {number} n
 * @param {number} k
 */
function x2nmod(n, k) {
  const t = x2nTable();
  let p = X0;
  let rest = BigInt(n);
  while (rest > 0n) {
    if (rest & 1n) p = multmod(t[k & 63], p);
    rest >>= 1n;
    k++;
  }
  return p;
}

/**
 * CRC of A‖B from crc(A), crc(B) and B's length in bytes.
 * @param {bigint} crcA
 * @param {bigint} crcB
 * @param {number} bytesB
 * @returns {bigint}
 */
export function crc64nvmeCombine(crcA, crcB, bytesB) {
  return multmod(x2nmod(bytesB, 3), crcA) ^ crcB;
}
