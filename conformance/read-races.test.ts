// Readers never get wrong bytes, over real HTTP: GET, HEAD and ranged GET race PUT overwrites and DELETEs
// of the same few keys (a small object, a singlefile over 1 MiB, a two-part multipart object). Every 200
// or 206 must carry one whole version: Content-Length, ETag and body together; every other answer must be
// a clean 404 NoSuchKey; no connection may close without a complete response. Seeded, bounded in count
// and time; 127.0.0.1 only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { makeRandom, md5hex, multipartEtag, seededBytes } from './bytes.ts';
import { errorCode, keyPath, type RawResponse, signedRaw } from './raw.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';

const SEED = Number(process.env.QUIRE_RACE_SEED ?? 0x2ace5);
const READS = 900;
const WRITES = 240;
const READERS = 8;
const WRITERS = 3;
const MIN_PART = 1024 * 1024;

type Kind = 'small' | 'single' | 'multi';
const KEYS: Array<{ key: string; kind: Kind }> = [
  { key: 'race/small', kind: 'small' },
  { key: 'race/small-2', kind: 'small' },
  { key: 'race/single', kind: 'single' },
  { key: 'race/multi', kind: 'multi' },
];

describe('read races over HTTP', { timeout: 180_000 }, () => {
  let target: Target;
  let s3: S3Client;
  let bucket: string;
  /** key → every version ever written (quoted ETag → body). */
  const versions = new Map<string, Map<string, Buffer>>();

  before(async () => {
    target = await startTarget({ env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(MIN_PART) } });
    s3 = s3For(target);
    bucket = uniqueBucket('races');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const { key } of KEYS) versions.set(key, new Map());
  });
  after(async () => {
    await target?.close();
  });

  async function write(key: string, kind: Kind, n: number, rnd: () => number): Promise<void> {
    if (kind === 'multi') {
      const p1 = seededBytes(SEED + n, MIN_PART + (rnd() % 4096));
      const p2 = seededBytes(SEED + n + 1, 1 + (rnd() % 3000));
      versions.get(key)!.set(multipartEtag([p1, p2]), Buffer.concat([p1, p2]));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const parts = [];
      for (const [i, body] of [p1, p2].entries()) {
        const r = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }),
        );
        parts.push({ PartNumber: i + 1, ETag: r.ETag! });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return;
    }
    // Small ones often keep their size (in-place rewrites into slack) and sometimes change it.
    const size =
      kind === 'small'
        ? rnd() % 2 === 0
          ? 3000
          : 500 + (rnd() % 6000)
        : 1024 * 1024 + 1 + (rnd() % (512 * 1024));
    const body = seededBytes(SEED * 31 + n, size);
    versions.get(key)!.set(`"${md5hex(body)}"`, body);
    const r = await signedRaw(target, { method: 'PUT', path: keyPath(bucket, key), body });
    assert.equal(r.status, 200, `PUT ${key}: ${r.status} ${r.body.toString()}`);
  }

  function checkRead(
    what: string,
    key: string,
    r: RawResponse,
    range?: { start: number; end: number },
    head = false,
  ): void {
    if (r.status === 404) {
      if (!head) assert.equal(errorCode(r.body), 'NoSuchKey', `${what}: 404 body`);
      return;
    }
    if (range && r.status === 416) return; // the version at that instant was shorter than the range
    assert.equal(
      r.status,
      range ? 206 : 200,
      `${what}: status ${r.status} ${r.body.toString().slice(0, 200)}`,
    );
    const etag = String(r.headers.etag);
    const body = versions.get(key)!.get(etag);
    assert.ok(body, `${what}: ETag ${etag} is a version that was written`);
    const length = Number(r.headers['content-length']);
    if (head) {
      assert.equal(length, body.length, `${what}: HEAD Content-Length is the version's size`);
      return;
    }
    assert.equal(r.body.length, length, `${what}: the body is as long as its Content-Length`);
    const want = range ? body.subarray(range.start, Math.min(range.end, body.length - 1) + 1) : body;
    assert.ok(r.body.equals(want), `${what}: the bytes are those of ETag ${etag}`);
  }

  test('GET, HEAD and ranged GET racing overwrites and deletes get whole versions', async () => {
    let n = 0;
    for (const { key, kind } of KEYS) await write(key, kind, n++, makeRandom(SEED + n));
    let writes = 0;
    let reads = 0;
    const deadline = Date.now() + 120_000;
    const counts = { ok: 0, missing: 0 };
    const writer = async (w: number) => {
      const rnd = makeRandom(SEED ^ (w * 7919 + 1));
      while (writes < WRITES && Date.now() < deadline) {
        const { key, kind } = KEYS[rnd() % KEYS.length]!;
        writes++;
        if (rnd() % 10 < 7) await write(key, kind, 1000 * (w + 1) + writes, rnd);
        else {
          const r = await signedRaw(target, { method: 'DELETE', path: keyPath(bucket, key) });
          assert.equal(r.status, 204, `DELETE ${key}: ${r.status}`);
        }
      }
    };
    const reader = async (i: number) => {
      const rnd = makeRandom(SEED ^ (i * 104729 + 3));
      while ((reads < READS || writes < WRITES) && Date.now() < deadline) {
        const { key } = KEYS[rnd() % KEYS.length]!;
        const kind = rnd() % 3;
        const path = keyPath(bucket, key);
        reads++;
        let r: RawResponse;
        try {
          if (kind === 0) {
            r = await signedRaw(target, { method: 'GET', path });
            checkRead(`GET ${key}`, key, r);
          } else if (kind === 1) {
            r = await signedRaw(target, { method: 'HEAD', path });
            checkRead(`HEAD ${key}`, key, r, undefined, true);
          } else {
            const start = rnd() % 4000;
            const range = { start, end: start + (rnd() % (1200 * 1024)) };
            r = await signedRaw(target, {
              method: 'GET',
              path,
              headers: { range: `bytes=${range.start}-${range.end}` },
            });
            checkRead(`GET ${key} bytes=${range.start}-${range.end}`, key, r, range);
          }
        } catch (err) {
          throw new Error(`seed ${SEED}, read ${reads}: ${(err as Error).message}\n${target.logTail()}`);
        }
        if (r.status === 404) counts.missing++;
        else counts.ok++;
      }
    };
    await Promise.all([
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
      ...Array.from({ length: READERS }, (_, i) => reader(i)),
    ]);
    assert.ok(
      reads >= READS && writes >= WRITES,
      `ran ${reads} reads and ${writes} writes before the deadline`,
    );
    assert.ok(
      counts.ok > READS / 4,
      `most reads found an object (${counts.ok} ok, ${counts.missing} missing)`,
    );
  });
});
