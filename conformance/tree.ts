// Local file trees for the CLI tests: write a tree of named buffers, read one back as name → sha256.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { sha256hex } from './bytes.ts';

export function writeTree(root: string, files: Record<string, Buffer>): void {
  for (const [name, body] of Object.entries(files)) {
    const path = join(root, ...name.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
  }
}

/** Relative path (with `/`) → sha256 of every regular file under root. */
export function hashTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(root, path).split(sep).join('/'), sha256hex(readFileSync(path)));
    }
  };
  walk(root);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function hashFiles(files: Record<string, Buffer>): Map<string, string> {
  return new Map(
    Object.entries(files)
      .map(([k, v]): [string, string] => [k, sha256hex(v)])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never throws on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** True when `cmd` is on PATH. */
export async function hasCommand(cmd: string): Promise<boolean> {
  const res = await run('sh', ['-c', `command -v ${cmd}`], process.env, 10_000);
  return res.code === 0 && res.stdout.trim() !== '';
}

/**
 * The `skip` option for tests that need these commands: skipped on a machine that lacks one, but in CI
 * (CI=true) a missing tool adds a failing test instead, so a broken install can never pass as green.
 */
export async function skipUnlessInstalled(...cmds: string[]): Promise<false | string> {
  const missing: string[] = [];
  for (const cmd of cmds) if (!(await hasCommand(cmd))) missing.push(cmd);
  if (missing.length === 0) return false;
  const why = `${missing.join(', ')} not installed`;
  if (process.env.CI === 'true') {
    test(`${missing.join(', ')} installed (CI requires it)`, () => {
      assert.fail(`${why}: .ci/run installs it; the tests that need it cannot be skipped in CI`);
    });
  }
  return why;
}

/**
 * Writes an s3cmd config for `target` into `work` and returns its path (path-style on 127.0.0.1, no TLS);
 * `signatureV2` makes s3cmd sign with V2, `websiteEndpoint` is what `ws-info` prints for a bucket.
 */
export function s3cmdConfig(
  work: string,
  target: {
    host: string;
    port: number;
    region: string;
    creds: { accessKeyId: string; secretAccessKey: string };
  },
  opts: { signatureV2?: boolean; websiteEndpoint?: string } = {},
): string {
  const path = join(work, `s3cmd-${opts.signatureV2 ? 'v2' : 'v4'}.cfg`);
  const host = `${target.host}:${target.port}`;
  const lines = [
    '[default]',
    `access_key = ${target.creds.accessKeyId}`,
    `secret_key = ${target.creds.secretAccessKey}`,
    `host_base = ${host}`,
    `host_bucket = ${host}`,
    'use_https = False',
    'check_ssl_certificate = False',
    `signature_v2 = ${opts.signatureV2 ? 'True' : 'False'}`,
    `bucket_location = ${target.region}`,
    ...(opts.websiteEndpoint ? [`website_endpoint = ${opts.websiteEndpoint}`] : []),
    '',
  ];
  writeFileSync(path, lines.join('\n'));
  return path;
}
