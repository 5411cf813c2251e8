// The simulated disk forgets exactly what a power loss may forget, and nothing it must keep.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from './rng.ts';
import { SECTOR_BYTES, SimDisk } from './sim-disk.ts';

async function syncDir(d: SimDisk, path: string) {
  const h = await d.open(path, 'r');
  await h.sync();
  await h.close();
}

/** A disk with /d durable and file /d/f holding `synced` durably, then `later` written unsynced at 0. */
async function setup(seed: number, synced: Buffer, later: Buffer) {
  const d = new SimDisk(new Rng(seed));
  await d.mkdirp('/d');
  await syncDir(d, '/');
  const f = await d.open('/d/f', 'w');
  await f.write(synced, 0, synced.length, 0);
  await f.datasync();
  await syncDir(d, '/d');
  await f.write(later, 0, later.length, 0);
  d.crash();
  return d.afterCrash();
}

test('synced data and names survive; unsynced writes survive whole sectors at most', {
  timeout: 10_000,
}, async () => {
  const synced = Buffer.alloc(4 * SECTOR_BYTES, 1);
  const later = Buffer.alloc(4 * SECTOR_BYTES, 2);
  const seen = new Set<string>();
  for (let seed = 1; seed <= 60; seed++) {
    const after = await setup(seed, synced, later);
    const got = await after.readFile('/d/f');
    assert.equal(got.length, synced.length);
    const sectors = [0, 1, 2, 3].map((s) => got[s * SECTOR_BYTES]!);
    for (let s = 0; s < 4; s++) {
      const part = got.subarray(s * SECTOR_BYTES, (s + 1) * SECTOR_BYTES);
      assert.ok(part.equals(Buffer.alloc(SECTOR_BYTES, sectors[s]!)), 'a sector is old or new, never mixed');
    }
    seen.add(sectors.join(''));
  }
  assert.ok(seen.has('1111'), 'sometimes nothing unsynced survives');
  assert.ok(seen.has('2222'), 'sometimes all of it does');
  assert.ok(
    [...seen].some((s) => s !== '1111' && s !== '2222'),
    'sometimes the write is torn',
  );
});

test('a name is durable only once its directory is synced; a crashed disk completes nothing, then fails', {
  timeout: 10_000,
}, async () => {
  let lost = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const d = new SimDisk(new Rng(seed));
    await d.mkdirp('/d');
    await syncDir(d, '/');
    const f = await d.open('/d/new', 'w');
    await f.writeFile('x');
    await f.datasync();
    const g = await d.open('/d/kept', 'w');
    await g.writeFile('y');
    await g.datasync();
    await syncDir(d, '/d');
    await d.rename('/d/kept', '/d/renamed');
    d.crash();
    let settled = false;
    const late = d.readdir('/d').then(
      () => {
        settled = true;
      },
      (err: unknown) => {
        settled = true;
        return err;
      },
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'nothing completes on a crashed disk');
    const after = d.afterCrash();
    const names = await after.readdir('/d');
    assert.ok(names.includes('new'), 'synced before the directory sync');
    assert.ok(names.includes('kept') !== names.includes('renamed'), 'a rename is atomic');
    if (names.includes('kept')) lost += 1;
    assert.equal(((await late) as { code?: string }).code, 'EIO', 'then it fails, so the dead code unwinds');
  }
  assert.ok(lost > 0 && lost < 20, 'an unsynced rename is sometimes lost, sometimes kept');
});
