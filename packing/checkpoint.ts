// Checkpoints and the change journal: what lets a volume reopen after a crash without reading every
// chunkfile (FORMAT.md, "Checkpoints and the change journal").
//
// A checkpoint (`summary.qs`) lists chunkfiles with their end, live counters and holes as they were at
// one instant when no write was in flight in them. Afterwards:
//   - appends go past a listed file's recorded end (or into files the checkpoint does not list), so
//     reopening reads only those tails and unlisted files;
//   - any other change to a listed file (a delete, a hole reused, a replacement in place) is preceded
//     by a durable record of the file's id in the journal `changes-<generation>.qj`; reopening reads
//     such files whole. The record is written before the first byte of the change, once per file per
//     checkpoint.
// Free space is thus always taken from headers read back (the checkpoint's holes were read from
// headers or freed by durable deletes, and every file changed since is read again), never from a
// list kept beside the data.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Disk, DiskFile } from '../common/disk.ts';
import { syncDir, writeFileDurable } from '../common/durable-file.ts';
import type { ChunkFile } from './chunkfile.ts';
import type { VolumeCore } from './core.ts';
import { crc32Continue } from './crc.ts';
import { FILE_NAMES, journalName, parseFileId } from './layout.ts';
import { encodeSummary } from './summary.ts';

const RECORD_BYTES = 12;
const KIND_CHUNK = 1;
const KIND_SINGLE = 2;
/** How long a checkpoint holds back appends so the active chunkfiles can be listed. */
const DRAIN_WAIT_MS = 100;

function encodeRecord(kind: number, fileId: number, volumeCrc: number): Buffer {
  const b = Buffer.alloc(RECORD_BYTES);
  b.writeUInt32LE(fileId, 0);
  b.writeUInt8(kind, 4);
  b.writeUInt32LE(crc32Continue(b.subarray(0, 8), volumeCrc), 8);
  return b;
}

export interface ChangedFiles {
  readonly chunks: Set<number>;
  readonly singles: Set<number>;
  /** Journal records found (any generation at or after the checkpoint's). */
  records: number;
}

/** The union of every journal of `fromGeneration` or later; a torn record ends its journal. */
export async function readJournals(
  disk: Disk,
  dir: string,
  volumeCrc: number,
  fromGeneration: number,
): Promise<ChangedFiles> {
  const out: ChangedFiles = { chunks: new Set(), singles: new Set(), records: 0 };
  for (const gen of await journalGenerations(disk, dir)) {
    if (gen < fromGeneration) continue;
    const buf = await disk.readFile(join(dir, journalName(gen)));
    for (let at = 0; at + RECORD_BYTES <= buf.length; at += RECORD_BYTES) {
      if (crc32Continue(buf.subarray(at, at + 8), volumeCrc) !== buf.readUInt32LE(at + 8)) break;
      const id = buf.readUInt32LE(at);
      const kind = buf.readUInt8(at + 4);
      if (kind === KIND_CHUNK) out.chunks.add(id);
      else if (kind === KIND_SINGLE) out.singles.add(id);
      out.records += 1;
    }
  }
  return out;
}

async function journalGenerations(disk: Disk, dir: string): Promise<number[]> {
  return (await disk.readdir(dir))
    .map((n) => parseFileId(n, FILE_NAMES.journalPrefix, FILE_NAMES.journalSuffix))
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
}

interface QueuedRecord {
  readonly key: string;
  readonly buf: Buffer;
  resolve(): void;
  reject(err: unknown): void;
}

/** The live side of the journal: which files the current checkpoint lists, and marking them changed. */
export class ChangeJournal {
  generation = 0;
  /** Chunkfiles the current checkpoint lists, with the end it recorded. */
  private listed = new Map<number, number>();
  /** Singlefiles with a lower id existed at the checkpoint. */
  private singlesBefore = 0;
  private readonly marked = new Set<string>();
  private readonly inflight = new Map<string, Promise<void>>();
  private queue: QueuedRecord[] = [];
  private writing: Promise<void> | undefined;
  private fh: DiskFile | undefined;
  private fhGeneration = -1;

  constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly volumeCrc: number,
    private readonly durable: boolean,
  ) {}

  /** Starts a generation: from now on changes are journaled against this listing. */
  begin(generation: number, listed: Map<number, number>, singlesBefore: number): void {
    this.generation = generation;
    this.listed = listed;
    this.singlesBefore = singlesBefore;
    this.marked.clear();
  }

  /**
   * Bytes of the chunkfile below `offset` are about to change: undefined when no record is needed
   * (the file is not listed, the offset is past the listed end, or it is already marked), else a
   * promise that resolves once the record is durable. Call it while holding a write on the file
   * (ChunkFile.beginWrite), so no checkpoint can list the file between the record and the change.
   */
  touchChunk(fileId: number, offset: number): Promise<void> | undefined {
    const end = this.listed.get(fileId);
    if (end === undefined || offset >= end) return undefined;
    return this.touch(KIND_CHUNK, fileId);
  }

  /** A singlefile that existed at the checkpoint is about to go (or must be looked at after a crash). */
  touchSingle(fileId: number): Promise<void> | undefined {
    if (fileId >= this.singlesBefore) return undefined;
    return this.touch(KIND_SINGLE, fileId);
  }

  private touch(kind: number, fileId: number): Promise<void> | undefined {
    const key = `${kind}:${fileId}`;
    if (this.marked.has(key)) return undefined;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = new Promise<void>((resolve, reject) => {
      this.queue.push({ key, buf: encodeRecord(kind, fileId, this.volumeCrc), resolve, reject });
    });
    this.inflight.set(key, p);
    const done = () => this.inflight.delete(key);
    p.then(done, done);
    if (!this.writing) this.writing = this.flush();
    return p;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const gen = this.generation;
      try {
        const fh = await this.file(gen);
        await fh.appendFile(Buffer.concat(batch.map((r) => r.buf)));
        if (this.durable) await fh.datasync();
        // A record written under an older generation does not mark the file in the new one.
        for (const r of batch) if (gen === this.generation) this.marked.add(r.key);
        for (const r of batch) r.resolve();
      } catch (err) {
        for (const r of batch) r.reject(err);
      }
    }
    this.writing = undefined;
  }

  private async file(gen: number): Promise<DiskFile> {
    if (this.fh && this.fhGeneration === gen) return this.fh;
    await this.fh?.close();
    this.fh = undefined;
    const fh = await this.disk.open(join(this.dir, journalName(gen)), 'a+');
    if (this.durable) await syncDir(this.disk, this.dir);
    this.fh = fh;
    this.fhGeneration = gen;
    return fh;
  }

  /** Removes journals older than `generation` (their checkpoint has been replaced). */
  async prune(generation: number, all = false): Promise<void> {
    while (this.writing) await this.writing;
    if (all) {
      await this.fh?.close();
      this.fh = undefined;
      this.fhGeneration = -1;
    }
    for (const gen of await journalGenerations(this.disk, this.dir)) {
      if (gen < generation || all)
        await this.disk.unlink(join(this.dir, journalName(gen))).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    while (this.writing) await this.writing;
    await this.fh?.close();
    this.fh = undefined;
  }
}

export interface CheckpointOptions {
  /** Called after the snapshot, before the checkpoint replaces the previous one (it may wait). */
  readonly beforeInstall?: () => Promise<void>;
}

/**
 * Takes a checkpoint: holds appends back briefly so the active chunkfiles finish their writes in
 * flight, lists every chunkfile with no write in flight (the others are read whole after a crash),
 * starts a new journal generation, then writes the checkpoint durably. `complete` (clean close only)
 * says every chunkfile is listed and nothing will change before the next open.
 */
export async function takeCheckpoint(
  core: VolumeCore,
  opts: CheckpointOptions & { complete?: boolean } = {},
): Promise<{ generation: number; listed: number }> {
  let release!: () => void;
  core.appendGate = new Promise<void>((r) => {
    release = r;
  });
  let files: ChunkFile[];
  try {
    const active = core.lanes.map((l) => l.activeFile).filter((f): f is ChunkFile => f !== undefined);
    await Promise.race([Promise.all(active.map((f) => f.drained())), sleep(DRAIN_WAIT_MS)]);
    // From here to `begin` nothing awaits: the listing and the new generation are one instant.
    files = [...core.chunks.values()]
      .filter((f) => !f.compacting && !f.retired && f.idle)
      .sort((a, b) => a.fileId - b.fileId);
    const generation = core.journal.generation + 1;
    core.journal.begin(generation, new Map(files.map((f) => [f.fileId, f.end])), core.nextSingleId);
  } finally {
    core.appendGate = undefined;
    release();
  }
  const generation = core.journal.generation;
  const summary = encodeSummary({
    volumeCrc: core.volumeCrc,
    generation,
    complete: opts.complete === true,
    nextChunkId: core.nextChunkId,
    nextSingleId: core.nextSingleId,
    singlefiles: core.singlefiles,
    singleBytes: core.singleBytes,
    singleDataBytes: core.singleDataBytes,
    chunks: files.map((f) => ({
      fileId: f.fileId,
      end: f.end,
      liveEntries: f.liveEntries,
      liveBytes: f.liveBytes,
      liveDataBytes: f.liveDataBytes,
      deadBytes: f.deadBytes,
      holes: core.holesOf(f.fileId),
    })),
  });
  // Held singlefiles stay named in the new generation's journal before the checkpoint counts.
  await Promise.all([...core.heldSingles.keys()].map((id) => core.journal.touchSingle(id)));
  await opts.beforeInstall?.();
  await writeFileDurable(core.opts.disk, core.dir, FILE_NAMES.summary, summary);
  await core.journal.prune(generation, opts.complete === true);
  return { generation, listed: files.length };
}
