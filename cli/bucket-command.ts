// `quire bucket mode --tracker URL BUCKET [mirrored|async]`: shows or sets a bucket's replication mode (the catalog
// setting 'replication-mode', common/replication-mode.ts). An operator setting, not an S3 call: it needs the
// cluster secret, like `quire status`.
import { parseArgs } from 'node:util';
import { bucketInfoReplySchema, putConfigReplySchema, TRACKER } from '../common/cluster-wire.ts';
import { readReplicationMode, replicationModeSchema } from '../common/replication-mode.ts';
import { urlFlag } from './cluster-process.ts';
import { ConfigError } from './config.ts';
import { callTracker } from './tracker-call.ts';

const MEANING = {
  mirrored: 'a write is acknowledged once every live node of its syncgroup has it durable',
  async:
    'a write is acknowledged once its primary has it; mirrors catch up by push sync, so a read a mirror serves can be behind by the lag quire status shows',
} as const;

export async function bucketCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      tracker: { type: 'string' },
      'cluster-secret-file': { type: 'string' },
    },
  });
  const [what, name, mode, ...rest] = positionals;
  if (what !== 'mode' || !name || rest.length > 0)
    throw new ConfigError('usage: quire bucket mode --tracker URL BUCKET [mirrored|async]');
  const wanted = mode === undefined ? undefined : replicationModeSchema.safeParse(mode);
  if (wanted && !wanted.success) throw new ConfigError(`unknown mode "${mode}": use mirrored or async`);
  const target = { url: urlFlag(values.tracker, '--tracker'), secretFile: values['cluster-secret-file'] };
  const info = await callTracker(target, TRACKER.bucketInfo, { name }, bucketInfoReplySchema);
  if (!info.bucket)
    throw new ConfigError(`there is no bucket named ${name}; check the name (quire lists none such)`);
  const current = readReplicationMode(info.configs.find((c) => c.kind === 'replication-mode')?.value);
  if (!wanted) {
    process.stdout.write(`${name}: ${current} (${MEANING[current]})\n`);
    return 0;
  }
  const bucket = { name: info.bucket.name, id: info.bucket.id };
  const put = await callTracker(
    target,
    TRACKER.putConfig,
    { bucket, kind: 'replication-mode', value: wanted.data },
    putConfigReplySchema,
  );
  if (!put.ok) throw new ConfigError(`bucket ${name} was deleted meanwhile; nothing was changed`);
  process.stdout.write(
    `${name}: ${wanted.data}${current === wanted.data ? ' (unchanged)' : ` (was ${current})`}: ${MEANING[wanted.data]}\n`,
  );
  return 0;
}
