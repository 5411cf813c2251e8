// The cluster part of the gateway's /metrics: the storage nodes as the tracker last reported them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterNodeMetrics, GatewayMetrics } from './metrics.ts';

test('cluster metrics: node state, objects, checksum repairs and push-sync lag per mirror, as last reported', {
  timeout: 10_000,
}, async () => {
  const m = new GatewayMetrics(async () => []);
  let nodes: ClusterNodeMetrics[] = [
    {
      nodeId: '0000000a',
      syncgroup: 'a',
      state: 'up',
      objects: 12,
      repairs: 3,
      sync: [{ nodeId: '0000000b', lagOps: 5, lagBytes: 4096 }],
    },
    { nodeId: '0000000b', syncgroup: 'a', state: 'suspect', objects: 7 },
  ];
  m.addCluster(() => nodes);
  m.readFailedOver();
  m.readFailedOver();
  const text = await m.registry.metrics();
  assert.match(text, /^quire_node_state\{node="0000000a",syncgroup="a",state="up"\} 1$/m);
  assert.match(text, /^quire_node_state\{node="0000000a",syncgroup="a",state="suspect"\} 0$/m);
  assert.match(text, /^quire_node_state\{node="0000000b",syncgroup="a",state="suspect"\} 1$/m);
  assert.match(text, /^quire_node_objects\{node="0000000a",syncgroup="a"\} 12$/m);
  assert.match(text, /^quire_node_checksum_repairs\{node="0000000a",syncgroup="a"\} 3$/m);
  assert.match(text, /^quire_node_checksum_repairs\{node="0000000b",syncgroup="a"\} 0$/m);
  assert.match(text, /^quire_sync_lag_operations\{node="0000000a",mirror="0000000b"\} 5$/m);
  assert.match(text, /^quire_sync_lag_bytes\{node="0000000a",mirror="0000000b"\} 4096$/m);
  assert.match(text, /^quire_read_failovers_total 2$/m);
  // A node the tracker no longer lists is gone from the next scrape; figures follow the last report.
  nodes = [{ ...nodes[0]!, repairs: 4, sync: [] }];
  const next = await m.registry.metrics();
  assert.doesNotMatch(next, /node="0000000b"/);
  assert.match(next, /^quire_node_checksum_repairs\{node="0000000a",syncgroup="a"\} 4$/m);
  assert.doesNotMatch(next, /^quire_sync_lag_operations\{/m);
});
