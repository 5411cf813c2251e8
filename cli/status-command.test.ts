// `quire status` in words: each node state (up, suspect, recovering with progress, catching up) and each
// syncgroup's summary of how safe and how available it is; --json keeps the tracker's fields and adds the summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterStatus } from '../common/cluster-wire.ts';
import { describeStatus, statusJson, summarize } from './status-command.ts';

const T = { timeout: 10_000 };
const NOW = Date.UTC(2026, 10, 29, 12, 30, 0);
type Node = ClusterStatus['syncgroups'][number]['nodes'][number];

function node(id: string, extra: Partial<Node> = {}): Node {
  return {
    nodeId: id,
    syncgroup: 'a',
    url: `http://127.0.0.1:92${id.slice(-2)}`,
    startedMs: 1,
    objects: 10,
    volumes: [
      { volumeId: 'v1', freeBytes: 4 * 1024 ** 3, diskBytes: 3 * 1024 ** 2, liveBytes: 1, full: false },
    ],
    layoutVersion: 1,
    state: 'up',
    silentMs: 0,
    ...extra,
  };
}

function status(nodes: Node[], extra: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    trackers: [{ url: 'http://127.0.0.1:9100', startedMs: NOW - 60_000 }],
    layout: { version: 1, partitions: 4096, syncgroups: ['a'] },
    syncgroups: [{ name: 'a', partitions: 4096, nodes }],
    gateways: [],
    suspectAfterMs: 10_000,
    generatedMs: NOW,
    catalog: { state: 'ready', seq: 12, buckets: 3, asyncBuckets: [] },
    ...extra,
  };
}

test('two healthy nodes: every object on 2 nodes, reads and writes served', T, () => {
  const s = status([node('00000001'), node('00000002')]);
  assert.deepEqual(summarize(s.syncgroups[0]!, NOW), {
    safety: 'every object on 2 nodes',
    availability: 'reads and writes served',
  });
  const out = describeStatus(s);
  assert.match(out, /catalog: change 12, 3 buckets/);
  assert.match(out, /syncgroup a: 4096 partitions, 2 node\(s\), 2 up/);
  assert.match(
    out,
    /node 00000001 {2}up {2}http:\/\/127\.0\.0\.1:9201 {2}10 objects {2}1 volume, 3\.0 MiB used, 4\.0 GiB free {2}layout v1/,
  );
  assert.match(out, /every bucket mirrored/);
  assert.match(out, /all nodes up/);
});

test('a suspect node: since when writes are on one node only, and who still serves', T, () => {
  const s = status([node('00000001'), node('00000002', { state: 'suspect', silentMs: 27 * 60_000 })]);
  assert.deepEqual(summarize(s.syncgroups[0]!, NOW), {
    safety: '1 of 2 nodes down: objects written since 12:03 UTC are on 1 node only',
    availability: 'reads and writes served by 1 node of 2',
  });
  const out = describeStatus(s);
  assert.match(out, /node 00000002 {2}suspect \(silent 27 min, last heard 12:03 UTC\)/);
  assert.match(
    out,
    /attention:\n {2}- node 00000002 of syncgroup a is silent; .*quire node forget --tracker URL 00000002/,
  );
});

test('every node down: unavailable', T, () => {
  const s = status([node('00000001', { state: 'suspect', silentMs: 20_000 })]);
  assert.deepEqual(summarize(s.syncgroups[0]!, NOW), {
    safety: 'all 1 node down: nothing of this syncgroup can be read until one returns',
    availability: 'unavailable: its keys cannot be read or written',
  });
});

test('a recovering node: progress, ETA, and objects on the other node only until it is done', T, () => {
  const s = status([
    node('00000001'),
    node('00000002', {
      state: 'recovering',
      phase: 'recovering',
      recovery: {
        fromNodeId: '00000001',
        startedMs: NOW - 60_000,
        objects: 1200,
        bytes: 10 * 1024 ** 2,
        totalObjects: 5000,
        totalBytes: 40 * 1024 ** 2,
        etaSeconds: 180,
      },
    }),
  ]);
  const sum = summarize(s.syncgroups[0]!, NOW);
  assert.equal(sum.safety, '00000002 refilling from a mirror: until done, objects are on 1 node');
  assert.equal(sum.availability, 'reads and writes served by 1 node of 2');
  assert.match(
    describeStatus(s),
    /node 00000002 {2}recovering: refilling from 00000001: 1200 of 5000 objects, 10\.0 MiB of 40\.0 MiB \(25%\), about 3 min left/,
  );
});

test('a node catching up: the lag the other members report, summed', T, () => {
  const s = status([
    node('00000001', { sync: [{ nodeId: '00000002', lagOps: 120, lagBytes: 3 * 1024 ** 2 }] }),
    node('00000002', { behind: { ops: 120, bytes: 3 * 1024 ** 2, needsPull: false } }),
  ]);
  const sum = summarize(s.syncgroups[0]!, NOW);
  assert.equal(
    sum.safety,
    '00000002 is catching up (120 operations, 3.0 MiB behind): the newest writes are on fewer nodes until it has',
  );
  assert.equal(sum.availability, 'reads and writes served');
  assert.match(describeStatus(s), /node 00000002 {2}up, catching up: 120 operations, 3\.0 MiB behind/);
  const needsPull = status([
    node('00000001'),
    node('00000002', { behind: { ops: 9, bytes: 1, needsPull: true } }),
  ]);
  assert.match(summarize(needsPull.syncgroups[0]!, NOW).safety, /needs a recovery pull/);
});

test(
  'one node alone, an empty syncgroup, async buckets, repairs, a node on another layout, a rebuilding catalog',
  T,
  () => {
    const alone = status([node('00000001', { repairs: 2, layoutVersion: 2 })], {
      catalog: { state: 'ready', seq: 3, buckets: 2, asyncBuckets: ['logs', 'tmp'] },
    });
    assert.equal(
      summarize(alone.syncgroups[0]!, NOW).safety,
      'every object on 1 node only (no mirror): losing its disk loses them',
    );
    const out = describeStatus(alone);
    assert.match(out, /2 repaired from a mirror/);
    assert.match(out, /buckets in async mode \(.*can be behind by the lag shown\): logs, tmp/);
    assert.match(out, /node 00000001 holds layout version 2, not 1/);
    const restored = describeStatus(status([node('00000001', { catalogSeq: 40 })]));
    assert.match(
      restored,
      /node 00000001 holds catalog change 40, newer than the tracker's 12: .*restored from a backup/,
    );
    const none = status([]);
    assert.equal(
      summarize(none.syncgroups[0]!, NOW).availability,
      'unavailable: its keys cannot be read or written until a node joins',
    );
    const rebuilding = status([node('00000001')], {
      layout: { version: 0, partitions: 0, syncgroups: ['a'] },
      catalog: { state: 'rebuilding', seq: 0, buckets: 0, asyncBuckets: [] },
    });
    const r = describeStatus(rebuilding);
    assert.match(r, /catalog: being rebuilt from the storage nodes' copies/);
    assert.match(r, /layout: not known yet/);
  },
);

test('--json is the tracker report with a summary per syncgroup', T, () => {
  const s = status([node('00000001'), node('00000002')]);
  const j = statusJson(s);
  assert.deepEqual({ ...j, syncgroups: s.syncgroups }, s, 'every field of the report unchanged');
  assert.deepEqual(j.syncgroups[0]!.summary, {
    safety: 'every object on 2 nodes',
    availability: 'reads and writes served',
  });
});
