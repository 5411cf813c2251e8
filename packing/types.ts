// The public contract of the packing library: what storage/ (and tests, benchmarks) may use.
// packing/ imports nothing of ours; nothing here knows about S3, buckets or the network.

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
}

/** Emitted by compaction for every entry it moved, so an index can follow. */
export interface EntryMoved {
  readonly key: Buffer;
  readonly opver: Opver;
  readonly from: Location;
  readonly to: Location;
}
