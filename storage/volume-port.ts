// What the storage node needs from one volume: the packing library's contract (packing/types.ts).
// Declared here as a structural interface so the node can run against packing's `Volume` and, in
// unit tests only, against a small stand-in.
import type { Disk } from '../common/disk.ts';
import type {
  ByteRange,
  CompactionOptions,
  CompactionReport,
  EntryMoved,
  Location,
  OpenVolumeOptions,
  PutInput,
  StagedPut,
  StoredEntry,
  VolumeStats,
} from '../packing/types.ts';

export type {
  ByteRange,
  CompactionOptions,
  CompactionReport,
  EntryMoved,
  Location,
  PutInput,
  StagedPut,
  StoredEntry,
  VolumeStats,
};

export interface VolumePort {
  put(input: PutInput): Promise<StoredEntry>;
  /** Optional: resolves once the bytes are written, `durable` once they are synced (packing's Volume has it). */
  putStaged?(input: PutInput): Promise<StagedPut>;
  delete(location: Location): Promise<void>;
  /** Optional: where an entry is now, if compaction moved it (packing's Volume has it). */
  resolve?(location: Location): Location;
  read(location: Location, range?: ByteRange): Promise<Buffer>;
  openRead(location: Location, range?: ByteRange): AsyncIterable<Buffer>;
  readEntry(location: Location): Promise<StoredEntry>;
  scan(): AsyncIterable<StoredEntry>;
  stats(): VolumeStats;
  /** Optional: rewrites sparse chunkfiles, reporting every move through the volume's onMoved hook. */
  compact?(opts: CompactionOptions): Promise<CompactionReport>;
  close(): Promise<void>;
  /** What opening found (packing's RecoveryReport): 'checkpoint' lists the entries changed since. */
  readonly recovery?: { readonly mode: string; readonly changed?: readonly StoredEntry[] };
  /** Takes a checkpoint (packing/checkpoint.ts); `beforeInstall` may wait. */
  checkpoint?(opts?: { beforeInstall?: () => Promise<void> }): Promise<unknown>;
  /** Keeps these entries' files marked changed until released: for frees that follow an index commit. */
  protect?(locations: readonly Location[]): Promise<() => void>;
}

/** How the node opens (or creates on first start) each configured volume. */
export interface VolumeOpener {
  openOrCreate(spec: ResolvedVolumeSpec, nodeId: number, hooks?: VolumeHooks): Promise<VolumePort>;
}

export interface VolumeHooks {
  /** 'none' skips fdatasync: tests and benchmarks only. */
  durability?: 'fsync' | 'none';
  /** Compaction moved an entry: the index must follow. */
  onMoved?: (moved: EntryMoved) => void | Promise<void>;
  /** A compacted file was retired: resolves once nothing can still name a location moved out of it. */
  forwardsUnused?: () => Promise<void>;
  /** Where the volume's files live (default: the real disk); simulation tests pass a SimDisk. */
  disk?: Disk;
  tuning?: VolumeTuning;
}

/** Engine settings passed to packing as they are (tests use small chunkfiles and singlefiles). */
export type VolumeTuning = Pick<
  OpenVolumeOptions,
  'chunkBytes' | 'smallObjectMaxBytes' | 'writeLanes' | 'slack'
>;

export type ResolvedVolumeSpec = VolumeSpec & { volumeId: string };

export interface VolumeSpec {
  /** Directory of the volume. */
  dir: string;
  /** Stable id written into the volume at creation; the index refers to volumes by it (default: the dir's name). */
  volumeId?: string;
  maxBytes: number;
  reservedFreeBytes: number;
  /** Chunkfile size of a volume created now (default: packing's 64 MiB); an existing volume keeps its own. */
  chunkBytes?: number;
}

/** True when the error is the volume saying it is full (packing's typed VolumeFullError). */
export function isVolumeFull(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return e?.name === 'VolumeFullError' || e?.code === 'VolumeFull' || e?.code === 'VOLUME_FULL';
}
