// Child process of crash.test.ts: writes through a StorageNode until SIGKILLed, printing one line
// before each operation ("start") and one after its acknowledgement ("ack").
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
  // Checkpoints every few ops, so kills land before, during and after them too. (The binlog stays
  // one segment here, so none is removed: the test replays all of it.)
  checkpointEveryOps: 40,
});
out({ ready: true });

async function worker(w: number): Promise<void> {
  for (;;) {
    const key = `w${w}-k${rand(8)}`;
    if (rand(5) === 0) {
      out({ start: 'delete', w, key });
      const existed = await node.deleteObject('b', Buffer.from(key));
      out({ ack: 'delete', w, key, existed });
    } else {
      const size = rand(4) === 0 ? 16 * 1024 + rand(40000) : rand(3000);
      const seed = rand(1 << 30);
      out({ start: 'put', w, key, size, seed });
      await node.putObject(putInput('b', key, bytes(size, seed)));
      out({ ack: 'put', w, key, size, seed });
    }
  }
}
await Promise.all([0, 1, 2, 3].map(worker));
