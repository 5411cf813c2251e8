// The public contract of the packing library: what storage/ (and tests, benchmarks) may use.
// packing/ imports nothing of ours but common/ (the Disk seam); nothing here knows about S3, buckets or the network.
import type { Disk } from '../common/disk.ts';

/** Per-key operation version. Higher wins everywhere; `nodeId` breaks ties. Never from a wall clock. */
export interface Opver {
  readonly counter: bigint;
  readonly nodeId: number;
}

/** Where an object's entry lives inside one volume. Plain data: safe to persist (storage's index does). */
export interface Location {
  /** 'chunk': an entry inside a chunkfile; 'single': a singlefile holding one large object. */
  readonly kind: 'chunk' | 'single';
  /** Chunkfile number or singlefile number within the volume. */
  readonly fileId: number;
  /** Byte offset of the entry header inside the chunkfile (0 for singlefiles). */
  readonly offset: number;
  /** Bytes reserved for the entry from its header to the end of its slack (singlefile: file length). */
  readonly allocBytes: number;
}

/** What the volume knows about one stored entry. */
export interface StoredEntry {
  readonly key: Buffer;
  /** Opaque metadata block owned by the caller (storage puts S3 headers here). */
  readonly meta: Buffer;
  readonly opver: Opver;
  readonly location: Location;
  readonly dataBytes: number;
  /** CRC-32 (IEEE, zlib.crc32 — the same as S3's x-amz-checksum-crc32) of the whole data. */
  readonly dataCrc32: number;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface PutInput {
  readonly key: Buffer;
  readonly meta: Buffer;
  readonly opver: Opver;
  /** Exactly `dataBytes` bytes: a Buffer, or a stream/async iterable of chunks (large objects never sit whole in memory). */
  readonly data: Buffer | AsyncIterable<Buffer>;
  readonly dataBytes: number;
  /** The location of the version this put replaces, if any: it is freed (or rewritten in place) once the new one is durable. */
  readonly replaces?: Location;
  /** Wall-clock ms for the create/update time fields (informational only, never used for ordering). */
  readonly nowMs?: number;
}

/**
 * A put whose bytes are written and whose location is final, but which may not be durable yet: until
 * `durable` resolves, a crash may lose the entry, so the caller must neither acknowledge nor expose it.
 * If `durable` rejects, the entry must be treated as never written (its space is not reused).
 */
export interface StagedPut {
  readonly entry: StoredEntry;
  readonly durable: Promise<void>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

export interface VolumeStats {
  readonly volumeId: string;
  readonly liveEntries: number;
  readonly liveBytes: number;
  readonly holeBytes: number;
  readonly holeCount: number;
  readonly chunkfiles: number;
  readonly singlefiles: number;
  /** Bytes the volume occupies on disk (all chunkfiles + singlefiles). */
  readonly diskBytes: number;
  /** holeBytes / (allocated chunkfile bytes), 0..1. */
  readonly fragmentation: number;
  readonly maxBytes: number;
  readonly reservedFreeBytes: number;
  /** Data bytes of live objects (liveBytes counts their allocations, headers and slack included). */
  readonly liveDataBytes: number;
  /** Quarantined bytes (corrupt or torn regions) awaiting compaction. */
  readonly deadBytes: number;
}

/** Emitted by compaction for every entry it moved, so an index can follow. */
export interface EntryMoved {
  readonly key: Buffer;
  readonly opver: Opver;
  readonly from: Location;
  readonly to: Location;
}

// ---- Added by the packing library (options, reports) ----

/**
 * How much room an entry gets beyond its body. `adaptive` (default, chosen from bench/packing-slack.ts):
 * tight at insert; the first replacement that cannot be written in place moves the entry to a slot of
 * about twice its body so later same-size replacements alternate in place. `fixed`: `percent` of the data
 * (default 20) or `bytes`, reserved at every insert.
 */
export type SlackPolicy =
  | { readonly kind: 'adaptive' }
  | { readonly kind: 'fixed'; readonly percent?: number; readonly bytes?: number };

export interface OpenVolumeOptions {
  /** Target chunkfile size (default 64 MiB). */
  readonly chunkBytes?: number;
  /** Objects of at least this many data bytes become singlefiles (default 1 MiB). */
  readonly smallObjectMaxBytes?: number;
  readonly slack?: SlackPolicy;
  /** Chunkfiles appended to at once (default 2, from bench/packing.ts measurements). */
  readonly writeLanes?: number;
  /** 'none' skips fdatasync: tests and benchmarks only. Default 'fsync'. */
  readonly durability?: 'fsync' | 'none';
  /** This node's id (opver tie-break), informational for the volume. */
  readonly nodeId?: number;
  /** Wall clock for create/update times and throttling (default Date.now). */
  readonly clock?: () => number;
  /** Called for every entry compaction moves (also at open when a half-done compaction is rolled forward); awaited. */
  readonly onMoved?: (moved: EntryMoved) => void | Promise<void>;
  /**
   * Called once a compacted chunkfile is retired: resolves when nothing the caller began before the call
   * can still name a location moved out of that file (its reads and writes in progress then have ended;
   * onMoved already pointed its index at the copies). The file's forwards (old location → copy) are then
   * forgotten, once the volume's own operations in progress at that moment have also ended. Without it,
   * forwards are kept until the volume is reopened (a caller holding old locations keeps reading them).
   */
  readonly forwardsUnused?: () => Promise<void>;
  /**
   * At open: the size limits to apply from now on. When they differ from the superblock's, it is
   * rewritten (durably) before the volume opens; a maximum below what the volume already holds, or
   * not above the reserve, is refused with a VolumeLimitError.
   */
  readonly maxBytes?: number;
  readonly reservedFreeBytes?: number;
  /** Where the files live (default: the real disk, node:fs); tests pass a simulated one. */
  readonly disk?: Disk;
}

export interface CreateVolumeOptions extends OpenVolumeOptions {
  readonly volumeId: string;
  readonly type?: 'storage' | 'cache';
  readonly maxBytes: number;
  /** Disk space never filled (default 4 GiB). */
  readonly reservedFreeBytes?: number;
}

export interface CompactionOptions {
  /** Chunkfiles whose live ratio is below this are rewritten (default 0.5). */
  readonly liveRatioBelow?: number;
  /** Copy rate limit (default unlimited; the task still yields between entries). */
  readonly bytesPerSecond?: number;
  readonly onProgress?: (p: CompactionProgress) => void;
  /**
   * Awaited once per chunkfile after its moves were reported and before it is removed: the caller makes
   * its record of the new locations durable here (a crash after the removal must not find old ones).
   */
  readonly beforeRetire?: () => Promise<void>;
  /** Checked between chunkfiles: true stops the run there (a file is always finished once begun). */
  readonly shouldStop?: () => boolean;
}

export interface CompactionProgress {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly entriesMoved: number;
  readonly bytesMoved: number;
}

export interface CompactionReport extends CompactionProgress {
  /** Disk bytes given back (retired chunkfiles minus what their live entries took elsewhere). */
  readonly bytesReclaimed: number;
}

export interface CorruptRegion {
  readonly fileId: number;
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
}

/** What open found and did. */
export interface RecoveryReport {
  /**
   * 'summary': a clean close's checkpoint, nothing read. 'checkpoint': after a crash, the last
   * checkpoint plus what changed since (`changed`). 'scan': every file read. 'new': just created.
   */
  readonly mode: 'summary' | 'checkpoint' | 'scan' | 'new';
  /**
   * 'checkpoint' mode: every live entry in what was read (chunkfiles and tails changed since the
   * checkpoint, singlefiles created since or named by a `protect`): a caller with its own index
   * checks these against it. Entries anywhere else are as they were at the checkpoint.
   */
  readonly changed?: readonly StoredEntry[];
  /** 'checkpoint' mode: singlefiles with a lower id existed at the checkpoint. */
  readonly singlefilesBefore?: number;
  /** Regions that failed their checksums (torn writes, corruption): not served, not reused. */
  readonly corrupt: readonly CorruptRegion[];
  /** Older duplicates of a key removed (crash between a replacement and freeing the old one). */
  readonly duplicatesDropped: number;
  /** Entries moved while rolling forward a half-done compaction (also passed to onMoved). */
  readonly moved: readonly EntryMoved[];
  readonly scannedBytes: number;
  readonly durationMs: number;
}
