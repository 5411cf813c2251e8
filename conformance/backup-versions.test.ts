// Backup tools against a versioned bucket: rclone `--s3-versions` sees and fetches every old version
// (and an overwritten and a deleted file stay recoverable), and a restic backup + restore round trip
// (restic deletes its lock files: delete markers) with `restic check` clean.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { seededBytes } from './bytes.ts';
import { s3For, uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { hashFiles, hashTree, run, skipUnlessInstalled, writeTree } from './tree.ts';

describe('backup tools on a versioned bucket', async () => {
  const skip = await skipUnlessInstalled('rclone', 'restic');
  let target: Target;
  let s3: S3Client;
  let work: string;

  const versionedBucket = async (prefix: string) => {
    const b = uniqueBucket(prefix);
    await s3.send(new CreateBucketCommand({ Bucket: b }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    return b;
  };

  before(async () => {
    if (skip) return;
    target = await startTarget();
    s3 = s3For(target);
    work = mkdtempSync(join(tmpdir(), 'quire-backup-'));
  });
  after(async () => {
    s3?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
    await target?.close();
  });

  test('rclone --s3-versions lists and copies every old version; overwritten and deleted files come back', {
    skip,
    timeout: 300_000,
  }, async () => {
    const bucket = await versionedBucket('rclonev');
    writeFileSync(join(work, 'rclone.conf'), '');
    const env = {
      PATH: process.env.PATH,
      HOME: work,
      RCLONE_CONFIG_Q_TYPE: 's3',
      RCLONE_CONFIG_Q_PROVIDER: 'Other',
      RCLONE_CONFIG_Q_ENDPOINT: target.endpoint,
      RCLONE_CONFIG_Q_ACCESS_KEY_ID: target.creds.accessKeyId,
      RCLONE_CONFIG_Q_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
      RCLONE_CONFIG_Q_REGION: target.region,
      RCLONE_CONFIG_Q_FORCE_PATH_STYLE: 'true',
    };
    const rclone = async (...args: string[]) => {
      const res = await run('rclone', ['--config', join(work, 'rclone.conf'), ...args], env);
      assert.equal(res.code, 0, `rclone ${args.join(' ')}\n${res.stderr}`);
      return res;
    };
    // rclone names a version by its LastModified (ms): let the clock move on between versions.
    const nextMs = () => {
      const t = Date.now();
      while (Date.now() < t + 2) {}
    };
    const src = join(work, 'rsrc');
    writeTree(src, { 'doc.txt': Buffer.from('first draft\n'), 'gone.txt': Buffer.from('deleted later\n') });
    await rclone('copy', src, `q:${bucket}`);
    nextMs();
    writeTree(src, { 'doc.txt': Buffer.from('second draft\n') });
    await rclone('copy', src, `q:${bucket}`);
    nextMs();
    rmSync(join(src, 'gone.txt'));
    await rclone('sync', src, `q:${bucket}`); // deletes gone.txt: a delete marker
    const current = (await rclone('lsf', `q:${bucket}`)).stdout.split('\n').filter(Boolean);
    assert.deepEqual(current, ['doc.txt']);
    const all = (await rclone('lsf', '--s3-versions', `q:${bucket}`)).stdout
      .split('\n')
      .filter(Boolean)
      .sort();
    assert.equal(all.length, 3, all.join(', '));
    assert.ok(all.includes('doc.txt'));
    assert.ok(
      all.some((n) => /^doc-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$/.test(n)),
      all.join(', '),
    );
    assert.ok(
      all.some((n) => /^gone-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$/.test(n)),
      all.join(', '),
    );
    const down = join(work, 'rdown');
    await rclone('copy', '--s3-versions', `q:${bucket}`, down);
    const files = readdirSync(down).sort();
    const text = (n: string) => readFileSync(join(down, n), 'utf8');
    assert.equal(text('doc.txt'), 'second draft\n');
    assert.equal(text(files.find((n) => n.startsWith('doc-v'))!), 'first draft\n');
    assert.equal(text(files.find((n) => n.startsWith('gone-v'))!), 'deleted later\n');
  });

  test('restic: init, two backups, restore both snapshots byte-exact, check clean', {
    skip,
    timeout: 300_000,
  }, async () => {
    const bucket = await versionedBucket('resticv');
    const env = {
      PATH: process.env.PATH,
      HOME: work,
      AWS_ACCESS_KEY_ID: target.creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
      AWS_DEFAULT_REGION: target.region,
      RESTIC_PASSWORD: 'quire-versioned-test',
      RESTIC_REPOSITORY: `s3:${target.endpoint}/${bucket}`,
      RESTIC_CACHE_DIR: join(work, 'restic-cache'),
    };
    const restic = async (...args: string[]) => {
      const res = await run('restic', ['--no-cache', ...args], env);
      assert.equal(res.code, 0, `restic ${args.join(' ')}\n${res.stdout}\n${res.stderr}`);
      return res;
    };
    const first = {
      'a.txt': Buffer.from('alpha\n'),
      'dir/b.bin': seededBytes(31, 300_000),
      'dir/c.bin': seededBytes(32, 5 * 1024 * 1024 + 17),
    };
    const src = join(work, 'tsrc');
    writeTree(src, first);
    await restic('init');
    await restic('backup', '--host', 'h', src);
    const second = {
      ...first,
      'a.txt': Buffer.from('alpha, edited\n'),
      'dir/new.bin': seededBytes(33, 70_000),
    };
    writeTree(src, second);
    await restic('backup', '--host', 'h', src);
    const snaps = JSON.parse((await restic('snapshots', '--json')).stdout) as Array<{
      id: string;
      time: string;
    }>;
    assert.equal(snaps.length, 2);
    snaps.sort((x, y) => x.time.localeCompare(y.time));
    for (const [i, tree] of [first, second].entries()) {
      const dest = join(work, `restore${i}`);
      await restic('restore', snaps[i]!.id, '--target', dest);
      assert.deepEqual(hashTree(join(dest, src)), hashFiles(tree));
    }
    await restic('check', '--read-data');
  });
});
