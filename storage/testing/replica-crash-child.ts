// Child process of replica-crash.test.ts: replicated states applied to a StorageNode (node 2) until SIGKILLed —
// new versions, delete markers, null versions, removals and stale repeats, from 4 workers on their own keys —
// one line before each apply ("start") and one after it resolved ("ack", with what it answered).

import { versionIdOf } from '../keys.ts';
import { StorageNode } from '../node.ts';
import type { ReplicaState } from '../replica-api.ts';
import { bytes, md5, testOpener, volumeSpecs } from './harness.ts';

const [dataDir, seedArg, baseArg] = process.argv.slice(2);
let x = Number(seedArg) >>> 0 || 1;
const rand = (n: number) => {
  x = (x * 1103515245 + 12345) >>> 0;
  return (x >>> 8) % n;
};
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
let counter = BigInt(baseArg!);

const node = await StorageNode.open({
  dataDir: dataDir!,
  nodeId: 2,
  volumes: volumeSpecs(dataDir!, 2),
  volumeOpener: testOpener().opener,
  smallObjectMaxBytes: 16 * 1024,
  checkpointEveryOps: 40,
  tombstonePurgeIntervalMs: 0,
});
out({ ready: true });

async function* once(data: Buffer): AsyncIterable<Buffer> {
  yield data;
}

async function worker(w: number): Promise<void> {
  for (;;) {
    const key = `w${w}-k${rand(3)}`;
    const k = Buffer.from(key);
    const r = rand(10);
    const opver = { counter: ++counter, nodeId: 9 };
    const line = { w, key, opver: String(opver.counter) };
    if (r < 7) {
      const versioned = r < 5;
      const dm = r === 4;
      const size = dm ? 0 : rand(4) === 0 ? 16 * 1024 + rand(40000) : rand(3000);
      const seed = rand(1 << 30);
      const versionId = versioned ? versionIdOf(opver) : 'null';
      const data = bytes(size, seed);
      const state: ReplicaState = {
        bucket: 'b',
        key: k,
        versionId,
        opver,
        seq: opver,
        record: {
          bucket: 'b',
          key: k,
          size,
          etag: dm ? '' : md5(data),
          lastModifiedMs: 1,
          headers: { userMeta: {} },
          checksums: {},
          opver,
          versionId,
          ...(dm ? { deleteMarker: true } : {}),
        },
      };
      out({ start: 'write', ...line, versionId, size, seed, dm });
      const res = await node.applyReplica({ state, ...(size > 0 ? { body: once(data) } : {}) });
      out({ ack: 'write', ...line, versionId, res });
    } else {
      const held = await node.replicaStates('b', k);
      const present = held.filter((s) => s.record);
      const pick = present[rand(Math.max(1, present.length))];
      if (!pick) continue;
      if (r < 9) {
        out({ start: 'remove', ...line, versionId: pick.versionId });
        const res = await node.applyReplica({
          state: { bucket: 'b', key: k, versionId: pick.versionId, opver },
        });
        out({ ack: 'remove', ...line, versionId: pick.versionId, res });
      } else {
        // The state the node holds, again: stale, nothing changes (no start line: it must change nothing).
        const res = await node.applyReplica({ state: pick });
        if (res !== 'stale') throw new Error(`a held state was applied again: ${res}`);
      }
    }
  }
}
await Promise.all([0, 1, 2, 3].map(worker));
