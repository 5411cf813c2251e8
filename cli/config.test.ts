import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, configFromEnv, resolveConfig } from './config.ts';

const bin = join(fileURLToPath(import.meta.url), '..', '..', 'bin', 'quire.mjs');

test('defaults, then env, then flags, each overriding the one before', () => {
  const c = resolveConfig([
    { port: 1 },
    configFromEnv({ QUIRE_PORT: '2', QUIRE_DATA: '/tmp/x' }),
    { port: '3' },
  ]);
  assert.equal(c.port, 3);
  assert.equal(c.dataDir, '/tmp/x');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.reservedFreeBytes, 4 * 1024 ** 3);
});

test('a bad value is one line naming the field, the value and the fix', () => {
  assert.throws(
    () => resolveConfig([{ port: 'eighty' }]),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^invalid port \(got "eighty"\): /);
      assert.ok(!err.message.includes('\n'));
      return true;
    },
  );
  assert.throws(() => resolveConfig([{ colour: 'blue' }]), ConfigError);
  assert.throws(
    () => resolveConfig([configFromEnv({ QUIRE_ACCESS_KEY: 'AKIA1234' })]),
    /set both QUIRE_ACCESS_KEY and QUIRE_SECRET_KEY/,
  );
  assert.throws(() => configFromEnv({ QUIRE_EXTRA_KEYS: 'nocolon' }), /ACCESS:SECRET/);
});

test('the website endpoint: a port, 0 or off, and a DNS domain', () => {
  assert.equal(resolveConfig([]).websitePort, undefined, 'default: the S3 port + 1, decided at start');
  assert.equal(resolveConfig([]).websiteDomain, 's3-website.localhost');
  const env = configFromEnv({ QUIRE_WEBSITE_PORT: 'off', QUIRE_WEBSITE_DOMAIN: 'sites.example.com' });
  assert.equal(resolveConfig([env]).websitePort, 'off');
  assert.equal(resolveConfig([env]).websiteDomain, 'sites.example.com');
  assert.equal(resolveConfig([env, { websitePort: '8080' }]).websitePort, 8080);
  assert.throws(
    () => resolveConfig([{ websitePort: 'on' }]),
    /invalid websitePort \(got "on"\): use a port number/,
  );
  assert.throws(() => resolveConfig([{ websiteDomain: 'bad domain' }]), /invalid websiteDomain/);
});

test('extra keys parse from QUIRE_EXTRA_KEYS', () => {
  const c = resolveConfig([configFromEnv({ QUIRE_EXTRA_KEYS: 'AK2:secret-two,AK3:secret-three' })]);
  assert.deepEqual(c.extraKeys, [
    { accessKeyId: 'AK2', secretAccessKey: 'secret-two' },
    { accessKeyId: 'AK3', secretAccessKey: 'secret-three' },
  ]);
});

test('the CLI answers --help on every subcommand and one-line errors without stack traces', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      encoding: 'utf8',
      env: { ...process.env, QUIRE_PORT: '' },
    });
  const help = run('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /server/);
  for (const sub of ['server', 'rebuild-index']) {
    const r = run(sub, '--help');
    assert.equal(r.status, 0, sub);
    assert.match(r.stdout, new RegExp(`quire ${sub}`));
  }
  const unknown = run('serve');
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  const badFlag = run('server', '--prot', '9');
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /--prot.*--help/);
  assert.equal(badFlag.stderr.trim().split('\n').length, 1);
  const badPort = run('server', '--port', 'x', '--data', '/tmp/quire-never-created');
  assert.equal(badPort.status, 2);
  assert.match(badPort.stderr, /^quire server: invalid port/);
  assert.ok(!/at .*\.ts:\d+/.test(badPort.stderr), 'no stack trace');
});

test('timeouts: defaults, env, and one-line errors for bad values', () => {
  const d = resolveConfig([]);
  assert.equal(d.bodyTimeoutMs, 60_000);
  assert.equal(d.headersTimeoutMs, 60_000);
  assert.equal(d.shutdownGraceMs, 10_000);
  const c = resolveConfig([
    configFromEnv({
      QUIRE_BODY_TIMEOUT_MS: '1500',
      QUIRE_HEADERS_TIMEOUT_MS: '2500',
      QUIRE_SHUTDOWN_GRACE_MS: '0',
    }),
  ]);
  assert.equal(c.bodyTimeoutMs, 1500);
  assert.equal(c.headersTimeoutMs, 2500);
  assert.equal(c.shutdownGraceMs, 0);
  assert.throws(
    () => resolveConfig([{ bodyTimeoutMs: '0' }]),
    /^ConfigError: invalid bodyTimeoutMs \(got "0"\)/,
  );
  assert.throws(() => resolveConfig([{ shutdownGraceMs: 'soon' }]), /invalid shutdownGraceMs/);
});

test('the metrics token comes from QUIRE_METRICS_TOKEN or --metrics-token; a weak one is refused in one line', () => {
  assert.equal(resolveConfig([]).metricsToken, undefined);
  const fromEnv = resolveConfig([configFromEnv({ QUIRE_METRICS_TOKEN: 'env-token-0123456789' })]);
  assert.equal(fromEnv.metricsToken, 'env-token-0123456789');
  const flag = resolveConfig([
    configFromEnv({ QUIRE_METRICS_TOKEN: 'env-token-0123456789' }),
    { metricsToken: 'flag-token-0123456789' },
  ]);
  assert.equal(flag.metricsToken, 'flag-token-0123456789');
  assert.throws(
    () => resolveConfig([{ metricsToken: 'short' }]),
    (err: unknown) => err instanceof ConfigError && /^invalid metricsToken .*openssl rand/.test(err.message),
  );
  assert.throws(() => resolveConfig([{ metricsToken: 'has a space in it, long enough' }]), ConfigError);
});
