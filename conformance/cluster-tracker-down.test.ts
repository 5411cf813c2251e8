// The tracker SIGKILLed mid-load: object reads, writes and listings go on from the gateways' and nodes' copies
// without a single failure, bucket creation answers 503 ServiceUnavailable (retryable) while it is away, and once
// it restarts on its directory bucket changes work again. Everything acknowledged reads back byte-exact. (Wiping
// the tracker's directory and rebuilding it from the nodes is the tracker's own test.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { DEFAULT_TIMINGS, startCluster, type TestCluster } from './cluster.ts';
import { createBucketWhenReady, LoadGenerator, readBack, trackerSees } from './cluster-load.ts';

const OBJECTS = Number(process.env.QUIRE_FAULTS_OBJECTS ?? 2000);
const BUCKET = 'tracker-down';

describe('cluster under load: the tracker SIGKILLed and restarted', { timeout: 590_000 }, () => {
  let c: TestCluster;

  before(async () => {
    // The operator's default timings: this test is about the tracker, and with fast suspicion a loaded machine's
    // late heartbeats would cut calls to live nodes.
    c = await startCluster({
      timings: DEFAULT_TIMINGS,
      env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(256 * 1024) },
    });
    await createBucketWhenReady(c.s3(), BUCKET);
  });
  after(async () => {
    await c?.close();
  });

  test('no object call fails while it is down; bucket create answers 503; all back once it returns', {
    timeout: 500_000,
  }, async () => {
    const s3 = c.s3();
    const load = new LoadGenerator({
      s3,
      bucket: BUCKET,
      objects: OBJECTS,
      workers: 8,
      listers: 1,
      seed: 99,
    });
    const t0 = performance.now();
    const running = load.run();
    await load.ackedAtLeast(OBJECTS / 4);
    const killMs = performance.now();
    const listingsAtKill = load.counts.listings;
    await c.tracker.kill();
    const ackedAtKill = load.acked.size;
    await assert.rejects(s3.send(new CreateBucketCommand({ Bucket: 'made-while-down' })), (e) => {
      assert.ok(e instanceof S3ServiceException);
      assert.equal(e.name, 'ServiceUnavailable');
      assert.equal(e.$metadata.httpStatusCode, 503);
      return true;
    });
    const progressed = await load.ackedAtLeast(ackedAtKill + OBJECTS / 4, 120_000);
    const downFor = performance.now() - killMs;
    const ackedWhileDown = load.acked.size - ackedAtKill;
    const listingsAtRestart = load.counts.listings;
    const tracker = await c.startTracker();
    await trackerSees(c, [...c.nodeUrls.values()], 'up', 60_000);
    // Bucket changes work again once the gateway's next poll reaches the tracker.
    await createBucketWhenReady(s3, 'made-after', 30_000);
    await s3.send(new DeleteBucketCommand({ Bucket: 'made-after' }));
    await running;
    console.log(
      `tracker down ${(downFor / 1000).toFixed(1)} s: ${ackedWhileDown} puts acknowledged meanwhile; ` +
        `${load.summary()}; load ${((performance.now() - t0) / 1000).toFixed(1)} s; failures: ` +
        `${load.timeline(killMs)}; listing misses: ${load.missTimeline(killMs)}`,
    );
    assert.ok(tracker.running());
    assert.ok(progressed, `writes stalled while the tracker was down: ${load.summary()}`);

    assert.deepEqual(load.failures.slice(0, 5), [], `${load.failures.length} object calls failed`);
    assert.deepEqual(load.corrupt, []);
    assert.ok(listingsAtRestart > listingsAtKill, 'a listing completed while the tracker was down');
    assert.deepEqual(
      load.listingViolations.slice(0, 5),
      [],
      'a listing returned a key twice or out of order',
    );
    assert.deepEqual(load.listingStrays.slice(0, 5), [], 'a listing returned a key never written');
    assert.deepEqual(
      load.listingMisses.slice(0, 5),
      [],
      'a listing missed a key acknowledged before it began',
    );
    assert.equal(load.acked.size, OBJECTS);

    const r = await readBack(load, s3, BUCKET);
    assert.deepEqual(
      [r.missing.length, r.wrong.length, r.failed.length],
      [0, 0, 0],
      JSON.stringify(r.failed),
    );
    assert.equal(r.ok, OBJECTS);
  });
});
