// One call to the tracker's internal API from an operator command (`quire status`, `quire bucket`, `quire node`):
// the cluster secret from --cluster-secret-file or QUIRE_CLUSTER_SECRET, and every failure as one line that says
// what to do.
import type { z } from 'zod';
import { TrackerClient, TrackerRefused, TrackerUnreachable } from '../common/tracker-client.ts';
import { givenClusterSecret } from './cluster-secret.ts';
import { ConfigError } from './config.ts';

export async function callTracker<S extends z.ZodType>(
  opts: { url: string; secretFile: string | undefined },
  path: string,
  body: unknown,
  reply: S,
): Promise<z.infer<S>> {
  const secret = givenClusterSecret(opts.secretFile, process.env);
  try {
    return await new TrackerClient({ url: opts.url, secret, timeoutMs: 10_000 }).call(path, body, reply);
  } catch (err) {
    if (err instanceof TrackerUnreachable)
      throw new ConfigError(`${err.message}; is the tracker running there?`);
    if (err instanceof TrackerRefused && err.status === 403)
      throw new ConfigError('the tracker refused the cluster secret; use a copy of its DIR/cluster-secret');
    if (err instanceof TrackerRefused && err.status === 503)
      throw new ConfigError(`the tracker cannot answer yet: ${err.message}`);
    if (err instanceof TrackerRefused) throw new ConfigError(`the tracker refused: ${err.message}`);
    throw err;
  }
}
