// Typed storage errors. `code` is the S3 error code the gateway maps to its catalogue; it is also
// what crosses the internal HTTP API (`{code, message}`) so the client can rethrow the same class.

/** Every code a storage error can carry (the gateway's catalogue test checks each is an S3 code). */
export const STORAGE_ERROR_CODES = [
  'InsufficientStorage',
  'NoSuchUpload',
  'NoSuchKey',
  'NoSuchVersion',
  'MethodNotAllowed',
  'InvalidRequest',
  'AccessDenied',
  'InvalidPart',
  'InvalidPartOrder',
  'EntityTooSmall',
  'PreconditionFailed',
  'InvalidRange',
  'InvalidArgument',
  'IncompleteBody',
  'BadDigest',
  'KeyTooLongError',
  'ServiceUnavailable',
  'InternalError',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message?: string) {
    super(message ?? code);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No volume can take the write without eating into its reserved free space. Reads and deletes still work. */
export class StorageFullError extends StorageError {
  constructor(message = 'no volume has room for this write') {
    super('InsufficientStorage', message);
  }
}

export class NoSuchUploadError extends StorageError {
  constructor(uploadId: string) {
    super('NoSuchUpload', `upload ${uploadId} does not exist`);
  }
}

export class NoSuchKeyError extends StorageError {
  constructor(message = 'the key does not exist') {
    super('NoSuchKey', message);
  }
}

export class InvalidPartError extends StorageError {
  constructor(message: string) {
    super('InvalidPart', message);
  }
}

export class InvalidPartOrderError extends StorageError {
  constructor(message = 'parts must be listed in ascending order') {
    super('InvalidPartOrder', message);
  }
}

export class EntityTooSmallError extends StorageError {
  constructor(message: string) {
    super('EntityTooSmall', message);
  }
}

export class PreconditionFailedError extends StorageError {
  constructor(message = 'precondition failed') {
    super('PreconditionFailed', message);
  }
}

export class InvalidRangeError extends StorageError {
  constructor(message = 'range not satisfiable') {
    super('InvalidRange', message);
  }
}

export class IncompleteBodyError extends StorageError {
  constructor(message: string) {
    super('IncompleteBody', message);
  }
}

/**
 * In a cluster: this node's syncgroup does not own the key's partition (or the node has no layout yet). The only
 * storage error with this code; the gateway refreshes its layout and retries, and a client that still gets it
 * sees S3's retryable 503 ServiceUnavailable.
 */
export class WrongPartitionError extends StorageError {
  constructor(message = "this node's syncgroup does not own the key's partition") {
    super('ServiceUnavailable', message);
  }
}

/**
 * In a cluster: this node is filling itself by a recovery pull (storage/recovery-pull.ts) and serves nothing yet.
 * A wrong-partition answer too (the gateway refreshes its view, in which the node is 'recovering', and routes to
 * another member), told apart on the wire by its `reason`.
 */
export class NodeRecoveringError extends WrongPartitionError {
  readonly reason = 'recovering';
  constructor(
    message = 'this storage node is recovering (a recovery pull is filling it) and serves nothing yet',
  ) {
    super(message);
  }
}

const BY_CODE: Record<StorageErrorCode, (message: string) => StorageError> = {
  InsufficientStorage: (m) => new StorageFullError(m),
  NoSuchUpload: (m) => Object.assign(new NoSuchUploadError(''), { message: m }),
  NoSuchKey: (m) => new NoSuchKeyError(m),
  NoSuchVersion: (m) => new StorageError('NoSuchVersion', m),
  MethodNotAllowed: (m) => new StorageError('MethodNotAllowed', m),
  InvalidRequest: (m) => new StorageError('InvalidRequest', m),
  AccessDenied: (m) => new StorageError('AccessDenied', m),
  InvalidPart: (m) => new InvalidPartError(m),
  InvalidPartOrder: (m) => new InvalidPartOrderError(m),
  EntityTooSmall: (m) => new EntityTooSmallError(m),
  PreconditionFailed: (m) => new PreconditionFailedError(m),
  InvalidRange: (m) => new InvalidRangeError(m),
  IncompleteBody: (m) => new IncompleteBodyError(m),
  InvalidArgument: (m) => new StorageError('InvalidArgument', m),
  BadDigest: (m) => new StorageError('BadDigest', m),
  KeyTooLongError: (m) => new StorageError('KeyTooLongError', m),
  ServiceUnavailable: (m) => new WrongPartitionError(m),
  InternalError: (m) => new StorageError('InternalError', m),
};

/** Rebuilds the typed error from its wire form; an unknown code becomes InternalError. */
export function errorFromWire(code: string, message: string, reason?: string): StorageError {
  if (code === 'ServiceUnavailable' && reason === 'recovering') return new NodeRecoveringError(message);
  const make = BY_CODE[code as StorageErrorCode] ?? BY_CODE.InternalError;
  return make(message);
}

/** The wire form of any thrown value; non-storage errors cross as InternalError. */
export function errorToWire(err: unknown): { code: StorageErrorCode; message: string; reason?: string } {
  if (err instanceof NodeRecoveringError) return { code: err.code, message: err.message, reason: err.reason };
  if (err instanceof StorageError) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code in BY_CODE)
    return { code: code as StorageErrorCode, message: String((err as Error).message) };
  return { code: 'InternalError', message: err instanceof Error ? err.message : String(err) };
}
