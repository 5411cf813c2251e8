// Child of recovery.test.ts: runs one scenario against a StorageNode and stops at a pause point
// (printing PAUSED) for the parent to SIGKILL it there. Scenarios:
//   replace: k, a large object (its body a blob entry), is written, a checkpoint lists their
//            chunkfile, k is replaced; the child stops after the index commit, before the old blob
//            is freed.
//   delete:  k is written, a checkpoint taken, k is deleted; the child stops after its volume
//            entry is gone, before the index row is removed.
//   bulk:    3,000 more objects, a checkpoint, then 30 acknowledged writes; the child stops.
import { StorageNode } from '../node.ts';
import type { VolLoc } from '../records.ts';
import { bytes, putInput, testOpener, volumeSpecs } from './harness.ts';

const [dataDir, scenario] = process.argv.slice(2);
const node = await StorageNode.open({
  dataDir: dataDir!,
  nodeId: 1,
  volumes: volumeSpecs(dataDir!, 1),
  volumeOpener: testOpener().opener,
  smallObjectMaxBytes: 1024,
});
for (let i = 0; i < 20; i++) await node.putObject(putInput('b', `other${i}`, bytes(100, i)));
await node.putObject(putInput('b', 'k', bytes(5000, 1)));
await node.checkpoints.runNow();
const never = new Promise<never>(() => undefined);
const pause = async (): Promise<never> => {
  process.stdout.write('PAUSED\n');
  return never;
};
const free = node.placement.free.bind(node.placement);
if (scenario === 'bulk') {
  for (let i = 0; i < 3000; i++) await node.putObject(putInput('b', `bulk${i}`, bytes(50, i)));
  await node.checkpoints.runNow();
  for (let i = 0; i < 30; i++) await node.putObject(putInput('b', `late${i}`, bytes(70, i)));
  await pause();
} else if (scenario === 'replace') {
  // The first free after the replacement's index commit is the old version's blob.
  node.placement.free = async (locs: VolLoc[]) => (locs.length > 0 ? pause() : free(locs));
  await node.putObject(putInput('b', 'k', bytes(6000, 2)));
} else {
  node.placement.free = async (locs: VolLoc[]) => {
    await free(locs);
    if (locs.length > 0) await pause();
  };
  await node.deleteObject('b', Buffer.from('k'));
}
