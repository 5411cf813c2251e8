// Child process of replica-uploads-crash.test.ts: replicated upload states applied to a StorageNode (node 2) until
// SIGKILLed — uploads, newer copies of them, parts inline and in blobs (new and replaced), removals, stale repeats —
// from 4 workers on their own uploads, one line before each apply ("start") and one after it resolved ("ack").
// Upload ids and keys are new each round (argument 2): `r<round>w<worker>u<n>`.

import { StorageNode } from '../node.ts';
import type { UploadState } from '../replica-api.ts';
import { bytes, md5, testOpener, volumeSpecs } from './harness.ts';

const [dataDir, roundArg, baseArg] = process.argv.slice(2);
const round = Number(roundArg);
let x = (round * 7919 + 13) >>> 0 || 1;
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
  let n = 0;
  let uploadId = '';
  let key = Buffer.alloc(0);
  let removed = true;
  for (;;) {
    const opver = { counter: ++counter, nodeId: 9 };
    const base = { bucket: 'b', key, uploadId, opver };
    const line = { w, uploadId, opver: String(opver.counter) };
    const r = rand(10);
    if (removed || r < 2) {
      if (removed) {
        uploadId = `r${round}w${w}u${n++}`;
        key = Buffer.from(`key-${uploadId}`);
        removed = false;
      }
      const state: UploadState = {
        ...base,
        key,
        uploadId,
        upload: { headers: { userMeta: { o: String(opver.counter) } }, initiatedMs: 1 },
      };
      out({ start: 'upload', ...line, uploadId });
      const res = await node.applyUpload({ state });
      out({ ack: 'upload', ...line, uploadId, res });
    } else if (r < 8) {
      const partNumber = 1 + rand(3);
      const size = rand(4) === 0 ? 16 * 1024 + rand(40000) : rand(3000);
      const seed = rand(1 << 30);
      const data = bytes(size, seed);
      const state: UploadState = {
        ...base,
        partNumber,
        part: { size, etag: md5(data), checksums: {}, lastModifiedMs: 1 },
      };
      out({ start: 'part', ...line, partNumber, size, seed });
      const res = await node.applyUpload({ state, ...(size > 0 ? { body: once(data) } : {}) });
      out({ ack: 'part', ...line, partNumber, res });
    } else if (r < 9) {
      out({ start: 'remove', ...line });
      const res = await node.applyUpload({ state: base });
      out({ ack: 'remove', ...line, res });
      removed = true;
    } else {
      // A state the node holds, again: stale, nothing changes (no start line: it must change nothing).
      const held = (await node.uploadStates('b', key)).filter((s) => s.uploadId === uploadId);
      const pick = held[rand(Math.max(1, held.length))];
      if (!pick) continue;
      const res = await node.applyUpload({ state: pick });
      if (res !== 'stale') throw new Error(`a held state was applied again: ${res}`);
    }
  }
}
await Promise.all([0, 1, 2, 3].map(worker));
