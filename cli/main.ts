// `quire <command>`: one CLI, `--help` on every subcommand, one-line errors (never a stack trace).
import { parseArgs } from 'node:util';
import { ConfigError } from './config.ts';

interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const COMMON_FLAGS = `  --data DIR        data directory (env QUIRE_DATA, default ./data)
  --config FILE     JSON config file (any field of the config schema; env and flags override it)`;

const commands: Record<string, Command> = {
  server: {
    summary: 'start Quire: tracker, storage node and S3 gateway in one process',
    usage: `quire server [flags]

Starts the embedded single-node Quire and prints the endpoint and credentials.

${COMMON_FLAGS}
  --port N          S3 port (env QUIRE_PORT, default 9000; 0 picks a free port)
  --host ADDR       listen address (env QUIRE_HOST, default 127.0.0.1)
  --log-level L     fatal|error|warn|info|debug|trace|silent (env QUIRE_LOG_LEVEL)
  --volume-max-bytes N     largest size of the volume on disk (env QUIRE_VOLUME_MAX_BYTES, default 1 TiB);
                           a change applies at the next start; it must exceed what the volume holds
  --reserved-free-bytes N  disk space never filled, also kept out of the maximum
                           (env QUIRE_RESERVED_FREE_BYTES, default 4 GiB)
  --compact-live-ratio R        compact chunkfiles whose live bytes fall below R of their size in the
                                background (env QUIRE_COMPACT_LIVE_RATIO, default 0.5; 0 turns it off)
  --compact-bytes-per-second N  compaction copy rate limit (env QUIRE_COMPACT_BYTES_PER_SECOND,
                                default 67108864; 0: unlimited)
  --compact-interval-ms N       how often to look for sparse chunkfiles (env QUIRE_COMPACT_INTERVAL_MS,
                                default 30000)
  --chunkfile-bytes N           chunkfile size for volumes created from now on (env QUIRE_CHUNKFILE_BYTES,
                                default 67108864)
  --lifecycle-interval-ms N     how often buckets' lifecycle rules run (env QUIRE_LIFECYCLE_INTERVAL_MS,
                                default 3600000; 0 turns them off)
  --lifecycle-ops-per-second N  lifecycle expirations and aborts per second, at most
                                (env QUIRE_LIFECYCLE_OPS_PER_SECOND, default 1000; 0: unlimited)
  --body-timeout-ms N     abort a request body that sends nothing for N ms (env QUIRE_BODY_TIMEOUT_MS, 60000)
  --headers-timeout-ms N  a request's headers must arrive within N ms (env QUIRE_HEADERS_TIMEOUT_MS, 60000)
  --shutdown-grace-ms N   on SIGTERM, let in-flight requests finish for N ms, then abort them
                          (env QUIRE_SHUTDOWN_GRACE_MS, 10000)
  --metrics-token T GET /metrics then needs "Authorization: Bearer T", else 401 (env QUIRE_METRICS_TOKEN;
                    default: open); /health stays open
  --website-port N    static-website endpoint (env QUIRE_WEBSITE_PORT; default: the S3 port + 1, so 9001;
                      0 picks a free port; off turns it off)
  --website-domain D  there, Host <bucket>.D selects the bucket; any other Host must be a bucket's name
                      (env QUIRE_WEBSITE_DOMAIN, default s3-website.localhost)
  --block-public-access  refuse and ignore public ACLs and policies on every bucket, whatever the bucket's
                         own public access block says (env QUIRE_BLOCK_PUBLIC_ACCESS=true; default off)
  --no-sigv2        refuse signature version 2 (Authorization: AWS ..., ?AWSAccessKeyId=...&Signature=...)
                    (env QUIRE_SIGV2=false; default: accepted)

Credentials come from QUIRE_ACCESS_KEY / QUIRE_SECRET_KEY, or are generated once and kept in the data dir.
More keys: QUIRE_EXTRA_KEYS="AK2:SK2,AK3:SK3". Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight requests finish
(a second signal, or the grace time running out, aborts them unacknowledged), everything is made durable,
then it exits 0.`,
    run: async (args) => (await import('./server-command.ts')).serverCommand(args),
  },
  tracker: {
    summary: 'cluster: start the tracker (catalog, access keys, layout, node registry)',
    usage: `quire tracker --data DIR [--port N] [--host H] [--syncgroups a,b]

The cluster's directory service. The first start creates the layout (4096 partitions spread evenly over the
named syncgroups, fixed from then on), the main access key (QUIRE_ACCESS_KEY/QUIRE_SECRET_KEY, or generated)
and the cluster secret (DIR/cluster-secret, printed with how to copy it).

  --data DIR                 the tracker's data directory (locked while it runs)
  --port N                   internal API port (default 9100)
  --host ADDR                listen address (default 127.0.0.1)
  --syncgroups a,b           syncgroup names; required at the first start of a new cluster, must not change
  --cluster-secret-file F    use this secret instead of DIR/cluster-secret (or QUIRE_CLUSTER_SECRET)
  --suspect-after-ms N       a node silent this long is suspect (default 10000)
  --gateway-lease-ms N       how long a gateway may answer from its copy of the catalog without the
                             tracker (default 120000); a bucket delete waits for silent gateways this long
  --rebuild-wait-ms N        with a fresh DIR: decide with the nodes that reported after N ms, even if a
                             syncgroup has not (default 30000)
  --log-level L              fatal|error|warn|info|debug|trace|silent

A fresh DIR (a new cluster, or a tracker whose disk was lost) first asks the storage nodes for the copy of the
catalog every node keeps (buckets, settings, access keys) and their layout, and adopts the newest; until then
bucket changes answer 503. After losing the tracker's disk, restart it with the secret the nodes hold:
  quire tracker --data DIR --cluster-secret-file /etc/quire/cluster-secret   (a copy from any node)
or QUIRE_CLUSTER_SECRET; a tracker that generated a new secret is refused by the nodes (it says so).`,
    run: async (args) => (await import('./tracker-command.ts')).trackerCommand(args),
  },
  storage: {
    summary: 'cluster: start a storage node of a syncgroup',
    usage: `quire storage --data DIR --tracker URL --syncgroup NAME [--port N] [--host H]

A storage node of the cluster. Its node id is generated at the first start and kept in DIR, with its syncgroup
(a data directory never changes syncgroup). It heartbeats to the tracker and serves only the keys whose
partition its syncgroup owns. Its writes are mirrored to the other members of its syncgroup (or, for buckets in
async replication mode, pushed right after); a member that was away is caught up from this node's binlog.

  --data DIR                 the node's data directory (locked while it runs)
  --tracker URL              the tracker, e.g. http://10.0.0.1:9100
  --syncgroup NAME           one of the syncgroups the tracker was created with
  --port N                   internal API port (default 9201)
  --host ADDR                listen address (default 127.0.0.1)
  --advertise URL            where gateways reach this node (default http://HOST:PORT)
  --cluster-secret-file F    the tracker's cluster-secret file (or QUIRE_CLUSTER_SECRET)
  --heartbeat-ms N           heartbeat interval (default 2000)
  --volume-max-bytes N, --reserved-free-bytes N   as for quire server
  --mirror-timeout-ms N      a mirror without progress this long is left behind, caught up later
                             (env QUIRE_MIRROR_TIMEOUT_MS, default 2000)
  --binlog-retention-hours N a mirror away longer needs a recovery pull; its binlog is not kept
                             (env QUIRE_BINLOG_RETENTION_HOURS, default 168)
  --binlog-retention-bytes N the same, past this much binlog kept for it (env QUIRE_BINLOG_RETENTION_BYTES,
                             default 16 GiB)
  --log-level L              fatal|error|warn|info|debug|trace|silent`,
    run: async (args) => (await import('./storage-command.ts')).storageCommand(args),
  },
  gateway: {
    summary: 'cluster: start an S3 gateway (stateless; any number may run)',
    usage: `quire gateway --tracker URL [--port N] [--host H]

The S3 API of a cluster. It copies the catalog, access keys, layout and node list from the tracker (polling) and
routes each key to the storage node that holds it. Object reads and writes go on while the tracker is down
(for up to the tracker's --gateway-lease-ms); bucket create, delete and settings then answer 503.

  --tracker URL              the tracker, e.g. http://10.0.0.1:9100
  --port N                   S3 port (default 9000)
  --host ADDR                listen address (default 127.0.0.1)
  --cluster-secret-file F    the tracker's cluster-secret file (or QUIRE_CLUSTER_SECRET)
  --poll-ms N                how often to copy the tracker's state (default 250)
  --storage-connect-timeout-ms N  how long connecting to a storage node may take (default 1000)
  --failover-after-ms N      a read the storage node has not answered in N ms goes to a mirror (default 2000)
  --log-level L              fatal|error|warn|info|debug|trace|silent
  --website-port N, --website-domain D, --block-public-access, --no-sigv2, --metrics-token T,
  --body-timeout-ms N, --headers-timeout-ms N, --shutdown-grace-ms N
                             as for quire server (the same env variables too): the static-website endpoint
                             listens on the S3 port + 1 unless set`,
    run: async (args) => (await import('./gateway-command.ts')).gatewayCommand(args),
  },
  status: {
    summary: 'cluster: show trackers, syncgroups, nodes, volumes and free space',
    usage: `quire status --tracker URL [--json]

  --tracker URL              the tracker, e.g. http://10.0.0.1:9100
  --json                     the report as JSON (stable field names, for scripts)
  --cluster-secret-file F    the tracker's cluster-secret file (or QUIRE_CLUSTER_SECRET)`,
    run: async (args) => (await import('./status-command.ts')).statusCommand(args),
  },
  bucket: {
    summary: "cluster: show or set a bucket's replication mode (mirrored or async)",
    usage: `quire bucket mode --tracker URL BUCKET [mirrored|async]

Without a mode, prints the bucket's replication mode; with one, sets it.
  mirrored (the default)  a write is acknowledged once every live node of its syncgroup has it durable
  async                   acknowledged once its primary has it; the mirrors catch up by push sync, so a read
                          that a mirror serves (the primary being down) can be behind by the lag quire status shows

  --tracker URL              the tracker, e.g. http://10.0.0.1:9100
  --cluster-secret-file F    the tracker's cluster-secret file (or QUIRE_CLUSTER_SECRET)`,
    run: async (args) => (await import('./bucket-command.ts')).bucketCommand(args),
  },
  node: {
    summary: 'cluster: forget a storage node that is gone for good',
    usage: `quire node forget --tracker URL NODEID

Removes a silent (suspect) storage node from the tracker's registry, so gateways and quire status stop counting
it. A node restarted on a new data directory at the same address replaces the old entry by itself.

  --tracker URL              the tracker, e.g. http://10.0.0.1:9100
  --cluster-secret-file F    the tracker's cluster-secret file (or QUIRE_CLUSTER_SECRET)`,
    run: async (args) => (await import('./node-command.ts')).nodeCommand(args),
  },
  cluster: {
    summary: 'cluster: "quire cluster local" runs a tracker, 2 syncgroups × 2 nodes and a gateway here',
    usage: `quire cluster local [--dir D] [--port P]

Starts a whole cluster on 127.0.0.1 as child processes (what "npm run cluster:local" runs): a tracker, 2 syncgroups
(a, b) of 2 storage nodes each and a gateway, prints the S3 endpoint and credentials, and stops them all on
Ctrl-C or SIGTERM. Each process's log is in D/logs/.

  --dir D      where the processes keep their data (default ./data-cluster)
  --port P     the gateway's S3 port (default 9000; 0 picks a free one)`,
    run: async (args) => (await import('./cluster-local.ts')).clusterCommand(args),
  },
  'rebuild-index': {
    summary: "rebuild the storage node's index from its volumes (server must be stopped)",
    usage: `quire rebuild-index [flags]

Discards the LMDB index of the node in the data directory and rebuilds it from the chunkfiles and singlefiles.
Nothing is lost: volumes are self-describing. The server must not be running on this data directory.

${COMMON_FLAGS}`,
    run: async (args) => (await import('./rebuild-command.ts')).rebuildCommand(args),
  },
};

function topHelp(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(15)} ${c.summary}`);
  return `quire — an S3-compatible object store built for millions of small objects

Usage: quire <command> [flags]     (quire <command> --help for its flags)

Commands:
${lines.join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${topHelp()}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`quire: unknown command "${name}"; run "quire --help" to see the commands\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    process.stderr.write(`quire ${name}: ${describeError(err)}\n`);
    return 2;
  }
}

/** One line for the user; the stack stays out of their terminal. */
export function describeError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    err.code.startsWith('ERR_PARSE_ARGS')
  ) {
    return `${err.message}; run with --help to see the flags`;
  }
  if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE') {
    return 'the port is already in use; pick another with --port N (or QUIRE_PORT)';
  }
  if (err instanceof Error && 'code' in err && err.code === 'EACCES') {
    return `permission denied (${err.message}); choose a data directory or port you may use`;
  }
  return err instanceof Error ? err.message : String(err);
}

export { parseArgs };
