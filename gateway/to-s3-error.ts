// What any thrown value becomes on the wire: an S3Error as is, a typed storage error by its S3 code (the
// storage codes are checked against the catalogue by to-s3-error.test.ts), anything else InternalError
// with nothing internal leaked.
import { S3_ERRORS, S3Error, type S3ErrorCode } from './errors.ts';

export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    typeof err.code === 'string' &&
    Object.hasOwn(S3_ERRORS, err.code) &&
    err.code !== 'InternalError'
  ) {
    const message = 'message' in err && typeof err.message === 'string' ? err.message : undefined;
    return new S3Error(err.code as S3ErrorCode, message);
  }
  return new S3Error('InternalError');
}
