import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { crc64nvme } from '../common/crc64nvme.mjs';
import type { Checksums } from './api.ts';
import { compositeChecksums } from './composite-checksum.ts';
import { bytes } from './testing/harness.ts';

const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const be64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const parts = [bytes(1000, 1), bytes(5, 2), bytes(70_000, 3)];

function partSums(f: (d: Buffer) => Buffer, alg: keyof Checksums) {
  return parts.map((d) => ({ size: d.length, checksums: { [alg]: f(d).toString('base64') } }));
}

test('CRC-32C check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')) >>> 0, 0xe3069283);
});

test('composite CRC32, CRC32C, SHA1, SHA256: checksum of the binary part checksums, then -N', () => {
  const cases = [
    ['CRC32', (d: Buffer) => be32(crc32(d))],
    ['CRC32C', (d: Buffer) => be32(crc32c(d))],
    ['SHA1', (d: Buffer) => createHash('sha1').update(d).digest()],
    ['SHA256', (d: Buffer) => createHash('sha256').update(d).digest()],
  ] as const;
  for (const [alg, f] of cases) {
    const raw = Buffer.concat(parts.map(f));
    const want = `${f(raw).toString('base64')}-3`;
    assert.deepEqual(compositeChecksums(alg, partSums(f, alg)), {
      checksums: { [alg]: want },
      checksumType: 'COMPOSITE',
    });
  }
});

test('CRC64NVME: the whole object CRC (FULL_OBJECT) from part CRCs and sizes, no data read', () => {
  const got = compositeChecksums(
    'CRC64NVME',
    partSums((d) => be64(crc64nvme(d)), 'CRC64NVME'),
  );
  assert.deepEqual(got, {
    checksums: { CRC64NVME: be64(crc64nvme(Buffer.concat(parts))).toString('base64') },
    checksumType: 'FULL_OBJECT',
  });
});

test('no algorithm, or a part without its checksum: no checksum at all', () => {
  assert.deepEqual(
    compositeChecksums(
      undefined,
      partSums((d) => be32(crc32(d)), 'CRC32'),
    ),
    { checksums: {} },
  );
  const some = partSums((d) => be32(crc32c(d)), 'CRC32C');
  some[1]!.checksums = {};
  assert.deepEqual(compositeChecksums('CRC32C', some), { checksums: {} });
});
