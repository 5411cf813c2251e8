// `quire server` with QUIRE_METRICS_TOKEN: /metrics answers only the bearer token, /health stays open, and a
// bucket named "metrics" is still S3's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3For } from './sdk.ts';
import { isExternal, startTarget, type Target } from './target.ts';

const TOKEN = 'conformance-metrics-token-7f3a9c2e';

describe('metrics token', { skip: isExternal() && 'needs the embedded server', timeout: 60_000 }, () => {
  let target: Target;
  let s3: S3Client;
  before(async () => {
    target = await startTarget({ env: { QUIRE_METRICS_TOKEN: TOKEN } });
    s3 = s3For(target);
  });
  after(async () => {
    s3?.destroy();
    await target?.close();
  });

  test('/metrics: 401 without the token or with a wrong one, 200 with it; /health open', async () => {
    const tries: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${TOKEN}0` },
      { authorization: 'Bearer' },
    ];
    for (const headers of tries) {
      const res = await fetch(`${target.endpoint}/metrics`, { headers });
      const text = await res.text();
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.doesNotMatch(text, /quire_s3_requests_total/);
    }
    const ok = await fetch(`${target.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /quire_s3_requests_total/);
    const health = await fetch(`${target.endpoint}/health`);
    assert.equal(health.status, 200);
  });

  test('a bucket named "metrics" still answers signed S3 requests', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'metrics' }));
    await s3.send(new PutObjectCommand({ Bucket: 'metrics', Key: 'k', Body: 'v' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'metrics' }));
    assert.deepEqual(
      listed.Contents?.map((c) => c.Key),
      ['k'],
    );
  });
});
