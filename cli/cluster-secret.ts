// The cluster secret every internal request carries. The tracker generates it at its first start into its data
// directory; storage nodes, gateways and `quire status` read it from --cluster-secret-file or QUIRE_CLUSTER_SECRET.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clusterSecretSchema } from '../common/cluster-wire.ts';
import { ConfigError } from './config.ts';

export const SECRET_FILE_NAME = 'cluster-secret';

function check(secret: string, source: string): string {
  const parsed = clusterSecretSchema.safeParse(secret);
  if (!parsed.success)
    throw new ConfigError(`the cluster secret in ${source} is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function readSecretFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(
      `cannot read the cluster secret file ${path}; copy it from the tracker's data directory`,
    );
  }
  return check(text.trim(), path);
}

/** For storage nodes, gateways and status: the secret must be given. */
export function givenClusterSecret(file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file !== undefined) return readSecretFile(file);
  if (env.QUIRE_CLUSTER_SECRET) return check(env.QUIRE_CLUSTER_SECRET, 'QUIRE_CLUSTER_SECRET');
  throw new ConfigError(
    `no cluster secret: pass --cluster-secret-file F (a copy of the tracker's DIR/${SECRET_FILE_NAME}) or set QUIRE_CLUSTER_SECRET`,
  );
}

/** For the tracker: given, or kept in its data directory (generated at the first start). */
export function trackerClusterSecret(
  dataDir: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): { secret: string; path: string | undefined; generated: boolean } {
  if (file !== undefined || env.QUIRE_CLUSTER_SECRET)
    return { secret: givenClusterSecret(file, env), path: file && resolve(file), generated: false };
  const path = join(resolve(dataDir), SECRET_FILE_NAME);
  if (existsSync(path)) return { secret: readSecretFile(path), path, generated: false };
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, path, generated: true };
}
