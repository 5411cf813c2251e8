// Checksum vectors (the CRC catalogue's "123456789" checks), incremental = one-shot, and the worker pool.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  computeChecksum,
  createHasher,
  HASH_NAMES,
  HashingPool,
  isValidDigestBase64,
  openBodyHasher,
} from './index.ts';

const CHECK = Buffer.from('123456789');

describe('check values', () => {
  const expected: Record<string, string> = {
    CRC32: 'cbf43926',
    CRC32C: 'e3069283',
    CRC64NVME: 'ae8b14860a799888',
    MD5: createHash('md5').update(CHECK).digest('hex'),
    SHA1: createHash('sha1').update(CHECK).digest('hex'),
    SHA256: createHash('sha256').update(CHECK).digest('hex'),
  };
  for (const name of HASH_NAMES) {
    test(`${name} of "123456789"`, () => {
      assert.equal(createHasher(name).update(CHECK).digest().toString('hex'), expected[name]);
    });
  }
  test('base64 of the big-endian digest, as S3 sends it', () => {
    assert.equal(computeChecksum('CRC32', Buffer.alloc(0)), 'AAAAAA==');
    assert.equal(computeChecksum('CRC32', Buffer.from('hello world')), 'DUoRhQ==');
    assert.equal(
      computeChecksum('CRC64NVME', CHECK),
      Buffer.from('ae8b14860a799888', 'hex').toString('base64'),
    );
  });
});

describe('properties', () => {
  test('incremental over any split equals one shot, for every algorithm', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat({ max: 600 }), { maxLength: 8 }),
        (data, cuts) => {
          const points = [...new Set(cuts.filter((c) => c <= data.length))].sort((a, b) => a - b);
          for (const name of HASH_NAMES) {
            const h = createHasher(name);
            let prev = 0;
            for (const p of [...points, data.length]) {
              h.update(data.subarray(prev, p));
              prev = p;
            }
            assert.equal(h.digestBase64(), computeChecksum(name, data));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
  test('digest validation: exact length, canonical base64', () => {
    assert.ok(isValidDigestBase64('CRC32', 'DUoRhQ=='));
    assert.ok(!isValidDigestBase64('CRC32', 'DUoRhQ='));
    assert.ok(!isValidDigestBase64('CRC32', 'DUoRhQ#='));
    assert.ok(!isValidDigestBase64('SHA256', 'DUoRhQ=='));
    assert.ok(isValidDigestBase64('MD5', createHash('md5').update('x').digest('base64')));
  });
});

describe('HashingPool', () => {
  const pool = new HashingPool({
    maxThreads: 1,
    minThreads: 0,
    idleTimeoutMs: 1000,
    batchBytes: 64 * 1024,
    inFlightBytesMax: 256 * 1024,
  });
  after(() => pool.close());

  test('several uploads at once, each with its own state, backpressure honoured', async () => {
    const bodies = [1, 2, 3].map((seed) => {
      const b = Buffer.alloc(700_000 + seed * 1000);
      for (let i = 0; i < b.length; i++) b[i] = (i * seed) & 0xff;
      return b;
    });
    const results = await Promise.all(
      bodies.map(async (b) => {
        const s = pool.open(['MD5', 'CRC32', 'CRC64NVME']);
        for (let i = 0; i < b.length; i += 10_000) {
          const wait = s.update(b.subarray(i, i + 10_000));
          if (wait) await wait;
        }
        return s.digest();
      }),
    );
    results.forEach((digests, i) => {
      const b = bodies[i] as Buffer;
      assert.equal(digests.get('MD5')?.toString('hex'), createHash('md5').update(b).digest('hex'));
      assert.equal(digests.get('CRC32')?.toString('base64'), computeChecksum('CRC32', b));
      assert.equal(digests.get('CRC64NVME')?.toString('base64'), computeChecksum('CRC64NVME', b));
    });
  });

  test('many uploads at once share one in-flight budget: each waits at its share, all digests right', async () => {
    const shared = new HashingPool({
      maxThreads: 1,
      minThreads: 0,
      idleTimeoutMs: 1000,
      batchBytes: 64 * 1024,
      inFlightBytesMax: 8 * 1024 * 1024,
      poolInFlightBytesMax: 1024 * 1024,
    });
    try {
      const body = Buffer.alloc(256 * 1024, 7);
      const sessions = Array.from({ length: 8 }, () => shared.open(['MD5']));
      // 8 uploads share 1 MiB: 128 KiB each, so 256 KiB unacknowledged must make every one of them wait
      // (alone, an upload could have 8 MiB in flight).
      const waits = sessions.map((s) => s.update(body));
      assert.ok(waits.every((w) => w instanceof Promise));
      await Promise.all(waits);
      const want = createHash('md5').update(body).digest('hex');
      for (const s of sessions) assert.equal((await s.digest()).get('MD5')?.toString('hex'), want);
      // Their shares return: one upload alone may again have more than 128 KiB in flight.
      const alone = shared.open(['MD5']);
      assert.equal(alone.update(body), undefined);
      await alone.digest();
    } finally {
      await shared.close();
    }
  });

  test('an aborted upload does not disturb the next', async () => {
    const s = pool.open(['MD5']);
    s.update(Buffer.alloc(100_000));
    s.abort();
    const t = pool.open(['MD5']);
    t.update(Buffer.from('abc'));
    assert.equal(
      (await t.digest()).get('MD5')?.toString('hex'),
      createHash('md5').update('abc').digest('hex'),
    );
  });

  test('openBodyHasher hashes small known-length bodies inline', async () => {
    const h = openBodyHasher(['MD5'], { expectedBytes: 10, pool });
    assert.equal(h.update(Buffer.from('abc')), undefined);
    assert.equal(
      (await h.digest()).get('MD5')?.toString('hex'),
      createHash('md5').update('abc').digest('hex'),
    );
  });
});
