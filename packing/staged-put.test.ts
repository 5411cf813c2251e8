// putStaged: the location is known once the bytes are written; `durable` follows the group commit,
// the live counters count the entry only then, and close() waits for it.
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { test } from 'node:test';
import { bytesFor, newVolume, opver, tempDir } from './test-support/helpers.ts';
import type { Volume } from './volume.ts';

interface Gate {
  /** Resolves when a group commit reached the gate. */
  reached: Promise<void>;
  release(): void;
  fail(err: Error): void;
}

/** Holds every group commit of `v` until released (or failed). */
function gateCommits(v: Volume): Gate {
  const committer = (v as unknown as { core: { committer: { commit(fh: FileHandle): Promise<void> } } }).core
    .committer;
  const real = committer.commit.bind(committer);
  let open!: (err?: Error) => void;
  const gate = new Promise<Error | undefined>((r) => {
    open = r;
  });
  let arrive!: () => void;
  const reached = new Promise<void>((r) => {
    arrive = r;
  });
  committer.commit = async (fh) => {
    arrive();
    const err = await gate;
    if (err) throw err;
    return real(fh);
  };
  return { reached, release: () => open(), fail: (err) => open(err) };
}

/** Once the commit is held at the gate: true if `p` has not settled after every ready callback ran. */
async function stillPending(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return !done;
}

test('putStaged returns the location before the sync and counts the entry once durable', async () => {
  const { dir, cleanup } = await tempDir('staged');
  try {
    const v = await newVolume(dir);
    const gate = gateCommits(v);
    const data = bytesFor(1, 4096);
    const s = await v.putStaged({
      key: Buffer.from('k'),
      meta: Buffer.from('m'),
      opver: opver(1),
      data,
      dataBytes: 4096,
    });
    assert.equal(s.entry.location.kind, 'chunk');
    await gate.reached;
    assert.equal(await stillPending(s.durable), true, 'durable before the group commit ran');
    assert.equal(v.stats().liveEntries, 0);
    const closing = v.close();
    assert.equal(await stillPending(closing), true, 'close did not wait for the staged entry');
    gate.release();
    await s.durable;
    await closing;
    const r = await (await import('./volume.ts')).Volume.open(dir);
    assert.deepEqual(await r.read(s.entry.location), data);
    assert.equal(r.stats().liveEntries, 1);
    await r.close();
  } finally {
    await cleanup();
  }
});

test('a failed sync rejects durable and leaves the entry uncounted', async () => {
  const { dir, cleanup } = await tempDir('staged-fail');
  try {
    const v = await newVolume(dir);
    const gate = gateCommits(v);
    const data = bytesFor(2, 100);
    const s = await v.putStaged({
      key: Buffer.from('k'),
      meta: Buffer.alloc(0),
      opver: opver(1),
      data,
      dataBytes: 100,
    });
    gate.fail(new Error('EIO'));
    await assert.rejects(s.durable, /EIO/);
    assert.equal(v.stats().liveEntries, 0);
    await v.closeUnclean();
  } finally {
    await cleanup();
  }
});

test('replacements and singlefiles are done whole', async () => {
  const { dir, cleanup } = await tempDir('staged-whole');
  try {
    const v = await newVolume(dir, { smallObjectMaxBytes: 1024 });
    const a = await v.putStaged({
      key: Buffer.from('a'),
      meta: Buffer.alloc(0),
      opver: opver(1),
      data: bytesFor(3, 10),
      dataBytes: 10,
    });
    await a.durable;
    const big = bytesFor(4, 4096);
    const s = await v.putStaged({
      key: Buffer.from('b'),
      meta: Buffer.alloc(0),
      opver: opver(2),
      data: big,
      dataBytes: 4096,
    });
    assert.equal(s.entry.location.kind, 'single');
    const gate = gateCommits(v);
    const replacing = v.putStaged({
      key: Buffer.from('a'),
      meta: Buffer.alloc(0),
      opver: opver(3),
      data: bytesFor(5, 10),
      dataBytes: 10,
      replaces: a.entry.location,
    });
    await gate.reached;
    assert.equal(await stillPending(replacing), true, 'a replacement resolved before its sync');
    gate.release();
    await (await replacing).durable;
    await v.close();
  } finally {
    await cleanup();
  }
});
