import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { guardIndexClosed, guardIndexOpen } from './index-guard.ts';
import { tempDir } from './testing/harness.ts';

test("an 'os'-synced index left open under another boot is deleted; same boot or clean close keeps it", async () => {
  const t = await tempDir();
  const index = join(t.dir, 'index');
  const exists = async () => (await readdir(t.dir)).includes('index');
  try {
    await mkdir(index);
    assert.deepEqual(await guardIndexOpen(t.dir, index, 'os', 'boot-1'), {
      discarded: false,
      sameBoot: false,
    });
    // Process crash: same boot, page cache intact.
    assert.deepEqual(await guardIndexOpen(t.dir, index, 'os', 'boot-1'), {
      discarded: false,
      sameBoot: true,
    });
    assert.ok(await exists());
    // Machine crash: another boot while it was open.
    assert.deepEqual(await guardIndexOpen(t.dir, index, 'os', 'boot-2'), {
      discarded: true,
      sameBoot: false,
    });
    assert.ok(!(await exists()));
    await mkdir(index);
    await guardIndexClosed(t.dir, 'os');
    assert.deepEqual(await guardIndexOpen(t.dir, index, 'os', 'boot-3'), {
      discarded: false,
      sameBoot: false,
    });
    // A 'flush' index is consistent on disk at every instant.
    await guardIndexOpen(t.dir, index, 'flush', 'boot-3');
    assert.deepEqual(await guardIndexOpen(t.dir, index, 'os', 'boot-4'), {
      discarded: false,
      sameBoot: false,
    });
    assert.ok(await exists());
  } finally {
    await t.remove();
  }
});
