// The ceiling: a bare node:http server that does the least an S3 server could do for the
// benchmark's requests (no auth, no disk, no hashing). Whatever it reaches on this machine is the
// most any Node HTTP server can reach, so Quire's figures are printed as ratios of it.
// Run as a child process: `node --import tsx bench/ceiling.ts --port N`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { SlabStore } from './slab-store.ts';

/** Bodies up to this size are kept (GET answers them); larger ones are counted and dropped. */
const SMALL_MAX_BYTES = 1 << 20;
const LIST_PAGE_KEYS = 1000;
const LAST_MODIFIED = 'Mon, 06 May 2024 07:08:09 GMT';
const LAST_MODIFIED_ISO = '2024-05-06T07:08:09.000Z';
const ZEROS = Buffer.alloc(1 << 20);

export function createCeilingServer(store: SlabStore = new SlabStore()) {
  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const slash = path.indexOf('/', 1);
    if (path === '/health') return reply(res, 200, 'ok');
    if (req.method === 'PUT' && slash === -1) return drainThen(req, () => reply(res, 200, ''));
    if (req.method === 'PUT') return storeBody(req, res, store, path);
    if (req.method === 'GET' && slash === -1 && query.includes('list-type=2')) {
      return reply(res, 200, listPageXml(path.slice(1), new URLSearchParams(query)), 'application/xml');
    }
    if (req.method === 'GET') return sendObject(res, store, path);
    if (req.method === 'DELETE') {
      store.delete(path);
      return reply(res, 204, '');
    }
    return reply(res, 405, '');
  });
  return server;
}

function reply(res: ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function drainThen(req: IncomingMessage, done: () => void): void {
  req.on('data', () => {});
  req.on('end', done);
}

function storeBody(req: IncomingMessage, res: ServerResponse, store: SlabStore, path: string): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= SMALL_MAX_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (bytes <= SMALL_MAX_BYTES) store.set(path, chunks, bytes);
    else store.setSizeOnly(path, bytes);
    res.writeHead(200, { etag: '"ceiling"', 'content-length': 0 });
    res.end();
  });
}

function sendObject(res: ServerResponse, store: SlabStore, path: string): void {
  const found = store.get(path);
  if (found === undefined) {
    reply(res, 404, '<Error><Code>NoSuchKey</Code></Error>', 'application/xml');
    return;
  }
  const bytes = typeof found === 'number' ? found : found.length;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': bytes,
    etag: '"ceiling"',
    'last-modified': LAST_MODIFIED,
  });
  if (typeof found !== 'number') {
    res.end(found);
    return;
  }
  let left = bytes;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, ZEROS.length);
      left -= n;
      if (!res.write(n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/**
 * A ListObjectsV2 page of 1,000 keys built per request. Keys are `<prefix>` + 8 hex digits; the
 * page starts after the continuation token or start-after key, so paging walks forward forever.
 */
export function listPageXml(bucket: string, params: URLSearchParams): string {
  const after = params.get('continuation-token') ?? params.get('start-after') ?? 'fill/ffffffff';
  const prefix = after.slice(0, Math.max(0, after.length - 8));
  const startHex = Number.parseInt(after.slice(-8), 16);
  let n = Number.isFinite(startHex) ? (startHex + 1) >>> 0 : 0;
  const parts: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${bucket}</Name><Prefix></Prefix><KeyCount>${LIST_PAGE_KEYS}</KeyCount>`,
    `<MaxKeys>${LIST_PAGE_KEYS}</MaxKeys><IsTruncated>true</IsTruncated>`,
  ];
  let last = '';
  for (let i = 0; i < LIST_PAGE_KEYS; i++, n = (n + 1) >>> 0) {
    last = prefix + n.toString(16).padStart(8, '0');
    parts.push(
      `<Contents><Key>${last}</Key><LastModified>${LAST_MODIFIED_ISO}</LastModified>`,
      `<ETag>&quot;${n.toString(16).padStart(32, '0')}&quot;</ETag><Size>4096</Size>`,
      '<StorageClass>STANDARD</StorageClass></Contents>',
    );
  }
  parts.push(`<NextContinuationToken>${last}</NextContinuationToken></ListBucketResult>`);
  return parts.join('');
}

function main(): void {
  const at = process.argv.indexOf('--port');
  const port = at === -1 ? 0 : Number(process.argv[at + 1]);
  const server = createCeilingServer();
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    process.stdout.write(`LISTENING ${bound}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
