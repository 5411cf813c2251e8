// Pins the acknowledgement rule of DESIGN.md: a PUT or DELETE resolves only after the index commit is
// flushed to disk (lmdb-js makes a commit visible before it is durable), unless indexSync is 'background'.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageNode } from './node.ts';
import { putInput, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

async function withGatedFlush(
  indexSync: 'ack' | 'background' | undefined,
  check: (node: StorageNode, release: () => void, flushAwaited: Promise<void>) => Promise<void>,
) {
  const { dir, remove } = await tempDir();
  const node = await StorageNode.open({
    dataDir: dir,
    nodeId: 1,
    volumes: volumeSpecs(dir),
    volumeOpener: testOpener().opener,
    ...(indexSync ? { indexSync } : {}),
  });
  const env = node.index.env;
  let release!: () => void;
  const gate = new Promise<boolean>((r) => {
    release = () => r(true);
  });
  let awaited!: () => void;
  const flushAwaited = new Promise<void>((r) => {
    awaited = r;
  });
  Object.defineProperty(env, 'flushed', {
    configurable: true,
    get: () => {
      awaited();
      return gate;
    },
  });
  try {
    await check(node, release, flushAwaited);
  } finally {
    release();
    delete (env as { flushed?: unknown }).flushed;
    await node.close();
    await remove();
  }
}

test('by default a PUT is not acknowledged until the index flush completes', async () => {
  await withGatedFlush(undefined, async (node, release, flushAwaited) => {
    let flushed = false;
    const put = node.putObject(putInput('bkt', 'k', Buffer.from('hello'))).then(() => {
      assert.ok(flushed, 'acknowledged before the index reached the disk');
    });
    await flushAwaited;
    flushed = true;
    release();
    await put;
    assert.equal((await node.headObject('bkt', Buffer.from('k')))?.size, 5);
  });
});

test("indexSync 'background' acknowledges once volume and binlog are durable", async () => {
  await withGatedFlush('background', async (node) => {
    // The flush gate never opens here: the PUT resolving at all is the proof.
    await node.putObject(putInput('bkt', 'k', Buffer.from('hello')));
  });
});
