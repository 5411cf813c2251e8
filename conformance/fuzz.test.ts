// A seeded fuzz test of the HTTP surface (generator in fuzz-gen.ts) against a real server process: validly signed
// requests with mutated parameters, headers, keys and XML bodies; aws-chunked bodies with corrupted framing;
// malformed HTTP on raw sockets; broken signatures. It fails on any 5xx but 501/503, an InternalError, a request
// with no answer by its deadline (a hang), a broken-signature or broken-body request that succeeds, the server
// going down, or a bug logged by the server (unhandled rejection, uncaught exception, internal error).
//
// The seed is printed; QUIRE_FUZZ_SEED=<n> replays it (each worker's sequence is fixed by the seed), and
// QUIRE_FUZZ_MS sets the time budget (default 60 s; a few minutes at most in CI), QUIRE_FUZZ_TRACE=<file> logs
// every case and its outcome.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { badPresignedCase, type FuzzCase, type FuzzFixtures, nextCase, Rng } from './fuzz-gen.ts';
import { errorCode } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { WireConnection } from './wire.ts';

const SEED = Number(process.env.QUIRE_FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const BUDGET_MS = Number(process.env.QUIRE_FUZZ_MS ?? 60_000);
const WORKERS = 4;
/** No answer and no close by then: the request hangs. Well above the server's 1.5 s body timeout. */
const REQUEST_DEADLINE_MS = 10_000;
const HEALTH_EVERY = 25;

/** Bugs the server logs even when it survives them. */
const LOGGED_BUGS =
  /unhandled promise rejection|uncaught exception|"msg":"internal error"|request handling failed/;

type Outcome = { kind: 'answer'; status: number; code: string } | { kind: 'closed' } | { kind: 'hang' };

async function send(target: Target, c: FuzzCase): Promise<Outcome> {
  const conn = await WireConnection.open(target);
  try {
    for (const piece of c.wire) await conn.write(piece);
    const res = await conn.readResponse({
      head: c.method === 'HEAD',
      skipContinue: true,
      timeoutMs: REQUEST_DEADLINE_MS,
    });
    return { kind: 'answer', status: res.status, code: errorCode(res.body) };
  } catch (err) {
    if (process.env.QUIRE_FUZZ_TRACE)
      appendFileSync(process.env.QUIRE_FUZZ_TRACE, `  read failed: ${String(err)}\n`);
    return conn.isClosed ? { kind: 'closed' } : { kind: 'hang' };
  } finally {
    conn.destroy();
  }
}

function problem(c: FuzzCase, o: Outcome): string | undefined {
  if (o.kind === 'hang') return `no answer within ${REQUEST_DEADLINE_MS} ms (hang)`;
  if (o.kind === 'closed') return c.mayClose ? undefined : 'connection closed without an answer';
  if (o.status >= 500 && o.status !== 501 && o.status !== 503) return `HTTP ${o.status} ${o.code}`;
  if (o.code === 'InternalError') return `InternalError with HTTP ${o.status}`;
  if (c.mustFail && o.status < 400)
    return `succeeded (HTTP ${o.status}) although its signature or body is broken`;
  return undefined;
}

async function healthy(target: Target): Promise<boolean> {
  try {
    const res = await fetch(`${target.endpoint}/health`, {
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function printable(wire: Buffer[]): string {
  const all = Buffer.concat(wire);
  const shown = JSON.stringify(all.subarray(0, 1500).toString('latin1'));
  return all.length > 1500 ? `${shown} … (${all.length} bytes)` : shown;
}

describe(`HTTP fuzz (seed ${SEED})`, () => {
  let target: Target;
  let s3: S3Client;
  const fixtures: FuzzFixtures = {
    bucket: uniqueBucket('fuzz'),
    keys: ['k1', 'dir/k2', '\x01ctrl', 'ü'],
    uploadKey: 'mp',
    uploadId: '',
  };

  before(
    async () => {
      target = await startTarget({
        env: { QUIRE_BODY_TIMEOUT_MS: '1500', QUIRE_HEADERS_TIMEOUT_MS: '3000' },
      });
      s3 = s3For(target);
      await s3.send(new CreateBucketCommand({ Bucket: fixtures.bucket }));
      for (const key of fixtures.keys) {
        await s3.send(new PutObjectCommand({ Bucket: fixtures.bucket, Key: key, Body: `body of ${key}` }));
      }
      const up = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: fixtures.bucket, Key: fixtures.uploadKey }),
      );
      fixtures.uploadId = up.UploadId ?? '';
      // The broken-signature cases only mean something if the same requests untampered succeed.
      for (const method of ['GET', 'HEAD']) {
        const control = await badPresignedCase(new Rng(1), target, fixtures, { method });
        const outcome = await send(target, control);
        assert.deepEqual(outcome, { kind: 'answer', status: 200, code: '' }, `control: ${control.what}`);
      }
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      s3?.destroy();
      await target?.close();
    },
    { timeout: 60_000 },
  );

  test('no 500, crash, hang or success without a valid signature', {
    timeout: BUDGET_MS + 120_000,
  }, async () => {
    console.log(
      `fuzz: seed ${SEED} (replay with QUIRE_FUZZ_SEED=${SEED}), budget ${BUDGET_MS} ms, ${WORKERS} workers`,
    );
    const endAt = Date.now() + BUDGET_MS;
    const counts: Record<string, number> = {};
    let failure: string | undefined;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const rng = new Rng((SEED ^ Math.imul(worker + 1, 0x9e3779b1)) >>> 0);
        for (let i = 0; Date.now() < endAt && failure === undefined; i++) {
          const c = await nextCase(rng, target, fixtures);
          const t0 = Date.now();
          if (process.env.QUIRE_FUZZ_TRACE)
            appendFileSync(
              process.env.QUIRE_FUZZ_TRACE,
              `${t0} w${worker} #${i} start ${c.family}: ${c.what}\n`,
            );
          const outcome = await send(target, c);
          if (process.env.QUIRE_FUZZ_TRACE)
            appendFileSync(
              process.env.QUIRE_FUZZ_TRACE,
              `${Date.now()} w${worker} #${i} end ${JSON.stringify(outcome)} ${Date.now() - t0} ms\n`,
            );
          counts[c.family] = (counts[c.family] ?? 0) + 1;
          let why = problem(c, outcome);
          if (why === undefined && i % HEALTH_EVERY === HEALTH_EVERY - 1 && !(await healthy(target))) {
            why = 'the server stopped answering /health after this request';
          }
          if (why !== undefined) {
            failure ??=
              `seed ${SEED} worker ${worker} case ${i} (${c.family}: ${c.what}): ${why}\n` +
              `request: ${printable(c.wire)}\n--- server log tail ---\n${target.logTail().split('\n').slice(-12).join('\n')}`;
            return;
          }
        }
      }),
    );
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`fuzz: ${total} requests in ${(BUDGET_MS / 1000).toFixed(0)} s: ${JSON.stringify(counts)}`);
    if (failure !== undefined) assert.fail(failure);
    assert.ok(await healthy(target), 'server down at the end');
    const log = readFileSync(join(target.workDir ?? '', 'server.log'), 'utf8');
    const bug = log.split('\n').find((line) => LOGGED_BUGS.test(line));
    assert.equal(bug, undefined, `seed ${SEED}: the server logged a bug: ${bug}`);
  });
});
