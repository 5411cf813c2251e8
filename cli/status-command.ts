// `quire status`: what the tracker knows of the cluster, for a person (default) or a script (--json, stable).
import { parseArgs } from 'node:util';
import { type ClusterStatus, statusSchema, TRACKER } from '../common/cluster-wire.ts';
import { TrackerClient, TrackerRefused, TrackerUnreachable } from '../common/tracker-client.ts';
import { urlFlag } from './cluster-process.ts';
import { givenClusterSecret } from './cluster-secret.ts';
import { ConfigError } from './config.ts';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      tracker: { type: 'string' },
      json: { type: 'boolean' },
      'cluster-secret-file': { type: 'string' },
    },
  });
  const url = urlFlag(values.tracker, '--tracker');
  const secret = givenClusterSecret(values['cluster-secret-file'], process.env);
  let status: ClusterStatus;
  try {
    status = await new TrackerClient({ url, secret, timeoutMs: 10_000 }).call(
      TRACKER.status,
      undefined,
      statusSchema,
    );
  } catch (err) {
    if (err instanceof TrackerUnreachable)
      throw new ConfigError(`${err.message}; is the tracker running there?`);
    if (err instanceof TrackerRefused && err.status === 403)
      throw new ConfigError('the tracker refused the cluster secret; use a copy of its DIR/cluster-secret');
    throw err;
  }
  process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : describeStatus(status));
  return 0;
}

const GiB = 1024 ** 3;

function bytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}

/** The report a person reads: one block per syncgroup, and what a suspect node means for its keys. */
export function describeStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  for (const t of s.trackers)
    lines.push(`tracker ${t.url} (up since ${new Date(t.startedMs).toISOString()})`);
  lines.push(
    `layout version ${s.layout.version}: ${s.layout.partitions} partitions over ${s.layout.syncgroups.length} syncgroup(s)`,
    'replication: none yet (each key is on one node of its syncgroup; mirroring comes next)',
    '',
  );
  const problems: string[] = [];
  for (const g of s.syncgroups) {
    const up = g.nodes.filter((n) => n.state === 'up').length;
    lines.push(`syncgroup ${g.name}: ${g.partitions} partitions, ${g.nodes.length} node(s), ${up} up`);
    for (const n of g.nodes) {
      const free = n.volumes.reduce((a, v) => a + v.freeBytes, 0);
      const used = n.volumes.reduce((a, v) => a + v.diskBytes, 0);
      const state = n.state === 'up' ? 'up     ' : `suspect (silent ${Math.round(n.silentMs / 1000)} s)`;
      lines.push(
        `  node ${n.nodeId}  ${state}  ${n.url}  ${n.objects} objects  ${n.volumes.length} volume(s), ${bytes(used)} used, ${bytes(free)} free`,
      );
      if (n.state === 'suspect')
        problems.push(
          `node ${n.nodeId} of syncgroup ${g.name} is silent: the keys it holds cannot be read or written until it returns (no mirror yet)`,
        );
    }
    if (g.nodes.length === 0)
      problems.push(`syncgroup ${g.name} has no storage node: its keys cannot be served`);
  }
  lines.push('', `gateways holding a lease: ${s.gateways.length}`);
  lines.push(
    '',
    problems.length ? `attention:\n${problems.map((p) => `  - ${p}`).join('\n')}` : 'all nodes up',
  );
  return `${lines.join('\n')}\n`;
}
