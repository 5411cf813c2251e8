// A large upload the client abandons mid-body leaves no temp file in the data directory (removed
// when the body breaks), and a temp file left by a process that died mid-upload is removed at start.
// Embedded only: it looks into the server's data directory.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { seededBytes, sha256hex } from './bytes.ts';
import { fullPath, keyPath, signRaw } from './raw.ts';
import { readBody, s3For, uniqueBucket } from './sdk.ts';
import { isExternal, startTarget, type Target } from './target.ts';

const MiB = 1024 * 1024;

/** Temp files anywhere under the data directory. */
function tempFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((n) => n.endsWith('.tmp'));
}

/** Waits (bounded) until `cond` holds; the server frees a broken upload when it sees the socket close. */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('abandoned large uploads leave no temp files', {
  skip: isExternal() && 'needs the self-started server',
}, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;

  before(async () => {
    target = await startTarget();
    s3 = s3For(target);
    bucket = uniqueBucket('abort');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('a client that disconnects mid-body: the temp file goes, the key stays absent', {
    timeout: 60_000,
  }, async () => {
    const dataDir = target.dataDir!;
    for (let i = 0; i < 3; i++) {
      const path = keyPath(bucket, `big-${i}`);
      const signed = await signRaw(target, {
        method: 'PUT',
        path,
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(8 * MiB) },
      });
      const head = [
        `PUT ${fullPath(signed)} HTTP/1.1`,
        ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`),
      ];
      const sock = connect(target.port, target.host);
      sock.on('error', () => {});
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(`${head.join('\r\n')}\r\n\r\n`);
      sock.write(seededBytes(i, 3 * MiB));
      // The server is writing the body into a temp file: now the client goes away.
      await until(() => tempFiles(dataDir).length > 0, 'the upload to reach the volume');
      sock.destroy();
      await until(() => tempFiles(dataDir).length === 0, `temp file of upload ${i} removed`);
      await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: `big-${i}` })), {
        name: 'NoSuchKey',
      });
    }
    // The server still takes a large upload whole.
    const body = seededBytes(9, 3 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'whole', Body: body }));
    const got = await readBody((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole' }))).Body);
    assert.equal(sha256hex(got), sha256hex(body));
  });

  test('a temp file left by a process killed mid-upload is removed at start', {
    timeout: 60_000,
  }, async () => {
    await target.kill();
    const volumeDir = join(target.dataDir!, 'volumes', 'v1');
    writeFileSync(join(volumeDir, 's-00099999.qf.tmp'), Buffer.alloc(MiB, 7));
    await target.start();
    assert.deepEqual(tempFiles(target.dataDir!), []);
    const got = await readBody((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'whole' }))).Body);
    assert.equal(got.length, 3 * MiB);
  });
});
