// Timeouts and shutdown, on a real server process with small configured limits: a stalled body is answered
// 400 RequestTimeout and freed; headers must arrive in time; SIGTERM lets in-flight requests finish within the
// grace time, aborts the rest unacknowledged and exits 0. Today's failure: a stalled PUT stayed open for 400 s
// and kept the server from stopping.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { errorCode, keyPath, signRaw } from './raw.ts';
import { expectS3Error, s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { requestHead, WireConnection } from './wire.ts';

const TIMEOUT = { timeout: 60_000 };

/** Opens a connection and sends the head of a signed PUT of `size` bytes plus the first `sent` of them. */
async function startPut(target: Target, path: string, body: Buffer, sent: number): Promise<WireConnection> {
  const signed = await signRaw(target, {
    method: 'PUT',
    path,
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(body.length) },
  });
  const conn = await WireConnection.open(target);
  await conn.write(requestHead(signed));
  if (sent > 0) await conn.write(body.subarray(0, sent));
  return conn;
}

/** Polls `check` (cheap, local) until it holds; for things only visible from outside, like a log line. */
async function eventually(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('request timeouts (body 1 s, headers 1 s)', () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('timeouts');

  before(async () => {
    target = await startTarget({
      env: { QUIRE_BODY_TIMEOUT_MS: '1000', QUIRE_HEADERS_TIMEOUT_MS: '1000' },
    });
    s3 = s3For(target);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }, TIMEOUT);

  after(async () => {
    s3?.destroy();
    await target?.close();
  }, TIMEOUT);

  for (const [name, size] of [
    ['small', 100_000],
    ['large', 8 * 1024 * 1024],
  ] as const) {
    test(
      `a ${name} PUT body that stalls → 400 RequestTimeout, connection closed, nothing stored`,
      TIMEOUT,
      async () => {
        const body = seededBytes(7, size);
        const started = Date.now();
        const conn = await startPut(target, keyPath(bucket, `stalled-${name}`), body, 1000);
        try {
          const res = await conn.readResponse({ timeoutMs: 15_000 });
          assert.equal(res.status, 400);
          assert.equal(errorCode(res.body), 'RequestTimeout');
          assert.ok(Date.now() - started >= 900, 'answered before the timeout');
          assert.equal(await conn.closesWithin(5000), true, 'connection left open');
        } finally {
          conn.destroy();
        }
        await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `stalled-${name}` })), {
          code: 'NotFound',
          status: 404,
        });
      },
    );
  }

  test('a slow body that keeps sending within the timeout succeeds', TIMEOUT, async () => {
    const body = seededBytes(8, 4000);
    const conn = await startPut(target, keyPath(bucket, 'slow'), body, 0);
    try {
      for (let at = 0; at < body.length; at += 1000) {
        await conn.write(body.subarray(at, at + 1000));
        await new Promise((r) => setTimeout(r, 600)); // the client's pace: below the 1 s stall limit
      }
      const res = await conn.readResponse({ timeoutMs: 15_000 });
      assert.equal(res.status, 200, res.body.toString());
    } finally {
      conn.destroy();
    }
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'slow' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  });

  test(
    'a GET whose client stops reading is cut after the timeout (its read handle released)',
    TIMEOUT,
    async () => {
      const size = 32 * 1024 * 1024; // more than the socket buffers on both ends hold
      const body = seededBytes(12, size);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'unread', Body: body }));
      const signed = await signRaw(target, { method: 'GET', path: keyPath(bucket, 'unread') });
      const socket = connect(target.port, target.host);
      socket.on('error', () => {});
      try {
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(requestHead(signed));
        socket.pause(); // read nothing
        // The access-log line is written when the server is done with the response: cut, or sent whole.
        await eventually(
          () => /"op":"GetObject"[^\n]*"key":"unread"/.test(target.logTail()),
          'the server finishes the GET',
          20_000,
        );
        let received = 0;
        socket.on('data', (c: Buffer) => {
          received += c.length;
        });
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.resume();
        });
        assert.ok(received < size, `received all ${received} bytes: the stalled response was not cut`);
      } finally {
        socket.destroy();
      }
    },
  );

  test(
    'headers that do not arrive in time → 400 RequestTimeout and the connection closed',
    TIMEOUT,
    async () => {
      const conn = await WireConnection.open(target);
      try {
        await conn.write(`PUT /${bucket}/h HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
        const res = await conn.readResponse({ timeoutMs: 15_000 });
        assert.equal(res.status, 400);
        assert.equal(errorCode(res.body), 'RequestTimeout');
        assert.equal(await conn.closesWithin(5000), true);
      } finally {
        conn.destroy();
      }
    },
  );
});

describe('SIGTERM with requests in flight (grace 1.5 s)', () => {
  let target: Target;
  let s3: S3Client;
  const bucket = uniqueBucket('shutdown');

  before(async () => {
    // The default 60 s body timeout: only the shutdown grace can end the stalled PUT here.
    target = await startTarget({ env: { QUIRE_SHUTDOWN_GRACE_MS: '1500' } });
    s3 = s3For(target);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }, TIMEOUT);

  after(async () => {
    s3?.destroy();
    await target?.close();
  }, TIMEOUT);

  test(
    'a request that finishes within the grace is acknowledged and kept; a stalled one is aborted, unstored; exit 0',
    TIMEOUT,
    async () => {
      const finishing = seededBytes(9, 3 * 1024 * 1024);
      const stalled = seededBytes(10, 3 * 1024 * 1024);
      const a = await startPut(target, keyPath(bucket, 'stalled'), stalled, 64 * 1024);
      const b = await startPut(target, keyPath(bucket, 'finishing'), finishing, 64 * 1024);
      const logBefore = target.logTail();
      const started = Date.now();
      const stopped = target.stop();
      try {
        await eventually(
          () => target.logTail() !== logBefore && target.logTail().includes('stopping'),
          'the server logs that it is stopping',
        );
        await b.write(finishing.subarray(64 * 1024));
        const res = await b.readResponse({ timeoutMs: 10_000 });
        assert.equal(res.status, 200, res.body.toString());
        assert.equal(res.headers.connection, 'close');
        // The stalled one gets no answer: its connection is cut once the grace is over.
        await a.closed;
        await assert.rejects(a.readResponse({ timeoutMs: 100 }), /closed/);
      } finally {
        a.destroy();
        b.destroy();
      }
      assert.equal(await stopped, 0, target.logTail());
      assert.ok(Date.now() - started < 1500 + 8000, `stop took ${Date.now() - started} ms`);
      // The log reaches its file through a pipe: wait for the last lines rather than read it at exit.
      await eventually(() => target.logTail().includes('stopped cleanly'), 'the server logs a clean stop');
      assert.match(target.logTail(), /aborting requests still in flight/);

      await target.start();
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'finishing' }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), finishing);
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stalled' })), {
        code: 'NotFound',
        status: 404,
      });
    },
  );
});
