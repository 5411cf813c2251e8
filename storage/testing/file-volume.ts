// TEST-ONLY stand-in for packing's Volume while packing/ is being written: one file per entry,
// written to a temp name, fsynced and renamed. Honest about durability and fullness so crash and
// full-volume tests mean something, but none of packing's packing, slack or holes.

import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ByteRange, Location, PutInput, StoredEntry, VolumeStats } from '../../packing/types.ts';
import type { VolumeOpener, VolumePort, ResolvedVolumeSpec as VolumeSpec } from '../volume-port.ts';

export class VolumeFullError extends Error {
  override name = 'VolumeFullError';
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  await fh.sync();
  await fh.close();
}

export class FileVolume implements VolumePort {
  private nextId = 1;
  private bytes = 0;
  private entries = 0;
  private constructor(
    private readonly dir: string,
    private readonly spec: VolumeSpec,
    private readonly sync: boolean,
  ) {}

  static async open(spec: VolumeSpec, sync = true): Promise<FileVolume> {
    await mkdir(spec.dir, { recursive: true });
    const v = new FileVolume(spec.dir, spec, sync);
    for (const n of await readdir(spec.dir)) {
      if (n.endsWith('.tmp')) await rm(join(spec.dir, n));
      const id = Number(/^(\d+)\.e$/.exec(n)?.[1] ?? 0);
      if (!id) continue;
      v.nextId = Math.max(v.nextId, id + 1);
      v.bytes += (await stat(join(spec.dir, n))).size;
      v.entries++;
    }
    return v;
  }

  private path(fileId: number): string {
    return join(this.dir, `${fileId}.e`);
  }

  async put(input: PutInput): Promise<StoredEntry> {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(input.data)) chunks.push(input.data);
    else for await (const c of input.data) chunks.push(c);
    const data = Buffer.concat(chunks);
    if (data.length !== input.dataBytes)
      throw new Error(`expected ${input.dataBytes} bytes, got ${data.length}`);
    const head = Buffer.alloc(4 + input.key.length + 4 + input.meta.length + 8 + 4 + 8 + 4);
    let at = head.writeUInt32LE(input.key.length, 0);
    at += input.key.copy(head, at);
    at = head.writeUInt32LE(input.meta.length, at);
    at += input.meta.copy(head, at);
    at = head.writeBigUInt64LE(input.opver.counter, at);
    at = head.writeUInt32LE(input.opver.nodeId, at);
    at = head.writeDoubleLE(input.nowMs ?? 0, at);
    head.writeUInt32LE(crc32(data), at);
    const total = head.length + data.length;
    const replaced = input.replaces ? input.replaces.allocBytes : 0;
    if (this.bytes + total - replaced > this.spec.maxBytes - this.spec.reservedFreeBytes) {
      throw new VolumeFullError('volume full');
    }
    const fileId = this.nextId++;
    const tmp = `${this.path(fileId)}.tmp`;
    const fh = await open(tmp, 'w');
    await fh.writev([head, data]);
    if (this.sync) await fh.datasync();
    await fh.close();
    await rename(tmp, this.path(fileId));
    if (this.sync) await syncDir(this.dir);
    this.bytes += total;
    this.entries++;
    if (input.replaces) await this.delete(input.replaces);
    const location: Location = { kind: 'single', fileId, offset: 0, allocBytes: total };
    return this.entryOf(input.key, input.meta, input.opver, location, data, input.nowMs ?? 0);
  }

  private entryOf(
    key: Buffer,
    meta: Buffer,
    opver: StoredEntry['opver'],
    location: Location,
    data: Buffer,
    ms: number,
  ): StoredEntry {
    return {
      key,
      meta,
      opver,
      location,
      dataBytes: data.length,
      dataCrc32: crc32(data),
      createdMs: ms,
      updatedMs: ms,
    };
  }

  async delete(location: Location): Promise<void> {
    await rm(this.path(location.fileId));
    if (this.sync) await syncDir(this.dir);
    this.bytes -= location.allocBytes;
    this.entries--;
  }

  private async load(fileId: number): Promise<{ entry: StoredEntry; data: Buffer }> {
    const buf = await readFile(this.path(fileId));
    let at = 0;
    const keyLen = buf.readUInt32LE(at);
    const key = buf.subarray(4, 4 + keyLen);
    at = 4 + keyLen;
    const metaLen = buf.readUInt32LE(at);
    const meta = buf.subarray(at + 4, at + 4 + metaLen);
    at += 4 + metaLen;
    const opver = { counter: buf.readBigUInt64LE(at), nodeId: buf.readUInt32LE(at + 8) };
    const ms = buf.readDoubleLE(at + 12);
    const crc = buf.readUInt32LE(at + 20);
    const data = buf.subarray(at + 24);
    if (crc32(data) !== crc) throw new Error(`corrupt entry ${fileId}`);
    const location: Location = { kind: 'single', fileId, offset: 0, allocBytes: buf.length };
    return { entry: this.entryOf(Buffer.from(key), Buffer.from(meta), opver, location, data, ms), data };
  }

  async read(location: Location, range?: ByteRange): Promise<Buffer> {
    const { data } = await this.load(location.fileId);
    return range ? data.subarray(range.start, range.end + 1) : data;
  }

  async *openRead(location: Location, range?: ByteRange): AsyncIterable<Buffer> {
    const data = await this.read(location, range);
    for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
  }

  async readEntry(location: Location): Promise<StoredEntry> {
    return (await this.load(location.fileId)).entry;
  }

  async *scan(): AsyncIterable<StoredEntry> {
    for (const n of await readdir(this.dir)) {
      const id = Number(/^(\d+)\.e$/.exec(n)?.[1] ?? 0);
      if (id) yield (await this.load(id)).entry;
    }
  }

  stats(): VolumeStats {
    return {
      volumeId: this.spec.volumeId,
      liveEntries: this.entries,
      liveBytes: this.bytes,
      holeBytes: 0,
      holeCount: 0,
      chunkfiles: 0,
      singlefiles: this.entries,
      diskBytes: this.bytes,
      fragmentation: 0,
      liveDataBytes: this.bytes,
      deadBytes: 0,
      maxBytes: this.spec.maxBytes,
      reservedFreeBytes: this.spec.reservedFreeBytes,
    };
  }

  async close(): Promise<void> {}
}

export const fileVolumeOpener = (sync = true): VolumeOpener => ({
  openOrCreate: (spec) => FileVolume.open(spec, sync),
});
