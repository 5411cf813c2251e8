// The aws-chunked decoder: AWS's documented chunk-signature examples, split-buffer fuzzing, bad framing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { S3Error } from '../errors.ts';
import { AwsChunkedDecoder, type ChunkedDecoderOptions } from './chunked.ts';
import { signingKey } from './crypto.ts';

const key = signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3');
const scope = '20130524/us-east-1/s3/aws4_request';
const amzDate = '20130524T000000Z';

// AWS "sigv4-streaming" example: 65536 + 1024 bytes of 'a', seed signature from the header example.
const SIGNED: ChunkedDecoderOptions = {
  trailer: false,
  signing: {
    signingKey: key,
    scope,
    amzDate,
    seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  },
};
const signedWire = docBody(
  [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ],
  '',
);

// AWS "sigv4-streaming-trailers" example: the same data with a CRC32C trailer and its signature.
const SIGNED_TRAILER: ChunkedDecoderOptions = {
  trailer: true,
  signing: {
    signingKey: key,
    scope,
    amzDate,
    seedSignature: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  },
};
const trailerWire = docBody(
  [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ],
  'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n',
);

// What @aws-sdk/client-s3 sends for a stream body (captured): STREAMING-UNSIGNED-PAYLOAD-TRAILER.
const UNSIGNED_TRAILER: ChunkedDecoderOptions = { trailer: true };
const unsignedWire = Buffer.from('6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');

function docBody(sigs: string[], trailer: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n${trailer}\r\n`),
  ]);
}

function decodeAt(
  opts: ChunkedDecoderOptions,
  wire: Buffer,
  cuts: number[],
): { data: Buffer; trailers: Map<string, string> } {
  const d = new AwsChunkedDecoder(opts);
  const out: Buffer[] = [];
  let prev = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < wire.length)]
    .sort((a, b) => a - b)
    .concat(wire.length)) {
    out.push(...d.push(wire.subarray(prev, cut)));
    prev = cut;
  }
  return { data: Buffer.concat(out), trailers: d.end() };
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof S3Error && e.code === code);
}

describe('AWS documented streaming examples', () => {
  test('signed chunks: 66560 bytes of a', () => {
    const { data, trailers } = decodeAt(SIGNED, signedWire, []);
    assert.ok(data.equals(Buffer.alloc(66560, 'a')));
    assert.equal(trailers.size, 0);
  });
  test('signed chunks with a signed CRC32C trailer', () => {
    const { data, trailers } = decodeAt(SIGNED_TRAILER, trailerWire, []);
    assert.equal(data.length, 66560);
    assert.equal(trailers.get('x-amz-checksum-crc32c'), 'sOO8/Q==');
  });
  test('the SDK unsigned trailer form', () => {
    const { data, trailers } = decodeAt(UNSIGNED_TRAILER, unsignedWire, []);
    assert.equal(data.toString(), 'hello world');
    assert.equal(trailers.get('x-amz-checksum-crc32'), 'DUoRhQ==');
  });
});

describe('split-buffer fuzzing: any split decodes identically', () => {
  for (const [name, opts, wire] of [
    ['signed', SIGNED, signedWire],
    ['signed trailer', SIGNED_TRAILER, trailerWire],
    ['unsigned trailer', UNSIGNED_TRAILER, unsignedWire],
  ] as const) {
    test(name, () => {
      const whole = decodeAt(opts, wire, []);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 40 }), (cuts) => {
          const split = decodeAt(opts, wire, cuts);
          assert.ok(split.data.equals(whole.data));
          assert.deepEqual(split.trailers, whole.trailers);
        }),
        { numRuns: name === 'unsigned trailer' ? 500 : 60 },
      );
    });
  }
  test('one byte at a time, around every frame boundary', () => {
    const cuts = Array.from({ length: unsignedWire.length }, (_, i) => i);
    assert.equal(decodeAt(UNSIGNED_TRAILER, unsignedWire, cuts).data.toString(), 'hello world');
  });
  test('random bodies, random chunking, random splits (unsigned framing)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.array(fc.integer({ min: 0, max: 4000 }), { maxLength: 20 }),
        (data, chunk, cuts) => {
          const parts: Buffer[] = [];
          for (let i = 0; i < data.length; i += chunk) {
            const c = data.subarray(i, i + chunk);
            parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), Buffer.from(c), Buffer.from('\r\n'));
          }
          parts.push(Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'));
          const out = decodeAt(UNSIGNED_TRAILER, Buffer.concat(parts), cuts);
          assert.ok(out.data.equals(Buffer.from(data)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rejections', () => {
  test('a flipped data byte → SignatureDoesNotMatch', () => {
    const bad = Buffer.from(signedWire);
    bad[200] = 'b'.charCodeAt(0);
    throwsCode(() => decodeAt(SIGNED, bad, []), 'SignatureDoesNotMatch');
  });
  test('chunks out of order (signature chain) → SignatureDoesNotMatch', () => {
    const swapped = docBody(
      [
        '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
        'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
        'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
      ],
      '',
    );
    throwsCode(() => decodeAt(SIGNED, swapped, []), 'SignatureDoesNotMatch');
  });
  test('a tampered trailer value → SignatureDoesNotMatch', () => {
    const bad = Buffer.from(trailerWire.toString('latin1').replace('sOO8/Q==', 'AAAAAA=='), 'latin1');
    throwsCode(() => decodeAt(SIGNED_TRAILER, bad, []), 'SignatureDoesNotMatch');
  });
  test('a signed trailer without its signature → InvalidRequest', () => {
    const bad = Buffer.from(
      trailerWire.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''),
      'latin1',
    );
    throwsCode(() => decodeAt(SIGNED_TRAILER, bad, []), 'InvalidRequest');
  });
  test('a signed body with a chunk missing its signature → InvalidRequest', () => {
    throwsCode(() => decodeAt(SIGNED, Buffer.from('5\r\nhello\r\n0\r\n\r\n'), []), 'InvalidRequest');
  });
  test('truncated anywhere → IncompleteBody', () => {
    for (const cut of [0, 10, 100, 65_600, signedWire.length - 3]) {
      throwsCode(() => decodeAt(SIGNED, signedWire.subarray(0, cut), []), 'IncompleteBody');
    }
    throwsCode(() => decodeAt(UNSIGNED_TRAILER, unsignedWire.subarray(0, 12), []), 'IncompleteBody');
  });
  test('malformed framing → InvalidRequest', () => {
    for (const wire of [
      'zz\r\nhello\r\n0\r\n\r\n',
      '5\r\nhelloXX0\r\n\r\n',
      '5\r\nhello\r\n0\r\n\r\ntrailing junk',
      `${'1'.repeat(5000)}\r\n`,
      '12345678901234\r\n',
    ]) {
      throwsCode(() => decodeAt(UNSIGNED_TRAILER, Buffer.from(wire), []), 'InvalidRequest');
    }
    throwsCode(
      () => decodeAt({ trailer: false }, Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'), []),
      'InvalidRequest',
    );
  });
  test('a byte inserted into a size line (space, tab) → InvalidRequest, never a silent trim', () => {
    for (const wire of [
      '6 \r\nhello \r\n0\r\n\r\n',
      ' 6\r\nhello \r\n0\r\n\r\n',
      '6\t\r\nhello \r\n0\r\n\r\n',
    ]) {
      throwsCode(() => decodeAt(UNSIGNED_TRAILER, Buffer.from(wire), []), 'InvalidRequest');
    }
    const text = signedWire.toString('latin1');
    const sigEnd = text.indexOf('\r\n', text.lastIndexOf('chunk-signature='));
    const spaced = Buffer.from(`${text.slice(0, sigEnd)} ${text.slice(sigEnd)}`, 'latin1');
    throwsCode(() => decodeAt(SIGNED, spaced, []), 'InvalidRequest');
  });
  test('a line ending in a bare LF (its CR changed, e.g. into a space) → InvalidRequest, never a silent trim', () => {
    // Fuzz seed 465382589: the CR of the checksum trailer line flipped into a space was trimmed off and accepted.
    const trailerLf = unsignedWire.toString('latin1').replace('DUoRhQ==\r\n', 'DUoRhQ== \n');
    const sizeLf = unsignedWire.toString('latin1').replace('\r\n', '\n');
    for (const wire of [trailerLf, sizeLf]) {
      assert.notEqual(wire, unsignedWire.toString('latin1'));
      throwsCode(() => decodeAt(UNSIGNED_TRAILER, Buffer.from(wire, 'latin1'), []), 'InvalidRequest');
    }
  });
  test('more data than allowed fails at the chunk header, before the data arrives', () => {
    const d = new AwsChunkedDecoder({
      trailer: true,
      decodedBytesMax: 4,
      tooLarge: () => new S3Error('EntityTooLarge'),
    });
    throwsCode(() => d.push(Buffer.from('6\r\n')), 'EntityTooLarge');
  });
});
