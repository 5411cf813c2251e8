// Child of recovery.test.ts: runs one scenario against a StorageNode and stops at a pause point
// (printing PAUSED) for the parent to SIGKILL it there. Scenarios:
//   replace: k, a large object (its body a blob entry), is written, a checkpoint lists their
//            chunkfile, k is replaced; the child stops after the index commit, before the old blob
//            is freed.
//   delete:  k is written, a checkpoint taken, k is deleted; the child stops after its volume
//            entry is gone, before the index row is removed.
//   bulk:    3,000 more objects, a checkpoint, then 30 acknowledged writes; the child stops.
//   version-blob: a key gets a version with a blob body and a newer one (versioning enabled), the blob in
//            a chunkfile holding neither manifest; a checkpoint; the other objects in the blob's chunkfile
//            are deleted (so it counts as changed, the manifests' files do not); the child stops.

import { objectKey } from '../keys.ts';
import { StorageNode } from '../node.ts';
import type { VolLoc } from '../records.ts';
import { bytes, putInput, testOpener, volumeSpecs } from './harness.ts';

const [dataDir, scenario] = process.argv.slice(2);
const node = await StorageNode.open({
  dataDir: dataDir!,
  nodeId: 1,
  // version-blob: two volumes, so a blob and its manifest land apart (placement picks the roomiest).
  volumes: volumeSpecs(dataDir!, scenario === 'version-blob' ? 2 : 1),
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
if (scenario === 'version-blob') {
  // A key whose old version's blob lies in a chunkfile holding neither of its manifests.
  const fileOf = (l: VolLoc | undefined) => l && `${l.volumeId}/${l.location.fileId}`;
  let key = '';
  let blobFile: string | undefined;
  for (let n = 0; n < 40 && key === ''; n++) {
    const k = `v${n}`;
    await node.putObject(putInput('b', k, bytes(5000, 3), { versioning: 'enabled' }));
    const v1 = node.reads.current(objectKey('b', Buffer.from(k)))!;
    await node.putObject(putInput('b', k, bytes(10, 4), { versioning: 'enabled' }));
    const v2 = node.reads.current(objectKey('b', Buffer.from(k)))!;
    if (fileOf(v1.blobAt) !== fileOf(v1.at) && fileOf(v1.blobAt) !== fileOf(v2.at)) {
      key = k;
      blobFile = fileOf(v1.blobAt);
    }
  }
  if (key === '') throw new Error('no blob landed apart from its manifests');
  await node.checkpoints.runNow();
  // Change the blob's chunkfile only: delete the other objects that live there.
  let deleted = 0;
  for (let i = 0; i < 20; i++) {
    const at = node.reads.current(objectKey('b', Buffer.from(`other${i}`)))?.at;
    if (fileOf(at) !== blobFile) continue;
    await node.deleteObject('b', Buffer.from(`other${i}`));
    deleted++;
  }
  if (deleted === 0) throw new Error("nothing else in the blob's chunkfile");
  process.stdout.write(`KEY ${key}\n`);
  await pause();
} else if (scenario === 'bulk') {
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
