// The crash-safe file steps survive every crash the simulated disk can produce; the same steps
// without their fsyncs do not (so the simulation can tell them apart). nodeDisk adds no wrapper.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeDisk } from './disk.ts';
import { mkdirDurable, unlinkDurable, writeFileDurable } from './durable-file.ts';
import { Rng } from './testing/rng.ts';
import { SimDisk } from './testing/sim-disk.ts';

test('mkdirDurable + writeFileDurable + unlinkDurable survive any crash right after they return', {
  timeout: 30_000,
}, async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const disk = new SimDisk(new Rng(seed));
    await mkdirDurable(disk, '/a/b/c');
    await writeFileDurable(disk, '/a/b/c', 'gone', 'x');
    await writeFileDurable(disk, '/a/b/c', 'f', 'old');
    await writeFileDurable(disk, '/a/b/c', 'f', 'new');
    await unlinkDurable(disk, '/a/b/c', 'gone');
    disk.crash();
    const after = disk.afterCrash();
    assert.deepEqual(await after.readdir('/a/b/c'), ['f'], `seed ${seed}`);
    assert.equal((await after.readFile('/a/b/c/f')).toString(), 'new', `seed ${seed}`);
  }
});

test('the same steps without their fsyncs are sometimes lost', { timeout: 30_000 }, async () => {
  let lost = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const disk = new SimDisk(new Rng(seed));
    await disk.mkdirp('/a');
    const fh = await disk.open('/a/f.tmp', 'w');
    await fh.writeFile('new');
    await fh.close();
    await disk.rename('/a/f.tmp', '/a/f');
    disk.crash();
    const after = disk.afterCrash();
    const got = await after.readFile('/a/f').then(String, () => undefined);
    if (got !== 'new') lost += 1;
  }
  assert.ok(lost > 0, 'an unsynced write, rename or mkdir is lost in some crashes');
});

test('nodeDisk hands out node FileHandles themselves (the seam costs nothing per I/O)', {
  timeout: 10_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quire-disk-'));
  try {
    const fh = await nodeDisk.open(join(dir, 'f'), 'w');
    assert.equal(fh.constructor.name, 'FileHandle');
    await fh.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
