// CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones; check value of
// "123456789" = 0xAE8B14860A799888), the algorithm S3 calls CRC64NVME. The storage node never
// hashes object data with it; it combines part CRCs into the whole object's CRC (`crc64nvmeCombine`)
// the way zlib's crc32_combine does, by multiplying by x^(8·len) modulo the polynomial.

const POLY = 0x9a6c9329ac4bc9b5n;
const MASK = 0xffffffffffffffffn;
/** x^0 in the reflected representation. */
const X0 = 1n << 63n;

let table: BigUint64Array | undefined;
function byteTable(): BigUint64Array {
  if (table) return table;
  table = new BigUint64Array(256);
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ POLY : c >> 1n;
    table[i] = c;
  }
  return table;
}

/** CRC-64/NVME of `data` (bytewise; for tests and small inputs). */
export function crc64nvme(data: Uint8Array): bigint {
  const t = byteTable();
  let crc = MASK;
  for (const b of data) crc = t[Number((crc ^ BigInt(b)) & 0xffn)]! ^ (crc >> 8n);
  return crc ^ MASK;
}

/** a·b modulo the polynomial, both reflected. */
function multmod(a: bigint, b: bigint): bigint {
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

/** x^(2^k) for k = 0..63. */
let powers: bigint[] | undefined;
function x2nTable(): bigint[] {
  if (powers) return powers;
  powers = [X0 >> 1n];
  for (let k = 1; k < 64; k++) powers.push(multmod(powers[k - 1]!, powers[k - 1]!));
  return powers;
}

/** x^(n·2^k) modulo the polynomial. */
function x2nmod(n: number, k: number): bigint {
  const t = x2nTable();
  let p = X0;
  let rest = BigInt(n);
  while (rest > 0n) {
    if (rest & 1n) p = multmod(t[k & 63]!, p);
    rest >>= 1n;
    k++;
  }
  return p;
}

/** CRC of A‖B from crc(A), crc(B) and B's length in bytes. */
export function crc64nvmeCombine(crcA: bigint, crcB: bigint, bytesB: number): bigint {
  return multmod(x2nmod(bytesB, 3), crcA) ^ crcB;
}
