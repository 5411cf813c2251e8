// The mirrors a node repairs from: only the syncgroup's members marked up, one client per URL kept while listed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeView } from '../common/cluster-wire.ts';
import { ReplicaPeers } from './replica-peers.ts';

const member = (n: number, state: NodeView['state']): NodeView => ({
  nodeId: `0000000${n}`,
  syncgroup: 'a',
  url: `http://127.0.0.1:${9300 + n}`,
  startedMs: 1,
  objects: 0,
  volumes: [],
  state,
  silentMs: 0,
});

test('replica peers: live members only, the same client while a member stays listed', {
  timeout: 10_000,
}, async () => {
  const peers = new ReplicaPeers({ secret: 's' });
  try {
    const first = peers.ends([member(1, 'up'), member(2, 'suspect'), member(3, 'recovering')]);
    assert.equal(first.length, 1);
    const again = peers.ends([member(1, 'up'), member(2, 'up')]);
    assert.equal(again.length, 2);
    assert.equal(again[0], first[0], 'the client of a member still listed is kept');
    // Member 1 left and came back: a new client (the old one was closed with its departure).
    assert.equal(peers.ends([member(2, 'up')]).length, 1);
    assert.notEqual(peers.ends([member(1, 'up')])[0], first[0]);
  } finally {
    await peers.close();
  }
});
