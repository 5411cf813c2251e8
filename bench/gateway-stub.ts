// The gateway alone: the real S3 gateway (auth, parsing, headers, access log, metrics, verifying body
// decoder) over an in-memory storage stub, on a real HTTP server. bench/gateway-cpu.ts --stub drives it,
// so the CPU it reports per request is the gateway's and Node's HTTP cost, with no disk or index work.
// Run: node --import tsx bench/gateway-stub.ts --port N   (QUIRE_ACCESS_KEY / QUIRE_SECRET_KEY set)
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../cli/logger.ts';
import { createGateway } from '../gateway/app.ts';
import { createHashingPool } from '../gateway/checksums/index.ts';
import type { BucketDirectory } from '../gateway/handlers/deps.ts';
import { GatewayMetrics } from '../gateway/metrics.ts';
import type { ObjectRecord, PutObjectInput, ReadHandle, StorageApi } from '../storage/api.ts';
import type { BucketInfo } from '../tracker/catalog.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

class MemoryStorage {
  private readonly objects = new Map<string, { record: ObjectRecord; data: Buffer }>();
  private counter = 0n;

  async putObject(input: PutObjectInput): Promise<ObjectRecord> {
    // Large bodies are counted, not kept: copying 64 MiB together would block the loop and measure the stub.
    const keep = input.size <= 1024 * 1024;
    const chunks: Buffer[] = [];
    for await (const chunk of input.body) if (keep) chunks.push(chunk);
    const done = await input.finish();
    const record: ObjectRecord = {
      bucket: input.bucket,
      key: input.key,
      size: input.size,
      etag: done.etag,
      lastModifiedMs: input.nowMs,
      headers: input.headers,
      checksums: done.checksums,
      opver: { counter: ++this.counter, nodeId: 1 },
      versionId: 'null',
    };
    this.objects.set(`${input.bucket}/${input.key.toString('latin1')}`, {
      record,
      data: keep ? Buffer.concat(chunks) : Buffer.alloc(0),
    });
    return record;
  }

  async headObject(bucket: string, key: Buffer): Promise<ObjectRecord | undefined> {
    return this.objects.get(`${bucket}/${key.toString('latin1')}`)?.record;
  }

  async openObject(bucket: string, key: Buffer): Promise<ReadHandle | undefined> {
    const found = this.objects.get(`${bucket}/${key.toString('latin1')}`);
    if (!found) return undefined;
    return {
      record: found.record,
      async *stream(range) {
        const start = range?.start ?? 0;
        const end = range?.end ?? found.data.length - 1;
        // Chunks of at most 256 KiB, like the real node's segment reads.
        for (let at = start; at <= end; at += 256 * 1024) {
          yield found.data.subarray(at, Math.min(end + 1, at + 256 * 1024));
        }
      },
      release() {},
    };
  }

  async hasObjects(): Promise<boolean> {
    return this.objects.size > 0;
  }

  async listUploads() {
    return [];
  }

  async dropBucket(bucket: string) {
    let objects = 0;
    for (const k of this.objects.keys()) if (k.startsWith(`${bucket}/`) && this.objects.delete(k)) objects++;
    return { objects, uploads: 0 };
  }

  async stats() {
    return { volumes: [] };
  }
}

const buckets = new Map<string, BucketInfo>();
const directory: BucketDirectory = {
  getBucket: (name) => buckets.get(name),
  listBuckets: () => [...buckets.values()],
  createBucket: async (spec) => {
    if (buckets.has(spec.name)) return 'owned-by-you';
    buckets.set(spec.name, { ...spec, id: spec.name });
    return 'created';
  },
  isCurrent: async (ref) => buckets.get(ref.name)?.id === ref.id,
  currentNow: (ref) => buckets.get(ref.name)?.id === ref.id,
  getBucketConfig: () => undefined,
  putBucketConfig: async () => false,
  deleteBucket: async (ref, isEmpty) => {
    if (buckets.get(ref.name)?.id !== ref.id) return 'no-such-bucket';
    if (!(await isEmpty())) return 'not-empty';
    buckets.delete(ref.name);
    return 'deleted';
  },
};

const accessKeyId = process.env.QUIRE_ACCESS_KEY ?? 'stubaccesskey';
const secretAccessKey = process.env.QUIRE_SECRET_KEY ?? 'stubsecretkey';
const logger = createLogger(process.env.QUIRE_LOG_LEVEL ?? 'info');
const hasher = createHashingPool();
const gateway = createGateway({
  buckets: directory,
  storage: new MemoryStorage() as unknown as StorageApi,
  credentials: (id) => (id === accessKeyId ? { accessKeyId, secretAccessKey } : undefined),
  region: 'us-east-1',
  baseDomains: [],
  logger: logger.child({ part: 'gateway' }),
  metrics: new GatewayMetrics(async () => []),
  hasher,
  limits: { maxObjectBytes: 5 * 1024 ** 3, minPartBytes: 5 * 1024 ** 2 },
  clock: () => Date.now(),
  isReady: () => true,
});
const server = createServer(
  { keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 },
  gateway.listener,
);
server.on('checkContinue', gateway.listener);
server.listen(Number(values.port), '127.0.0.1');
// Event-loop delay every 2 s on stderr (bench/gateway-cpu.ts --loop-delay prints these lines).
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
setInterval(() => {
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  process.stderr.write(
    `loop delay p50 ${ms(loopDelay.percentile(50))} p99 ${ms(loopDelay.percentile(99))} max ${ms(loopDelay.max)} ms\n`,
  );
  loopDelay.reset();
}, 2000).unref();
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void hasher.close();
});
