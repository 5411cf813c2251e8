// versionId on a bucket that has never had versioning (Quire has none yet): every object is the "null"
// version, so `null` names the current object and any other id names a version that cannot exist. AWS
// tells a malformed id (400 InvalidArgument) from a well-formed one it does not have (404 NoSuchVersion).
import { S3Error } from '../errors.ts';

export const NULL_VERSION_ID = 'null';

// The shapes of the ids AWS issues: 32 URL-safe characters today, 64 characters (base64) for older objects.
const WELL_FORMED = /^(?:[A-Za-z0-9._-]{32}|[A-Za-z0-9._+/=-]{64})$/;

/** The error a versionId gets here, or undefined when it names the current object (`null` or absent). */
export function versionIdError(
  versionId: string | undefined,
  key: string,
  argumentName = 'versionId',
): S3Error | undefined {
  if (versionId === undefined || versionId === NULL_VERSION_ID) return undefined;
  if (versionId === '') {
    return new S3Error('InvalidArgument', 'Version id cannot be the empty string', {
      ArgumentName: argumentName,
      ArgumentValue: '',
    });
  }
  if (!WELL_FORMED.test(versionId)) {
    return new S3Error('InvalidArgument', 'Invalid version id specified', {
      ArgumentName: argumentName,
      ArgumentValue: versionId.slice(0, 1024),
    });
  }
  return new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
}

/** Throws unless the request's versionId names the current object. */
export function requireCurrentVersion(query: ReadonlyMap<string, string>, key: string): void {
  const err = versionIdError(query.get('versionId'), key);
  if (err) throw err;
}
