// `quire cluster local` (what `npm run cluster:local` runs) as an operator starts it, with a representative part of
// the conformance suite run unchanged against its gateway (the suite's external-endpoint mode), then a clean stop:
// every child process gone and exit code 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CREDS, OTHER_CREDS, type Proc, startProc } from './cluster.ts';
import { REPO_ROOT } from './target.ts';

const SUITE = [
  'sdk-objects',
  'sdk-list',
  'sdk-multipart',
  'sdk-copy',
  'sdk-buckets',
  'sdk-keys',
  'sdk-versioning',
  'sdk-tagging',
  'sdk-policy',
  'sdk-website-cors',
  'static-site',
  'sigv2',
];

let dir: string;
let cluster: Proc;
let endpoint: string;
let websitePort: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quire-cluster-local-'));
  cluster = startProc('cluster-local', ['cluster', 'local', '--dir', join(dir, 'c'), '--port', '0'], dir, {
    QUIRE_ACCESS_KEY: CREDS.accessKeyId,
    QUIRE_SECRET_KEY: CREDS.secretAccessKey,
    QUIRE_EXTRA_KEYS: `${OTHER_CREDS.accessKeyId}:${OTHER_CREDS.secretAccessKey}`,
  });
  // The banner's endpoint and website lines (http://<bucket>.<domain>:<port>/); both waited for at once.
  [endpoint, websitePort] = await Promise.all([
    cluster.line(/^\s+endpoint:\s+(\S+)/),
    cluster.line(/^\s+website:\s+\S+:(\d+)\//),
  ]);
});

after(async () => {
  // SIGTERM, so `quire cluster local` stops its children (SIGKILL only if it does not exit within 20 s).
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the conformance suite passes unchanged against the local cluster', {
  timeout: 1_200_000,
}, async (t) => {
  const files = SUITE.map((name) => join('conformance', `${name}.test.ts`));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
    {
      cwd: REPO_ROOT,
      env: {
        // Not a subtest of this run: without this the child's runner skips its files.
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')),
        QUIRE_S3_ENDPOINT: endpoint,
        QUIRE_S3_ACCESS_KEY: CREDS.accessKeyId,
        QUIRE_S3_SECRET_KEY: CREDS.secretAccessKey,
        QUIRE_S3_ACCESS_KEY_2: OTHER_CREDS.accessKeyId,
        QUIRE_S3_SECRET_KEY_2: OTHER_CREDS.secretAccessKey,
        QUIRE_S3_WEBSITE_PORT: websitePort,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, out.slice(-6000));
  const passed = Number(/ℹ pass (\d+)/.exec(out)?.[1] ?? 0);
  assert.ok(passed >= 60, `only ${passed} conformance tests ran:\n${out.slice(-3000)}`);
  assert.match(out, /ℹ fail 0/);
  const skipped = Number(/ℹ skipped (\d+)/.exec(out)?.[1] ?? 0);
  t.diagnostic(
    `${passed} conformance tests passed, ${skipped} skipped (they need the embedded server's internals)`,
  );
  // Skips are tests that restart or inspect the embedded server; a website or SigV2 test skipped here would
  // mean the cluster gateway lacks the listener or the option.
  assert.doesNotMatch(out, /﹣ .*(website|static|sigv2|SigV2).*# SKIP/i, out.slice(-3000));
});

test('SIGTERM stops every process of the local cluster, exit 0', { timeout: 120_000 }, async () => {
  const code = await cluster.stop();
  assert.equal(code, 0, cluster.logTail());
  const logs = join(dir, 'c', 'logs');
  const names = readdirSync(logs).sort();
  assert.deepEqual(names, [
    'gateway.log',
    'storage-a-1.log',
    'storage-a-2.log',
    'storage-b-1.log',
    'storage-b-2.log',
    'tracker.log',
  ]);
  for (const name of names) {
    const text = readFileSync(join(logs, name), 'utf8');
    assert.match(text, /stopping/, `${name} logged its stop`);
  }
});
