// CRC-64/NVME: the catalogue's check value, a bit-at-a-time reference, any split, and combining.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Crc64Nvme, crc64nvme, crc64nvmeCombine } from './crc64nvme.mjs';

// Bit-at-a-time with BigInt: slow and obviously right, to pin the table-driven one.
function reference(data: Uint8Array): bigint {
  const poly = 0x9a6c9329ac4bc9b5n;
  let crc = 0xffffffffffffffffn;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

test('known answers: the check value of "123456789", the empty string, the digest bytes', {
  timeout: 10_000,
}, () => {
  assert.equal(crc64nvme(Buffer.from('123456789')), 0xae8b14860a799888n);
  assert.equal(crc64nvme(Buffer.alloc(0)), 0n);
  assert.equal(new Crc64Nvme().update(Buffer.from('123456789')).digest().toString('hex'), 'ae8b14860a799888');
});

test('equals the bit-at-a-time reference, whole and over any split', { timeout: 30_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 300 }), (data, cut) => {
      const at = Math.min(cut, data.length);
      const split = new Crc64Nvme().update(data.subarray(0, at)).update(data.subarray(at));
      assert.equal(crc64nvme(data), reference(data));
      assert.equal(split.digest().readBigUInt64BE(0), reference(data));
    }),
    { numRuns: 300 },
  );
});

test('combine equals the CRC of the concatenation, for empty and odd lengths', { timeout: 30_000 }, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ maxLength: 5000 }), (a, b) => {
      assert.equal(crc64nvmeCombine(crc64nvme(a), crc64nvme(b), b.length), crc64nvme(Buffer.concat([a, b])));
    }),
    { numRuns: 100 },
  );
  assert.equal(
    crc64nvmeCombine(crc64nvme(Buffer.alloc(0)), crc64nvme(Buffer.from('x')), 1),
    crc64nvme(Buffer.from('x')),
  );
});
