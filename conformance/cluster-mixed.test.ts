// Mixed load through the gateway into 2 syncgroups × 2 storage nodes (real processes, the operator's default
// timings: heartbeat 2 s, suspect after 10 s, gateway poll 250 ms): 10,000 objects of 1 KiB – 3 MiB, some
// multipart, while one node of each syncgroup is SIGKILLed mid-load and later restarted. The client errors of
// the window are counted and bounded (mirrored writes: PUTs fail only until the tracker marks the dead node
// suspect, under 15 s; GETs never), listings taken all along stay in UTF-8 byte order without duplicates, the
// restarted nodes catch up (push-sync lag 0 in `quire status --json`), and then each member of each syncgroup
// alone serves every acknowledged object byte for byte.
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
  trackerStatus,
  waitForStatus,
} from './cluster-load.ts';

// The 10,000; QUIRE_FAULTS_OBJECTS scales it down for a look on a loaded machine.
const OBJECTS = Number(process.env.QUIRE_FAULTS_OBJECTS ?? 10_000);
const PUT_WINDOW_MS = 15_000;
const BUCKET = 'mixed';

describe('cluster under mixed load: one node of each syncgroup SIGKILLed and restarted', {
  timeout: 880_000,
}, () => {
  let c: TestCluster;
  const procs = new Map<string, Proc>();
  let load: LoadGenerator;
  let killMs = 0;

  before(async () => {
    c = await startCluster({
      timings: DEFAULT_TIMINGS,
      // Multipart objects of 1–3 MiB get several parts.
      env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(256 * 1024) },
    });
    for (const p of c.nodes) procs.set(p.name, p);
    await createBucketWhenReady(c.s3(), BUCKET);
  });
  after(async () => {
    await c?.close();
  });

  const url = (name: string) => c.nodeUrls.get(name)!;
  const kill = (names: string[]) => Promise.all(names.map((n) => procs.get(n)!.kill()));
  const restart = async (names: string[]) => {
    for (const n of names) procs.set(n, await c.startNode(n));
  };

  test('PUT failures only until the dead nodes are suspect (< 15 s), no GET fails, listings stay ordered', {
    timeout: 400_000,
  }, async () => {
    const victims = ['storage-a-1', 'storage-b-1'];
    load = new LoadGenerator({ s3: c.s3(), bucket: BUCKET, objects: OBJECTS, workers: 16, listers: 1 });
    const t0 = performance.now();
    const running = load.run();
    await load.ackedAtLeast(OBJECTS / 4);
    killMs = performance.now();
    await kill(victims);
    const suspectMs = await trackerSees(c, victims.map(url), 'suspect', 60_000);
    // Writes go on while they are away (their mirrors take them), then they come back mid-load. A load that stalls
    // instead is reported, not waited on forever.
    const progressed = await load.ackedAtLeast(load.acked.size + OBJECTS / 5, 120_000);
    const restartMs = performance.now();
    await restart(victims);
    await running;
    const endMs = performance.now();

    checkFaultWindow(
      load,
      { loadStartMs: t0, faultMs: killMs, suspectMs, backMs: restartMs, loadEndMs: endMs },
      { label: 'mixed load', putWindowMs: PUT_WINDOW_MS, progressed },
    );
    assert.ok(load.counts.listings >= 3, `only ${load.counts.listings} complete listings during the load`);
    assert.ok(load.acked.size >= OBJECTS * 0.95, load.summary());
  });

  test('the restarted nodes catch up: every node up, push-sync lag 0 in `quire status --json`', {
    timeout: 150_000,
  }, async () => {
    assert.ok(load, 'the load ran');
    const { afterMs } = await waitForStatus(c, caughtUp, 120_000, 'the restarted nodes catching up');
    console.log(`caught up ${(afterMs / 1000).toFixed(1)} s after the load ended`);
  });

  test('each member alone serves every acknowledged object, byte-exact', { timeout: 300_000 }, async () => {
    assert.ok(load, 'the load ran');
    // Each syncgroup loses one member per pass, so every member of every syncgroup serves alone once: first the
    // ones that stayed up (the restarted nodes must hold everything), then the ones that were killed under load.
    for (const [pass, down] of [
      ['restarted nodes alone', ['storage-a-2', 'storage-b-2']],
      ['nodes that stayed up alone', ['storage-a-1', 'storage-b-1']],
    ] as const) {
      await waitForStatus(
        c,
        (s) => ({
          ok: s.syncgroups.every((g) => g.nodes.every((n) => n.state === 'up')),
          why: 'not every node up',
        }),
        60_000,
        'every node up',
      );
      await kill([...down]);
      const t = performance.now();
      const r = await readBack(load, c.s3(), BUCKET);
      console.log(
        `${pass}: ${r.ok} read byte-exact in ${((performance.now() - t) / 1000).toFixed(1)} s; missing ` +
          `${r.missing.length}, wrong ${r.wrong.length}, failed ${r.failed.length}, unsure present ` +
          `${r.unsurePresent}/${load.unsure.size}`,
      );
      assert.deepEqual(r.wrong.slice(0, 5), [], `${pass}: ${r.wrong.length} objects with other bytes`);
      assert.deepEqual(
        r.missing.slice(0, 5),
        [],
        `${pass}: ${r.missing.length} acknowledged objects missing`,
      );
      assert.deepEqual(r.failed.slice(0, 5), [], `${pass}: ${r.failed.length} reads failed`);
      assert.equal(r.ok, load.acked.size);
      await restart([...down]);
      const s = await trackerStatus(c);
      assert.equal(s.syncgroups.length, 2);
    }
  });
});
