// `quire node forget --tracker URL NODEID`: removes a storage node that is gone for good from the tracker's
// registry, so routing and `quire status` stop counting it. Only a silent (suspect) node can be forgotten.
import { parseArgs } from 'node:util';
import { forgetNodeReplySchema, nodeIdSchema, TRACKER } from '../common/cluster-wire.ts';
import { urlFlag } from './cluster-process.ts';
import { ConfigError } from './config.ts';
import { callTracker } from './tracker-call.ts';

export async function nodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      tracker: { type: 'string' },
      'cluster-secret-file': { type: 'string' },
    },
  });
  const [what, nodeId, ...rest] = positionals;
  if (what !== 'forget' || !nodeId || rest.length > 0)
    throw new ConfigError('usage: quire node forget --tracker URL NODEID');
  if (!nodeIdSchema.safeParse(nodeId).success)
    throw new ConfigError(`"${nodeId}" is not a node id (8 hex digits, as quire status shows them)`);
  const target = { url: urlFlag(values.tracker, '--tracker'), secretFile: values['cluster-secret-file'] };
  const { outcome } = await callTracker(target, TRACKER.forgetNode, { nodeId }, forgetNodeReplySchema);
  if (outcome === 'no-such-node')
    throw new ConfigError(`the tracker knows no node ${nodeId}; quire status lists the nodes it knows`);
  if (outcome === 'not-suspect')
    throw new ConfigError(
      `node ${nodeId} is still heartbeating; stop it first (a node is forgotten only once the tracker reports it suspect)`,
    );
  process.stdout.write(`node ${nodeId} forgotten: the tracker no longer lists or routes to it\n`);
  return 0;
}
