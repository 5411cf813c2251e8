// The static-site story of the README, end to end with the real tools: `aws s3 sync` a site, make it public
// with a bucket policy, `aws s3 website`, then curl the website endpoint (index, blog/, the dir redirect, the
// 404 page with status 404); and the same with `s3cmd ws-create`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { uniqueBucket } from './sdk.ts';
import { startTarget, type Target } from './target.ts';
import { run, s3cmdConfig, skipUnlessInstalled, writeTree } from './tree.ts';

const DOMAIN = 's3-website.localhost';

const SITE: Record<string, Buffer> = {
  'index.html': Buffer.from('<h1>Home</h1>\n'),
  'blog/index.html': Buffer.from('<h1>Blog</h1>\n'),
  'blog/first-post.html': Buffer.from('<p>first</p>\n'),
  '404.html': Buffer.from('<h1>Not here</h1>\n'),
  'css/site.css': Buffer.from('body { color: #333 }\n'),
};

function publicReadPolicy(bucket: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` },
    ],
  });
}

describe('static site: aws s3 sync + policy + aws s3 website, served on the website port', async () => {
  const skip = await skipUnlessInstalled('aws', 'curl');
  let target: Target;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const aws = async (...args: string[]) => {
    const res = await run('aws', ['--endpoint-url', target.endpoint, ...args], env);
    assert.equal(res.code, 0, `aws ${args.join(' ')}\n${res.stderr}`);
    return res.stdout;
  };
  /** curl as a user would, the site's name resolved to the loopback address. */
  const curl = async (bucket: string, path: string) => {
    const host = `${bucket}.${DOMAIN}`;
    const port = target.websitePort!;
    const res = await run(
      'curl',
      ['-s', '--resolve', `${host}:${port}:127.0.0.1`, '-D', '-', `http://${host}:${port}${path}`],
      { PATH: process.env.PATH },
    );
    assert.equal(res.code, 0, res.stderr);
    const [head = '', ...rest] = res.stdout.split('\r\n\r\n');
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
    const location = /^location: (.*)$/im.exec(head)?.[1]?.trim();
    return { status, location, body: rest.join('\r\n\r\n') };
  };

  before(async () => {
    if (skip) return;
    target = await startTarget();
    work = mkdtempSync(join(tmpdir(), 'quire-site-'));
    const home = join(work, 'home');
    mkdirSync(join(home, '.aws'), { recursive: true });
    const config = join(home, '.aws', 'config');
    writeFileSync(config, '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n');
    writeFileSync(join(home, '.aws', 'credentials'), '');
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
    };
    writeTree(join(work, 'site'), SITE);
  });
  after(async () => {
    if (work) rmSync(work, { recursive: true, force: true });
    await target?.close();
  });

  test('the README story', { skip, timeout: 120_000 }, async () => {
    const bucket = uniqueBucket('www');
    await aws('s3', 'mb', `s3://${bucket}`);
    await aws('s3', 'sync', join(work, 'site'), `s3://${bucket}`);
    // Not public yet: the website endpoint refuses.
    await aws(
      's3',
      'website',
      `s3://${bucket}`,
      '--index-document',
      'index.html',
      '--error-document',
      '404.html',
    );
    const before = await curl(bucket, '/');
    assert.equal(before.status, 403);

    await aws('s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', publicReadPolicy(bucket));
    const home = await curl(bucket, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, SITE['index.html']!.toString());
    const blog = await curl(bucket, '/blog/');
    assert.equal(blog.status, 200);
    assert.equal(blog.body, SITE['blog/index.html']!.toString());
    const dir = await curl(bucket, '/blog');
    assert.equal(dir.status, 302);
    assert.equal(dir.location, '/blog/');
    const post = await curl(bucket, '/blog/first-post.html');
    assert.equal(post.body, SITE['blog/first-post.html']!.toString());
    const missing = await curl(bucket, '/missing');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, SITE['404.html']!.toString());

    const shown = JSON.parse(await aws('s3api', 'get-bucket-website', '--bucket', bucket));
    assert.deepEqual(shown, { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: '404.html' } });
  });

  test('s3cmd ws-create, ws-info, then served the same way', { timeout: 120_000 }, async (t) => {
    const noS3cmd = await skipUnlessInstalled('s3cmd');
    if (skip || noS3cmd) return t.skip(String(skip || noS3cmd));
    const bucket = uniqueBucket('s3cmd-www');
    const cfg = s3cmdConfig(work, target, {
      websiteEndpoint: `http://%(bucket)s.${DOMAIN}:${target.websitePort}/`,
    });
    const s3cmd = async (...args: string[]) => {
      const res = await run('s3cmd', ['-c', cfg, ...args], { PATH: process.env.PATH, HOME: work });
      assert.equal(res.code, 0, `s3cmd ${args.join(' ')}\n${res.stdout}\n${res.stderr}`);
      return res.stdout;
    };
    await s3cmd('mb', `s3://${bucket}`);
    await s3cmd('sync', `${join(work, 'site')}/`, `s3://${bucket}/`);
    await aws('s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', publicReadPolicy(bucket));
    await s3cmd('ws-create', '--ws-index=index.html', '--ws-error=404.html', `s3://${bucket}`);
    const info = await s3cmd('ws-info', `s3://${bucket}`);
    assert.match(info, /Index document:\s+index\.html/);
    assert.match(info, /Error document:\s+404\.html/);
    const home = await curl(bucket, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, SITE['index.html']!.toString());
    const missing = await curl(bucket, '/nope.html');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, SITE['404.html']!.toString());
    await s3cmd('ws-delete', `s3://${bucket}`);
    const gone = await curl(bucket, '/');
    assert.equal(gone.status, 404);
    assert.match(gone.body, /NoSuchWebsiteConfiguration/);
  });
});
