// A node restarted on a new data directory at the same address replaces the old registry entry; an operator can
// forget a node that is gone for good, but only once it is silent.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NodeView } from '../common/cluster-wire.ts';
import { NodeRegistry } from './registry.ts';

const T = { timeout: 30_000 };

const beat = (nodeId: string, syncgroup: string, port: number) => ({
  nodeId,
  syncgroup,
  url: `http://127.0.0.1:${port}`,
  startedMs: 1,
  objects: 0,
  volumes: [],
});

test('a new node id at a known member address replaces that member (disk swap), durably', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-registry-'));
  try {
    let now = 0;
    const replaced: Array<[string, string]> = [];
    const reg = new NodeRegistry({
      suspectAfterMs: 1000,
      now: () => now,
      dir,
      onReplaced: (old: NodeView, by) => replaced.push([old.nodeId, by.nodeId]),
    });
    await reg.beat(beat('0000000a', 'a', 9201));
    await reg.beat(beat('0000000b', 'a', 9202));
    await reg.beat(beat('0000000c', 'b', 9201));
    now += 5000;
    await reg.beat(beat('0000000d', 'a', 9201));
    assert.deepEqual(replaced, [['0000000a', '0000000d']]);
    assert.deepEqual(
      reg.list().map((n) => [n.nodeId, n.state]),
      [
        ['0000000b', 'suspect'],
        ['0000000d', 'up'],
        ['0000000c', 'suspect'],
      ],
      'the same address in another syncgroup is another node',
    );
    const again = new NodeRegistry({ suspectAfterMs: 1000, now: () => now, dir });
    await again.load();
    assert.deepEqual(
      again.list().map((n) => n.nodeId),
      ['0000000b', '0000000d', '0000000c'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forget removes only a silent node, and it stays forgotten across a restart', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quire-registry-'));
  try {
    let now = 0;
    const reg = new NodeRegistry({ suspectAfterMs: 1000, now: () => now, dir });
    await reg.beat(beat('0000000a', 'a', 9201));
    await reg.beat(beat('0000000b', 'a', 9202));
    assert.equal(await reg.forget('0000000a'), 'not-suspect');
    assert.equal(await reg.forget('000000ff'), 'no-such-node');
    now += 1000;
    await reg.beat(beat('0000000b', 'a', 9202));
    assert.equal(await reg.forget('0000000a'), 'forgotten');
    assert.deepEqual(
      reg.list().map((n) => n.nodeId),
      ['0000000b'],
    );
    const again = new NodeRegistry({ suspectAfterMs: 1000, now: () => now, dir });
    await again.load();
    assert.deepEqual(
      again.list().map((n) => n.nodeId),
      ['0000000b'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
