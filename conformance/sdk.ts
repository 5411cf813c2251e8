// The SDK side of the suite: clients bound to a target, unique bucket names and error checks.
import assert from 'node:assert/strict';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Credentials, Target } from './target.ts';

/** A client for the target; default checksum behaviour on; no retries, so failures show as they are. */
export function s3For(target: Target, creds: Credentials = target.creds, virtualHost = false): S3Client {
  return new S3Client({
    endpoint: virtualHost ? `http://localhost:${target.port}` : target.endpoint,
    region: target.region,
    credentials: creds,
    forcePathStyle: !virtualHost,
    maxAttempts: 1,
  });
}

let bucketSeq = 0;

/** A bucket name unique within this process and across concurrently running test files. */
export function uniqueBucket(prefix: string): string {
  bucketSeq += 1;
  return `${prefix}-${process.pid}-${bucketSeq}`.toLowerCase().slice(0, 63);
}

export interface ExpectedError {
  code: string;
  status: number;
}

/** Awaits `op`, requires it to fail with the S3 error `code` and HTTP `status`, and returns the error. */
export async function expectS3Error(
  op: Promise<unknown>,
  expected: ExpectedError,
  what = '',
): Promise<S3ServiceException> {
  let err: unknown;
  try {
    await op;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: expected ${expected.code} (${expected.status}) but the call succeeded`);
  if (!(err instanceof S3ServiceException)) {
    throw new assert.AssertionError({
      message: `${what}: expected S3 error ${expected.code}, got ${String(err)}`,
    });
  }
  const got = { code: err.name, status: err.$metadata.httpStatusCode };
  assert.deepEqual(got, expected, `${what}: ${err.message}`);
  assert.ok(err.$metadata.requestId, `${what}: error response lacks x-amz-request-id`);
  return err;
}

/** Reads an SDK streaming body fully. */
export async function readBody(
  body: { transformToByteArray(): Promise<Uint8Array> } | undefined,
): Promise<Buffer> {
  assert.ok(body, 'response has no body');
  return Buffer.from(await body.transformToByteArray());
}

/** For answers that carry no error body (304): only the HTTP status can be checked. */
export async function expectStatus(op: Promise<unknown>, status: number, what = ''): Promise<void> {
  let err: unknown;
  try {
    await op;
  } catch (e) {
    err = e;
  }
  assert.ok(
    err instanceof S3ServiceException,
    `${what}: expected HTTP ${status}, got ${String(err ?? 'success')}`,
  );
  assert.equal(err.$metadata.httpStatusCode, status, `${what}: ${err.name}`);
}

/** S3 lists in UTF-8 byte order, which differs from JS string order for astral characters. */
export function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Decodes a key from an EncodingType=url listing (form-style: `+` may stand for a space). */
export function decodeListedKey(k: string): string {
  return decodeURIComponent(k.replace(/\+/g, ' '));
}
