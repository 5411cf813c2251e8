// Child process of version-crash.test.ts: versioned writes through a StorageNode until SIGKILLed, one line
// before each operation ("start") and one after its acknowledgement ("ack", with the version id).
import { StorageNode } from '../node.ts';
import { bytes, putInput, testOpener, volumeSpecs } from './harness.ts';

const [dataDir, seedArg] = process.argv.slice(2);
let x = Number(seedArg) >>> 0 || 1;
const rand = (n: number) => {
  x = (x * 1103515245 + 12345) >>> 0;
  return (x >>> 8) % n;
};
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const node = await StorageNode.open({
  dataDir: dataDir!,
  nodeId: 1,
  volumes: volumeSpecs(dataDir!, 2),
  volumeOpener: testOpener().opener,
  smallObjectMaxBytes: 16 * 1024,
  checkpointEveryOps: 40,
});
out({ ready: true });

async function worker(w: number): Promise<void> {
  for (;;) {
    const key = `w${w}-k${rand(3)}`;
    const k = Buffer.from(key);
    const r = rand(10);
    if (r < 2) {
      out({ start: 'marker', w, key });
      const res = await node.removeObject({ bucket: 'b', key: k, versioning: 'enabled', nowMs: 1 });
      out({ ack: 'marker', w, key, versionId: res.versionId });
    } else if (r < 4) {
      // Remove one of the key's versions (learned from the node: survives restarts of this child).
      const versions = await node.listObjectVersions('b', { prefix: k, limit: 100 });
      const mine = versions.filter((v) => v.key.equals(k));
      if (mine.length === 0) continue;
      const versionId = mine[rand(mine.length)]!.versionId;
      out({ start: 'remove', w, key, versionId });
      await node.removeObject({ bucket: 'b', key: k, versionId, nowMs: 1 });
      out({ ack: 'remove', w, key, versionId });
    } else {
      const size = rand(4) === 0 ? 16 * 1024 + rand(40000) : rand(3000);
      const seed = rand(1 << 30);
      out({ start: 'put', w, key, size, seed });
      const rec = await node.putObject(putInput('b', key, bytes(size, seed), { versioning: 'enabled' }));
      out({ ack: 'put', w, key, size, seed, versionId: rec.versionId });
    }
  }
}
await Promise.all([0, 1, 2, 3].map(worker));
