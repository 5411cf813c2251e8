// versionId as S3 takes it (query parameter, x-amz-copy-source ?versionId=, DeleteObjects <VersionId>) and the
// headers that name versions in answers. Ids are opaque to the gateway: `null`, or what storage issued (16
// URL-safe characters). AWS tells a malformed id (400 InvalidArgument) from a well-formed one it does not hold
// (404 NoSuchVersion); ids shaped like AWS's own (32 URL-safe or 64 base64 characters, e.g. from a migration)
// count as well-formed, so they are 404 too.
import type { ObjectRecord, VersioningMode } from '../../storage/api.ts';
import { S3Error } from '../errors.ts';
import { httpDate } from './headers.ts';

export const NULL_VERSION_ID = 'null';

const WELL_FORMED = /^(?:[A-Za-z0-9_-]{16}|[A-Za-z0-9._-]{32}|[A-Za-z0-9._+/=-]{64})$/;

/** The 400 a malformed id gets, or undefined when it may name a version (absent included). */
export function malformedVersionId(
  versionId: string | undefined,
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
  return undefined;
}

/** The request's `versionId` query parameter, checked; undefined when absent. */
export function requestedVersionId(query: ReadonlyMap<string, string>): string | undefined {
  const v = query.get('versionId');
  const err = malformedVersionId(v);
  if (err) throw err;
  return v;
}

export function noSuchVersion(key: string, versionId: string): S3Error {
  return new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
}

/** Absent when the version asked for is missing: NoSuchVersion with an id, else NoSuchKey. */
export function notFound(key: string, versionId: string | undefined): S3Error {
  return versionId === undefined
    ? new S3Error('NoSuchKey', undefined, { Key: key })
    : noSuchVersion(key, versionId);
}

/**
 * x-amz-version-id as AWS sends it on object answers: on buckets that have (or had) versioning; a bucket
 * that never had it names no version.
 */
export function versionIdHeader(
  mode: VersioningMode,
  record: Pick<ObjectRecord, 'versionId'>,
): Record<string, string> {
  return mode === 'unversioned' ? {} : { 'x-amz-version-id': record.versionId };
}

/**
 * A delete marker where an object was asked for: 404 NoSuchKey for the current version, 405
 * MethodNotAllowed when named by id; both say it is a marker (and which) in headers.
 */
export function deleteMarkerError(key: string, record: ObjectRecord, byId: boolean, method = 'GET'): S3Error {
  const headers = { 'x-amz-delete-marker': 'true', 'x-amz-version-id': record.versionId };
  if (byId) {
    return new S3Error(
      'MethodNotAllowed',
      undefined,
      { Method: method, ResourceType: 'DeleteMarker' },
      { ...headers, 'last-modified': httpDate(record.lastModifiedMs), allow: 'DELETE' },
    );
  }
  return new S3Error('NoSuchKey', undefined, { Key: key }, headers);
}
