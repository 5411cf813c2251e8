// Piscina worker: one task per upload. The task receives a MessagePort and the hash names, hashes every
// chunk posted to the port, and resolves with the digests when it gets 'end' (null on 'abort').
// Plain JS because workers do not run under the TypeScript loader.
import { setPriority } from 'node:os';
import { createRawHasher } from './hashers.mjs';

// Hashing a large upload is background work: on Linux setpriority(0) applies to the calling thread only, so this
// worker yields the CPU to the event loop (small requests' latency) and still uses every idle cycle.
const HASH_WORKER_NICE = 10;
try {
  setPriority(HASH_WORKER_NICE);
} catch {
  // Not permitted or not supported: hash at normal priority.
}

/**
 * @param {{ port: import('node:worker_threads').MessagePort; names: string[] }} task
 * @returns {Promise<Record<string, ArrayBuffer> | null>}
 */
export default function hashUpload({ port, names }) {
  const hashers = names.map((name) => createRawHasher(name));
  return new Promise((resolve) => {
    port.on('message', (msg) => {
      if (msg instanceof ArrayBuffer) {
        const view = new Uint8Array(msg);
        for (const h of hashers) h.update(view);
        // The ack hands the batch back (the sender counts its bytes as done and reuses its memory).
        port.postMessage(msg, [msg]);
        return;
      }
      port.close();
      if (msg === 'end') {
        const out = {};
        names.forEach((name, i) => {
          const d = hashers[i].digest();
          out[name] = d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength);
        });
        resolve(out);
      } else {
        resolve(null);
      }
    });
    port.on('close', () => resolve(null));
  });
}
