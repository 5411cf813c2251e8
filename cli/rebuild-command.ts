// `quire rebuild-index`: throw away the node's LMDB index and rebuild it from the volumes, showing
// progress on stderr and a one-line summary on stdout.
import { parseArgs } from 'node:util';
import { rebuildIndex } from '../storage/rebuild.ts';
import { configFromEnv, configFromFile, resolveConfig } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { dataLayout } from './embedded.ts';

const PROGRESS_EVERY_MS = 1000;

export async function rebuildCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { data: { type: 'string' }, config: { type: 'string' } },
  });
  const config = resolveConfig([
    values.config ? configFromFile(values.config) : {},
    configFromEnv(process.env),
    values.data !== undefined ? { dataDir: values.data } : {},
  ]);
  lockDataDir(config.dataDir, 'rebuild-index', { create: false });
  const layout = dataLayout(config.dataDir);
  let last = 0;
  const report = await rebuildIndex(layout.node, {
    onProgress: (p) => {
      const now = performance.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      process.stderr.write(
        `rebuild-index: volume ${p.volumeId}: ${p.entries} entries, ${mib(p.entryBytes)} scanned\n`,
      );
    },
  });
  process.stdout.write(
    `rebuilt the index of ${layout.root}: ${report.objects} objects, ${report.objectBytes} bytes ` +
      `(${report.uploads} uploads in progress, ${report.parts} parts, ${report.entries} entries scanned, ` +
      `${report.garbageDeleted} leftovers removed) in ${report.seconds.toFixed(1)} s\n`,
  );
  return 0;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
