// Typed errors of the packing library. `code` is stable and survives crossing a worker thread.
import type { Location } from './types.ts';

export class PackingError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bytes on disk failed their checksum (or a header is unreadable): never served as object data. */
export class CorruptEntryError extends PackingError {
  readonly location: Location;
  readonly reason: string;
  constructor(location: Location, reason: string) {
    super(
      'CORRUPT_ENTRY',
      `corrupt ${location.kind} entry file=${location.fileId} offset=${location.offset}: ${reason}`,
    );
    this.location = location;
    this.reason = reason;
  }
}

/** A put would eat into the volume's reserved free space or exceed its max size (S3: 507). */
export class VolumeFullError extends PackingError {
  readonly neededBytes: number;
  constructor(neededBytes: number, detail: string) {
    super('VOLUME_FULL', `volume full: need ${neededBytes} bytes (${detail})`);
    this.neededBytes = neededBytes;
  }
}

/** The location does not hold a live entry (deleted, reused, or never written). */
export class EntryNotFoundError extends PackingError {
  readonly location: Location;
  constructor(location: Location, why: string) {
    super(
      'ENTRY_NOT_FOUND',
      `no live entry at ${location.kind} ${location.fileId}:${location.offset}: ${why}`,
    );
    this.location = location;
  }
}

/** The caller broke the contract (sizes, lengths, ranges, closed volume). */
export class InvalidInputError extends PackingError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/** The directory is not a volume this code can open (bad superblock, wrong version). */
export class VolumeFormatError extends PackingError {
  constructor(message: string) {
    super('VOLUME_FORMAT', message);
  }
}

/** Size limits a volume cannot take: a maximum below what it holds, or not above its reserve. */
export class VolumeLimitError extends PackingError {
  constructor(
    message: string,
    /** The smallest maximum it would take (what it holds, or the reserve plus one byte). */
    readonly minMaxBytes: number,
  ) {
    super('VOLUME_LIMIT', message);
  }
}
