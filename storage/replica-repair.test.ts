// Bad bytes repaired from a mirror: a byte flipped in node A's volume, node B (over the real internal HTTP API)
// holds the good copy. A read through A returns the good bytes, A's copy is repaired (read again with B gone),
// and the repair is counted. Without a mirror the read still fails as before.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { open, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { chunkFileName, singleFileName } from '../packing/layout.ts';
import { StorageClient } from './http-client.ts';
import { createStorageServer } from './http-server.ts';
import { objectKey } from './keys.ts';
import { StorageNode } from './node.ts';
import { decodeObjectValue, type VolLoc } from './records.ts';
import type { ReplicaEnd } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';
import { bytes, putInput, readAll, tempDir, testOpener, volumeSpecs } from './testing/harness.ts';

const SMALL = 64 * 1024;

/** Flips one byte of `data` where the volume file holding `at` stores it (found by content). */
async function corrupt(volumeDir: string, at: VolLoc, data: Buffer, offsetInData: number): Promise<void> {
  const l = at.location;
  const file = join(volumeDir, l.kind === 'chunk' ? chunkFileName(l.fileId) : singleFileName(l.fileId));
  const whole = await readFile(file);
  // A run of the data that starts at the byte to flip (the body is random: it occurs once).
  const probe = data.subarray(offsetInData, offsetInData + 64);
  const pos = whole.indexOf(probe);
  assert.ok(pos >= 0, 'the data is in the volume file');
  const fh = await open(file, 'r+');
  try {
    const b = Buffer.from([whole[pos]! ^ 0x5a]);
    await fh.write(b, 0, 1, pos);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readBody(n: StorageNode, key: string): Promise<Buffer> {
  const h = await n.openObject('b', Buffer.from(key));
  assert.ok(h, `${key} is there`);
  try {
    return await readAll(h.stream());
  } finally {
    h.release();
  }
}

test('a bad byte on node A is repaired from mirror B; the read gets the good bytes; counted once', {
  timeout: 120_000,
}, async () => {
  const ta = await tempDir('quire-repair-a-');
  const tb = await tempDir('quire-repair-b-');
  const opts = (dir: string, nodeId: number) => ({
    dataDir: dir,
    nodeId,
    volumes: volumeSpecs(dir, 1),
    volumeOpener: testOpener().opener,
    smallObjectMaxBytes: SMALL,
    tombstonePurgeIntervalMs: 0,
  });
  let mirrors: ReplicaEnd[] = [];
  const b = await StorageNode.open(opts(tb.dir, 2));
  const server: Server = createStorageServer(b);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new StorageClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  let a = await StorageNode.open({ ...opts(ta.dir, 1), mirrors: () => mirrors });
  try {
    const small = bytes(3000, 1);
    // 6 MiB: a singlefile read as a stream, block by block; the bad block is the fourth.
    const large = bytes(6 * 1024 * 1024, 2);
    await a.putObject(putInput('b', 'small', small));
    await a.putObject(putInput('b', 'large', large));
    for (const key of ['small', 'large'])
      assert.equal((await copyKey({ from: a, to: client, bucket: 'b', key: Buffer.from(key) })).applied, 1);
    const where = (key: string) => {
      const v = decodeObjectValue(a.rows.get(objectKey('b', Buffer.from(key)))!);
      return v.blobAt ?? v.at;
    };
    const volumeDir = volumeSpecs(ta.dir, 1)[0]!.dir;
    await corrupt(volumeDir, where('small'), small, 1500);
    await corrupt(volumeDir, where('large'), large, 3 * 1024 * 1024 + 77);

    // No mirror known: refused as before (no bytes that fail their checksum are served).
    await assert.rejects(readBody(a, 'small'), (err: { code?: string }) => err.code === 'CORRUPT_ENTRY');
    assert.equal(a.repairs, 0);

    mirrors = [client];
    assert.ok((await readBody(a, 'small')).equals(small));
    assert.equal(a.repairs, 1);
    // The large one fails mid-stream: the read goes on from the repaired copy where it stopped.
    assert.ok((await readBody(a, 'large')).equals(large));
    assert.equal(a.repairs, 2);
    // A range read of the repaired copy, and reads with the mirror gone: A's own bytes are good now.
    mirrors = [];
    await client.close();
    server.close();
    await b.close();
    assert.ok((await readBody(a, 'small')).equals(small));
    assert.ok((await readBody(a, 'large')).equals(large));
    const h = (await a.openObject('b', Buffer.from('large')))!;
    assert.ok(
      (await readAll(h.stream({ start: 3 * 1024 * 1024, end: 3 * 1024 * 1024 + 999 }))).equals(
        large.subarray(3 * 1024 * 1024, 3 * 1024 * 1024 + 1000),
      ),
    );
    h.release();
    assert.equal(a.repairs, 2);
    // And after a restart (the bad entries were freed once their readers let go).
    await a.close();
    a = await StorageNode.open(opts(ta.dir, 1));
    assert.ok((await readBody(a, 'small')).equals(small));
    assert.ok((await readBody(a, 'large')).equals(large));
  } finally {
    await a.close().catch(() => undefined);
    await b.close().catch(() => undefined);
    server.close();
    await ta.remove();
    await tb.remove();
  }
});
