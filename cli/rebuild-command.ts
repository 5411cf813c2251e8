// `quire rebuild-index`: throw away the node's LMDB index and rebuild it from the volumes.
import { parseArgs } from 'node:util';
import { rebuildIndex } from '../storage/rebuild.ts';
import { configFromEnv, configFromFile, resolveConfig } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { dataLayout } from './embedded.ts';

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
  const report = await rebuildIndex(layout.node);
  process.stdout.write(`rebuilt the index of ${layout.root}: ${JSON.stringify(report)}\n`);
  return 0;
}
