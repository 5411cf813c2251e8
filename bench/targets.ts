// The servers the HTTP section measures: the ceiling and the real Quire server, each a child process.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildServer } from './procs.ts';
import { freePort, startServer } from './procs.ts';

export const BENCH_ACCESS_KEY = 'benchaccesskey';
export const BENCH_SECRET_KEY = 'benchsecretkey0123456789';

export async function startCeiling(repoRoot: string, workDir: string): Promise<ChildServer> {
  const port = await freePort();
  return startServer({
    name: 'ceiling',
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'bench', 'ceiling.ts'), '--port', String(port)],
    port,
    cwd: repoRoot,
    logFile: join(workDir, 'ceiling.log'),
  });
}

export function quireAvailable(repoRoot: string): boolean {
  return existsSync(join(repoRoot, 'bin', 'quire.mjs'));
}

/** The real server, embedded mode, default (durable) settings, on a fresh data directory. */
export async function startQuire(
  repoRoot: string,
  workDir: string,
  nodeArgs: readonly string[] = [],
): Promise<ChildServer> {
  const port = await freePort();
  const dataDir = join(workDir, 'quire-data');
  await mkdir(dataDir, { recursive: true });
  return startServer({
    name: 'quire',
    command: process.execPath,
    args: [
      ...nodeArgs,
      join(repoRoot, 'bin', 'quire.mjs'),
      'server',
      '--data',
      dataDir,
      '--port',
      String(port),
    ],
    port,
    cwd: repoRoot,
    env: { ...process.env, QUIRE_ACCESS_KEY: BENCH_ACCESS_KEY, QUIRE_SECRET_KEY: BENCH_SECRET_KEY },
    logFile: join(workDir, 'quire.log'),
    readyTimeoutMs: 60_000,
  });
}
