// A storage node that hangs instead of dying: SIGSTOP one node mid-load (it is the primary of about half its
// syncgroup's keys), let the load run on while the tracker marks it suspect, then SIGCONT it. Nothing acknowledged
// is lost, the failure windows stay within the bounds (GETs fail over on a timeout: none fails; PUTs fail
// only until the node is suspect, under 15 s), listings stay in byte order without duplicates, the node catches up
// (push-sync lag 0 in `quire status --json`), and then it alone serves every acknowledged object of its syncgroup
// (its mirror is SIGKILLed for the read-back). Real processes with the operator's default timings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TIMINGS, type Proc, startCluster, type TestCluster } from './cluster.ts';
import {
  caughtUp,
  checkFaultWindow,
  createBucketWhenReady,
  LoadGenerator,
  readBack,
  trackerSees,
  waitForStatus,
} from './cluster-load.ts';

const OBJECTS = Number(process.env.QUIRE_FAULTS_OBJECTS ?? 3000);
const PUT_WINDOW_MS = 15_000;
const BUCKET = 'hang';

describe('cluster under load: a storage node hangs (SIGSTOP) and resumes (SIGCONT)', {
  timeout: 590_000,
}, () => {
  let c: TestCluster;
  let load: LoadGenerator;
  let hung: Proc;

  before(async () => {
    c = await startCluster({
      timings: DEFAULT_TIMINGS,
      env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(256 * 1024) },
    });
    await createBucketWhenReady(c.s3(), BUCKET);
    hung = c.nodes.find((p) => p.name === 'storage-a-1')!;
  });
  after(async () => {
    if (hung?.running()) hung.proc.kill('SIGCONT');
    await c?.close();
  });

  test('while it hangs: no GET fails, PUTs fail only until it is suspect (< 15 s), listings stay ordered', {
    timeout: 400_000,
  }, async () => {
    load = new LoadGenerator({
      s3: c.s3(),
      bucket: BUCKET,
      objects: OBJECTS,
      workers: 16,
      listers: 1,
      seed: 77,
    });
    const t0 = performance.now();
    const running = load.run();
    await load.ackedAtLeast(OBJECTS / 4);
    const stopMs = performance.now();
    hung.proc.kill('SIGSTOP');
    const suspectMs = await trackerSees(c, [c.nodeUrls.get(hung.name)!], 'suspect', 60_000);
    // Writes go on meanwhile; a load that stalls instead is reported, not waited on forever.
    const progressed = await load.ackedAtLeast(load.acked.size + OBJECTS / 5, 120_000);
    const contMs = performance.now();
    hung.proc.kill('SIGCONT');
    await running;
    const endMs = performance.now();

    checkFaultWindow(
      load,
      { loadStartMs: t0, faultMs: stopMs, suspectMs, backMs: contMs, loadEndMs: endMs },
      { label: 'hang', putWindowMs: PUT_WINDOW_MS, progressed },
    );
  });

  test('it catches up, then alone serves every acknowledged object byte-exact (its mirror SIGKILLed)', {
    timeout: 180_000,
  }, async () => {
    assert.ok(load, 'the load ran');
    const { afterMs } = await waitForStatus(c, caughtUp, 120_000, 'the resumed node catching up');
    console.log(`caught up ${(afterMs / 1000).toFixed(1)} s after the load ended`);
    await c.nodes.find((p) => p.name === 'storage-a-2')!.kill();
    const r = await readBack(load, c.s3(), BUCKET);
    console.log(
      `resumed node alone: ${r.ok} byte-exact, missing ${r.missing.length}, wrong ${r.wrong.length}, failed ` +
        `${r.failed.length}, unsure present ${r.unsurePresent}/${load.unsure.size}`,
    );
    assert.deepEqual(r.wrong.slice(0, 5), [], `${r.wrong.length} objects with other bytes`);
    assert.deepEqual(r.missing.slice(0, 5), [], `${r.missing.length} acknowledged objects missing`);
    assert.deepEqual(r.failed.slice(0, 5), [], `${r.failed.length} reads failed`);
    assert.equal(r.ok, load.acked.size);
  });
});
