// Child process of mirror-cluster.test.ts: opens a storage node's data directory and push-syncs its binlog to one
// mirror, printing a line per key copied, until SIGKILLed.
//   args: dataDir nodeId(hex) mirrorId mirrorUrl secret
import { join } from 'node:path';
import { nodeDisk } from '../../common/disk.ts';
import { StorageClient } from '../http-client.ts';
import { MirrorPeers } from '../mirror-peers.ts';
import { StorageNode } from '../node.ts';
import { PushSync } from '../push-sync.ts';
import { copyKey } from '../replica-ship.ts';
import { Synclog } from '../synclog.ts';
import { testOpener, volumeSpecs } from './harness.ts';

const [dataDir, nodeId, mirrorId, mirrorUrl, secret] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const node = await StorageNode.open({
  dataDir,
  nodeId: Number.parseInt(nodeId, 16),
  volumes: volumeSpecs(dataDir, 1),
  volumeOpener: testOpener().opener,
});
const peers = new MirrorPeers<StorageClient>({
  selfId: nodeId,
  connect: (url) => new StorageClient(url, { secret }),
  disconnect: () => undefined,
});
const sync = new PushSync<StorageClient>({
  binlog: node.binlog,
  synclog: await Synclog.open(nodeDisk, join(dataDir, 'synclog')),
  peers,
  batchRecords: 10,
  concurrency: 2,
  copyKey: async ({ to, bucket, key }) => {
    await copyKey({ from: node, to, bucket, key });
    process.stdout.write(`${JSON.stringify({ copied: key.toString() })}\n`);
  },
  retainMs: 3_600_000,
  retainBytes: 1 << 30,
});
peers.update([{ nodeId: mirrorId, url: mirrorUrl, state: 'up' }]);
sync.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
