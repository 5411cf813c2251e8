// Signature version 2 from real clients: the aws CLI v1's default `s3 presign`, s3cmd's V2 header signing
// (signature_v2 = True) for puts, multipart, gets and listing, and `s3cmd signurl`; `--no-sigv2`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { seededBytes, sha256hex } from './bytes.ts';
import { errorCode, sendRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { run, s3cmdConfig, skipUnlessInstalled } from './tree.ts';

const T = { timeout: 120_000 };

/** Path and query of a URL a client printed, for sendRaw (which talks to the target itself). */
function pathOf(url: string): { path: string; query: Record<string, string> } {
  const u = new URL(url.trim());
  return { path: u.pathname, query: Object.fromEntries(u.searchParams) };
}

/** The CLI v1 with its own default signature choice (V2 for presign). */
function awsEnv(work: string, target: Target): NodeJS.ProcessEnv {
  const config = join(work, 'aws-config');
  writeFileSync(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
  return {
    PATH: process.env.PATH,
    HOME: work,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
    AWS_ACCESS_KEY_ID: target.creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
    AWS_DEFAULT_REGION: target.region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

describe('SigV2 from real clients', async () => {
  const skip = await skipUnlessInstalled('aws', 's3cmd');
  let target: Target;
  let s3: S3Client;
  let work: string;
  const bucket = uniqueBucket('sigv2');
  before(async () => {
    if (skip) return;
    target = await startTarget();
    s3 = s3For(target);
    work = mkdtempSync(join(tmpdir(), 'quire-sigv2-'));
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/hello world.txt', Body: 'hello v2' }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('aws s3 presign (the CLI v1 default is SigV2) is fetched without credentials', {
    ...T,
    skip,
  }, async () => {
    const env = awsEnv(work, target);
    const res = await run(
      'aws',
      ['--endpoint-url', target.endpoint, 's3', 'presign', `s3://${bucket}/dir/hello world.txt`],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /AWSAccessKeyId=/, 'a V2 URL');
    const got = await sendRaw(target, { method: 'GET', ...pathOf(res.stdout) });
    assert.equal(got.status, 200, got.body.toString());
    assert.equal(got.body.toString(), 'hello v2');
    // The URL names one object: another path with the same signature is refused.
    const other = pathOf(res.stdout);
    const forged = await sendRaw(target, { method: 'GET', path: `/${bucket}/dir/other`, query: other.query });
    assert.equal(forged.status, 403);
    assert.equal(errorCode(forged.body), 'SignatureDoesNotMatch');
  });

  test('V2 header signing (s3cmd signature_v2): put, multipart put, get, info, ls, del', {
    ...T,
    skip,
  }, async () => {
    const cfg = s3cmdConfig(work, target, { signatureV2: true });
    const s3cmd = async (...args: string[]) => {
      const res = await run('s3cmd', ['-c', cfg, '--debug', ...args], { PATH: process.env.PATH, HOME: work });
      assert.equal(res.code, 0, `s3cmd ${args.join(' ')}\n${res.stderr.slice(-3000)}`);
      assert.match(res.stderr, /Using signature v2/, 'signed with V2');
      assert.doesNotMatch(res.stderr, /Using signature v4/, 'no fallback to V4');
      return res.stdout;
    };
    const small = join(work, 'small name+.txt');
    writeFileSync(small, 'v2 body');
    const big = join(work, 'big.bin');
    writeFileSync(big, seededBytes(21, 6 * 1024 * 1024 + 17));
    await s3cmd('put', '--mime-type=text/plain', small, `s3://${bucket}/v2/a+b c.txt`);
    await s3cmd('put', '--multipart-chunk-size-mb=5', big, `s3://${bucket}/v2/big.bin`);
    const out = join(work, 'back.bin');
    await s3cmd('get', '--force', `s3://${bucket}/v2/big.bin`, out);
    assert.equal(sha256hex(readFileSync(out)), sha256hex(readFileSync(big)));
    assert.match(await s3cmd('info', `s3://${bucket}/v2/a+b c.txt`), /text\/plain/);
    const listed = await s3cmd('ls', `s3://${bucket}/v2/`);
    assert.match(listed, /v2\/a\+b c\.txt/);
    assert.match(listed, /v2\/big\.bin/);
    await s3cmd('del', `s3://${bucket}/v2/big.bin`);
  });

  test('s3cmd signurl', { ...T, skip }, async () => {
    const cfg = s3cmdConfig(work, target);
    const res = await run('s3cmd', ['-c', cfg, 'signurl', `s3://${bucket}/dir/hello world.txt`, '+600'], {
      PATH: process.env.PATH,
      HOME: work,
    });
    assert.equal(res.code, 0, res.stderr);
    const got = await sendRaw(target, { method: 'GET', ...pathOf(res.stdout) });
    assert.equal(got.status, 200, got.body.toString());
    assert.equal(got.body.toString(), 'hello v2');
  });
});

describe('--no-sigv2', async () => {
  const skip = await skipUnlessInstalled('aws', 's3cmd');
  let target: Target;
  let work: string;
  before(async () => {
    if (skip) return;
    target = await startTarget({ env: { QUIRE_SIGV2: 'false' } });
    work = mkdtempSync(join(tmpdir(), 'quire-nosigv2-'));
  });
  after(async () => {
    await target?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('V2 presigned URLs and V2 headers are refused with InvalidRequest', {
    ...T,
    skip: skip || (process.env.QUIRE_S3_ENDPOINT ? 'needs an embedded server' : false),
  }, async () => {
    const env = awsEnv(work, target);
    const res = await run(
      'aws',
      ['--endpoint-url', target.endpoint, 's3', 'presign', 's3://any-bucket/key'],
      env,
    );
    assert.equal(res.code, 0, res.stderr);
    const got = await sendRaw(target, { method: 'GET', ...pathOf(res.stdout) });
    assert.equal(got.status, 400);
    assert.equal(errorCode(got.body), 'InvalidRequest');
    // Refused before the signature is even computed (s3cmd itself would fall back to V4 on this answer).
    const header = await sendRaw(target, {
      method: 'GET',
      path: '/',
      headers: {
        date: new Date().toUTCString(),
        authorization: `AWS ${target.creds.accessKeyId}:c2lnbmF0dXJlIGhlcmU=`,
      },
    });
    assert.equal(header.status, 400);
    assert.equal(errorCode(header.body), 'InvalidRequest');
  });
});
