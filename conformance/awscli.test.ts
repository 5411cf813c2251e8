// The `aws` CLI against the target: mb, cp (multipart), sync --delete of awkward names, ls, presign
// fetched with curl, rm --recursive; every byte checked by downloading back.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededBytes, sha256hex } from './bytes.ts';
import { uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { hashFiles, hashTree, run, skipUnlessInstalled, writeTree } from './tree.ts';

const MiB = 1024 * 1024;

const TREE: Record<string, Buffer> = {
  'plain.txt': Buffer.from('plain\n'),
  'with space.txt': Buffer.from('space\n'),
  'plus+sign.txt': Buffer.from('plus\n'),
  'percent%20literal.txt': Buffer.from('percent\n'),
  'unicode-ß-日本-🙂.bin': seededBytes(11, 5000),
  'nested/deeper/file.dat': seededBytes(12, 300_000),
  'nested/a b/c+d%e f.txt': Buffer.from('mixed\n'),
  'empty.txt': Buffer.alloc(0),
};

describe('aws cli', async () => {
  const skip = await skipUnlessInstalled('aws', 'curl');
  let target: Target;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const bucket = uniqueBucket('awscli');
  const aws = (...args: string[]) => run('aws', ['--endpoint-url', target.endpoint, ...args], env);
  const ok = async (...args: string[]) => {
    const res = await aws(...args);
    assert.equal(res.code, 0, `aws ${args.join(' ')}\n${res.stderr}`);
    return res.stdout;
  };

  before(async () => {
    if (skip) return;
    target = await startTarget();
    work = mkdtempSync(join(tmpdir(), 'quire-awscli-'));
    const home = join(work, 'home');
    mkdirSync(join(home, '.aws'), { recursive: true });
    const config = join(home, '.aws', 'config');
    writeFileSync(
      config,
      '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    signature_version = s3v4\n',
    );
    writeFileSync(join(home, '.aws', 'credentials'), '');
    // Only what we set: nothing from the machine's own AWS setup leaks in.
    env = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(home, '.aws', 'credentials'),
      AWS_ACCESS_KEY_ID: target.creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: target.creds.secretAccessKey,
      AWS_DEFAULT_REGION: target.region,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      LC_ALL: 'C.UTF-8',
      PYTHONIOENCODING: 'utf-8',
    };
  });
  after(async () => {
    if (work) rmSync(work, { recursive: true, force: true });
    await target?.close();
  });

  test('mb, then cp of a 40 MiB file (multipart) up and down, byte-exact', {
    skip,
    timeout: 300_000,
  }, async () => {
    await ok('s3', 'mb', `s3://${bucket}`);
    const big = seededBytes(40, 40 * MiB);
    writeFileSync(join(work, 'big.bin'), big);
    await ok('s3', 'cp', join(work, 'big.bin'), `s3://${bucket}/big/big.bin`);
    const head = JSON.parse(await ok('s3api', 'head-object', '--bucket', bucket, '--key', 'big/big.bin'));
    assert.match(head.ETag, /^"[0-9a-f]{32}-\d+"$/, 'uploaded in parts');
    assert.equal(head.ContentLength, big.length);
    await ok('s3', 'cp', `s3://${bucket}/big/big.bin`, join(work, 'big.down'));
    assert.equal(sha256hex(readFileSync(join(work, 'big.down'))), sha256hex(big));
  });

  test('sync --delete of awkward names, ls, presign + curl, rm --recursive', {
    skip,
    timeout: 300_000,
  }, async () => {
    const src = join(work, 'src');
    writeTree(src, TREE);
    await ok('s3', 'sync', src, `s3://${bucket}/tree/`);
    const down = join(work, 'down');
    await ok('s3', 'sync', `s3://${bucket}/tree/`, down);
    assert.deepEqual(hashTree(down), hashFiles(TREE));

    // Change the source: drop one file, add one; sync --delete mirrors both.
    unlinkSync(join(src, 'plus+sign.txt'));
    writeTree(src, { 'nested/new 🙂.txt': Buffer.from('new\n') });
    await ok('s3', 'sync', '--delete', src, `s3://${bucket}/tree/`);
    const want = { ...TREE, 'nested/new 🙂.txt': Buffer.from('new\n') } as Record<string, Buffer>;
    delete want['plus+sign.txt'];

    const recursive = await ok('s3', 'ls', '--recursive', `s3://${bucket}/tree/`);
    const names = recursive
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^\S+\s+\S+\s+\d+\s+/, '').replace(/^tree\//, ''))
      .sort();
    assert.deepEqual(names, Object.keys(want).sort());

    const top = await ok('s3', 'ls', `s3://${bucket}/tree/`);
    assert.match(top, /^\s+PRE nested\/$/m);
    assert.match(top, / with space\.txt$/m);
    assert.doesNotMatch(top, /deeper/);

    const down2 = join(work, 'down2');
    await ok('s3', 'sync', `s3://${bucket}/tree/`, down2);
    assert.deepEqual(hashTree(down2), hashFiles(want));

    const url = (
      await ok('s3', 'presign', `s3://${bucket}/tree/unicode-ß-日本-🙂.bin`, '--expires-in', '300')
    ).trim();
    const curled = join(work, 'curled.bin');
    const curl = await run('curl', ['-sS', '-f', '-o', curled, url], env);
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(sha256hex(readFileSync(curled)), sha256hex(TREE['unicode-ß-日本-🙂.bin']!));

    await ok('s3', 'rm', '--recursive', `s3://${bucket}/tree/`);
    const empty = await aws('s3', 'ls', '--recursive', `s3://${bucket}/tree/`);
    assert.equal(empty.stdout.trim(), '');
  });

  test('s3api tagging, lifecycle and get-object-attributes', { skip, timeout: 300_000 }, async () => {
    const b = uniqueBucket('awscli-lc');
    await ok('s3', 'mb', `s3://${b}`);
    await ok('s3api', 'put-object', '--bucket', b, '--key', 'logs/a', '--tagging', 'team=ops&tmp=yes');
    const tags = JSON.parse(await ok('s3api', 'get-object-tagging', '--bucket', b, '--key', 'logs/a'));
    assert.deepEqual(tags.TagSet, [
      { Key: 'team', Value: 'ops' },
      { Key: 'tmp', Value: 'yes' },
    ]);
    await ok(
      's3api',
      'put-object-tagging',
      '--bucket',
      b,
      '--key',
      'logs/a',
      '--tagging',
      'TagSet=[{Key=k,Value=v}]',
    );
    const head = JSON.parse(await ok('s3api', 'head-object', '--bucket', b, '--key', 'logs/a'));
    assert.equal(head.TagCount, 1);
    const attrs = JSON.parse(
      await ok(
        's3api',
        'get-object-attributes',
        '--bucket',
        b,
        '--key',
        'logs/a',
        '--object-attributes',
        'ObjectSize',
        'StorageClass',
      ),
    );
    assert.equal(attrs.ObjectSize, 0);
    assert.equal(attrs.StorageClass, 'STANDARD');
    const rules = {
      Rules: [{ ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 7 } }],
    };
    await ok(
      's3api',
      'put-bucket-lifecycle-configuration',
      '--bucket',
      b,
      '--lifecycle-configuration',
      JSON.stringify(rules),
    );
    const got = JSON.parse(await ok('s3api', 'get-bucket-lifecycle-configuration', '--bucket', b));
    assert.deepEqual(got.Rules, rules.Rules);
    const expiring = JSON.parse(await ok('s3api', 'head-object', '--bucket', b, '--key', 'logs/a'));
    assert.match(expiring.Expiration, /^expiry-date=".+ 00:00:00 GMT", rule-id="logs"$/);
    await ok('s3api', 'put-bucket-tagging', '--bucket', b, '--tagging', 'TagSet=[{Key=cost,Value=42}]');
    const btags = JSON.parse(await ok('s3api', 'get-bucket-tagging', '--bucket', b));
    assert.deepEqual(btags.TagSet, [{ Key: 'cost', Value: '42' }]);
    await ok('s3api', 'delete-bucket-lifecycle', '--bucket', b);
    const none = await aws('s3api', 'get-bucket-lifecycle-configuration', '--bucket', b);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /NoSuchLifecycleConfiguration/);
  });
});
