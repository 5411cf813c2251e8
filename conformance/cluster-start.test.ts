// A new cluster under load from its first moment (real processes, the operator's default timings: heartbeat 2 s,
// gateway poll 250 ms). A fresh tracker decides its layout once a node of each syncgroup has beaten, so the first nodes
// learn it from a later beat, and each node learns its mirrors from the member list of its last beat: until then a
// node refuses every key, and its mirror may lack what it took. The load starts as soon as a bucket can be created:
// no PUT may fail, no listing may miss an acknowledged key, and every node reports the members it mirrors to.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TIMINGS, startCluster, type TestCluster } from './cluster.ts';
import { createBucketWhenReady, LoadGenerator, trackerStatus } from './cluster-load.ts';

describe('a new cluster loaded at once', { timeout: 240_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster({
      timings: DEFAULT_TIMINGS,
      // Multipart objects of 1–3 MiB get several parts.
      env: { QUIRE_MULTIPART_MIN_PART_BYTES: String(256 * 1024) },
    });
  });
  after(async () => {
    await c?.close();
  });

  test('no PUT fails and no listing misses a key while the nodes learn the layout and their mirrors', {
    timeout: 180_000,
  }, async () => {
    await createBucketWhenReady(c.s3(), 'start');
    const load = new LoadGenerator({ s3: c.s3(), bucket: 'start', objects: 600, workers: 16, listers: 2 });
    await load.run();
    assert.deepEqual(load.corrupt, []);
    assert.deepEqual(
      load.failures.slice(0, 5),
      [],
      `${load.failures.length} calls failed: ${load.summary()}`,
    );
    assert.deepEqual(load.listingMisses.slice(0, 5), [], `${load.listingMisses.length} listing misses`);
    assert.deepEqual(load.listingViolations.slice(0, 5), []);
    assert.equal(load.acked.size, 600);
  });

  test('each node reports the other member of its syncgroup among the ones it mirrors to', {
    timeout: 60_000,
  }, async () => {
    const s = await trackerStatus(c);
    for (const g of s.syncgroups) {
      assert.equal(g.nodes.length, 2);
      for (const n of g.nodes)
        assert.deepEqual(
          n.mirrors,
          g.nodes.filter((o) => o.nodeId !== n.nodeId).map((o) => o.nodeId),
        );
    }
  });

  test("the gateway's /metrics shows every node's state and checksum repairs", {
    timeout: 30_000,
  }, async () => {
    const text = await (await fetch(`${c.endpoint}/metrics`)).text();
    const s = await trackerStatus(c);
    for (const g of s.syncgroups)
      for (const n of g.nodes) {
        assert.match(
          text,
          new RegExp(`^quire_node_state\\{node="${n.nodeId}",syncgroup="${g.name}",state="up"\\} 1$`, 'm'),
        );
        assert.match(
          text,
          new RegExp(`^quire_node_checksum_repairs\\{node="${n.nodeId}",syncgroup="${g.name}"\\} 0$`, 'm'),
        );
      }
  });
});
