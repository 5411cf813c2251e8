// rclone against the target: sync a tree up, `rclone check` finds 0 differences, sync it back down
// to a new directory and compare every byte.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededBytes } from './bytes.ts';
import { uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { hashFiles, hashTree, run, skipUnlessInstalled, writeTree } from './tree.ts';

const MiB = 1024 * 1024;

const TREE: Record<string, Buffer> = {
  'small.txt': Buffer.from('small\n'),
  empty: Buffer.alloc(0),
  'with space/and+plus.txt': Buffer.from('x\n'),
  'percent%41.txt': Buffer.from('not an A\n'),
  'unicode/ß-日本-🙂.bin': seededBytes(21, 9_999),
  'deep/a/b/c/d.bin': seededBytes(22, 100_000),
  'mib/three.bin': seededBytes(23, 3 * MiB + 1),
  'mib/twelve.bin': seededBytes(24, 12 * MiB), // above the 5 MiB cutoff set below: multipart
};

describe('rclone', async () => {
  const skip = await skipUnlessInstalled('rclone');
  let target: Target;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const bucket = uniqueBucket('rclone');
  const rclone = async (...args: string[]) => {
    const res = await run('rclone', ['--config', join(work, 'rclone.conf'), ...args], env);
    assert.equal(res.code, 0, `rclone ${args.join(' ')}\n${res.stderr}`);
    return res;
  };

  before(async () => {
    if (skip) return;
    target = await startTarget();
    work = mkdtempSync(join(tmpdir(), 'quire-rclone-'));
    writeFileSync(join(work, 'rclone.conf'), '');
    env = {
      PATH: process.env.PATH,
      HOME: work,
      RCLONE_CONFIG_Q_TYPE: 's3',
      RCLONE_CONFIG_Q_PROVIDER: 'Other',
      RCLONE_CONFIG_Q_ENDPOINT: target.endpoint,
      RCLONE_CONFIG_Q_ACCESS_KEY_ID: target.creds.accessKeyId,
      RCLONE_CONFIG_Q_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
      RCLONE_CONFIG_Q_REGION: target.region,
      RCLONE_CONFIG_Q_FORCE_PATH_STYLE: 'true',
      RCLONE_CONFIG_Q_UPLOAD_CUTOFF: '5M',
      RCLONE_CONFIG_Q_CHUNK_SIZE: '5M',
    };
  });
  after(async () => {
    if (work) rmSync(work, { recursive: true, force: true });
    await target?.close();
  });

  test('sync up, check (0 differences), sync down, compare', {
    skip,
    timeout: 300_000,
  }, async () => {
    const src = join(work, 'src');
    writeTree(src, TREE);
    await rclone('mkdir', `q:${bucket}`);
    await rclone('sync', src, `q:${bucket}`);
    const check = await rclone('check', src, `q:${bucket}`);
    assert.match(check.stderr, /0 differences found/);
    const down = join(work, 'down');
    await rclone('sync', `q:${bucket}`, down);
    assert.deepEqual(hashTree(down), hashFiles(TREE));
    const listed = await rclone('lsf', '-R', '--files-only', `q:${bucket}`);
    assert.deepEqual(listed.stdout.split('\n').filter(Boolean).sort(), Object.keys(TREE).sort());
  });
});
