// A cluster storage node's replication, wired in one place (cli/storage-command.ts calls it): the mirrors from the
// tracker's member list (one pooled HTTP client each), push sync over the node's binlog with the synclog in the
// data directory and the binlog's retention floor, and the MirroringNode the internal HTTP API serves.
import { join } from 'node:path';
import type { NodeView, SyncReport } from '../common/cluster-wire.ts';
import type { Disk } from '../common/disk.ts';
import type { ReplicationMode } from '../common/replication-mode.ts';
import { StorageClient } from './http-client.ts';
import { MirroringNode, type MirrorLog, runsLifecycle } from './mirror.ts';
import { MirrorPeers } from './mirror-peers.ts';
import type { StorageNode } from './node.ts';
import type { PartitionGuard } from './partition-guard.ts';
import { PushSync, type PushSyncLog } from './push-sync.ts';
import { copyKey } from './replica-ship.ts';
import { Synclog } from './synclog.ts';
import { TakeoverClock } from './takeover-clock.ts';

export interface ReplicationOptions {
  node: StorageNode;
  guard: PartitionGuard;
  /** This node's id (8 hex digits). */
  selfId: string;
  /** The node's data directory (the synclog goes in it). */
  dataDir: string;
  disk: Disk;
  secret: string;
  modeFor(bucket: string): ReplicationMode;
  mirrorTimeoutMs: number;
  retainMs: number;
  retainBytes: number;
  log: MirrorLog & PushSyncLog;
  /** A mirror that was current missed a write (the heartbeat should report it behind at once). */
  onBehind?(nodeId: string): void;
  /** Whether this node serves now (false while a recovery pull fills it: it then runs no lifecycle). Default: yes. */
  serving?: () => boolean;
}

export interface Replication {
  /** What the internal HTTP API serves: the node, its writes mirrored. */
  api: MirroringNode;
  sync: PushSync<StorageClient>;
  /** ClusterMember's onMembers. */
  onMembers(members: readonly NodeView[]): void;
  /** ClusterMember's report: push sync's lag per mirror. */
  report(): SyncReport[];
  /** The members this node sends its writes to (heartbeat `mirrors`): none until the tracker named them. */
  mirrors(): string[];
  /** Whether this node runs the lifecycle rules now (one member of the syncgroup does). */
  runsLifecycle(): boolean;
  start(): void;
  stop(): Promise<void>;
}

export async function setUpReplication(o: ReplicationOptions): Promise<Replication> {
  const peers = new MirrorPeers<StorageClient>({
    selfId: o.selfId,
    connect: (url) => new StorageClient(url, { secret: o.secret }),
    disconnect: (client) => void client.close().catch(() => undefined),
    onBehind: (id) => o.onBehind?.(id),
  });
  const synclog = await Synclog.open(o.disk, join(o.dataDir, 'synclog'));
  const node = o.node;
  const sync = new PushSync<StorageClient>({
    binlog: node.binlog,
    synclog,
    peers,
    copyKey: ({ to, bucket, key }) => copyKey({ from: node, to, bucket, key }),
    retainMs: o.retainMs,
    retainBytes: o.retainBytes,
    log: o.log,
  });
  node.checkpoints.addFloor(() => sync.floor());
  const takeover = new TakeoverClock({ selfId: o.selfId, clock: node.clock });
  const api = new MirroringNode({
    inner: o.guard,
    local: node,
    clock: () => node.counter,
    peers,
    modeFor: o.modeFor,
    ackTimeoutMs: o.mirrorTimeoutMs,
    wakeSync: () => sync.poke(),
    beforeWrite: (bucket, key) => takeover.beforeWrite(bucket, key),
    log: o.log,
  });
  let members: readonly NodeView[] | undefined;
  return {
    api,
    sync,
    onMembers: (m) => {
      members = m;
      peers.update(m);
      takeover.update(m);
    },
    report: () => sync.report(),
    mirrors: () => peers.all().map((m) => m.nodeId),
    // Not before the tracker has said who the members are: two nodes must never both run it.
    runsLifecycle: () => members !== undefined && (o.serving?.() ?? true) && runsLifecycle(o.selfId, members),
    start: () => sync.start(),
    stop: async () => {
      await sync.stop();
      peers.close();
    },
  };
}
