// The ACL a new object gets (PutObject, CopyObject) and the one an ACL call sets, as the bucket's
// ownership controls and public access block allow. Storage keeps it with the version; only an ACL other
// than the default (the bucket owner's full control) is stored.
import type { IncomingHttpHeaders } from 'node:http';
import type { BucketInfo } from '../../tracker/catalog.ts';
import { S3Error } from '../errors.ts';
import { type Acl, isPublicAcl, privateAcl } from './acl.ts';
import { aclFromHeaders, hasAclHeaders } from './acl-request.ts';
import { type AuthzDeps, publicAccessBlockFor } from './authorize.ts';
import type { ObjectOwnership, StoredOwnership } from './public-access.ts';

export interface ObjectAclContext {
  readonly bucket: BucketInfo;
  /** Who writes (undefined: anonymous, through a public-read-write grant). */
  readonly principal: string | undefined;
  readonly knownUser: (id: string) => boolean;
}

function ownershipOf(deps: AuthzDeps, bucket: BucketInfo): ObjectOwnership {
  return (
    deps.buckets.getBucketConfig<StoredOwnership>(bucket, 'ownership')?.objectOwnership ?? 'ObjectWriter'
  );
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The ACL for an object written now, from x-amz-acl / x-amz-grant-*: undefined for the default.
 * ObjectWriter: the writer owns it. BucketOwnerPreferred: the bucket owner does when the writer grants it
 * bucket-owner-full-control. BucketOwnerEnforced: ACLs are off (only bucket-owner-full-control is accepted).
 */
export function aclForNewObject(
  deps: AuthzDeps,
  headers: IncomingHttpHeaders,
  ctx: ObjectAclContext,
): Acl | undefined {
  if (!hasAclHeaders(headers)) {
    if (ownershipOf(deps, ctx.bucket) !== 'ObjectWriter' || ctx.principal === undefined) return undefined;
    return ctx.principal === ctx.bucket.owner ? undefined : privateAcl(ctx.principal);
  }
  const ownership = ownershipOf(deps, ctx.bucket);
  const canned = header(headers, 'x-amz-acl')?.trim();
  if (ownership === 'BucketOwnerEnforced') {
    if (
      canned === 'bucket-owner-full-control' &&
      Object.keys(headers).every((h) => !h.startsWith('x-amz-grant-'))
    )
      return undefined;
    throw new S3Error('AccessControlListNotSupported');
  }
  const writer = ctx.principal ?? ctx.bucket.owner;
  const owner =
    ownership === 'BucketOwnerPreferred' && canned === 'bucket-owner-full-control'
      ? ctx.bucket.owner
      : writer;
  const acl = aclFromHeaders(headers, { owner, bucketOwner: ctx.bucket.owner, knownUser: ctx.knownUser });
  return storedForm(deps, ctx.bucket, acl ?? privateAcl(owner));
}

/** PutObjectAcl's new ACL, checked like a new object's; undefined for the default. */
export function settableObjectAcl(deps: AuthzDeps, bucket: BucketInfo, acl: Acl): Acl | undefined {
  if (ownershipOf(deps, bucket) === 'BucketOwnerEnforced') {
    if (acl.grants.every((g) => g.grantee.type === 'CanonicalUser' && g.grantee.id === bucket.owner))
      return undefined;
    throw new S3Error('AccessControlListNotSupported');
  }
  return storedForm(deps, bucket, acl);
}

function storedForm(deps: AuthzDeps, bucket: BucketInfo, acl: Acl): Acl | undefined {
  if (isPublicAcl(acl) && publicAccessBlockFor(deps, bucket).blockPublicAcls)
    throw new S3Error('AccessDenied');
  const isDefault =
    acl.owner === bucket.owner &&
    acl.grants.length === 1 &&
    acl.grants[0]?.permission === 'FULL_CONTROL' &&
    acl.grants[0].grantee.type === 'CanonicalUser' &&
    acl.grants[0].grantee.id === bucket.owner;
  return isDefault ? undefined : acl;
}

/** What GetObjectAcl shows: the stored ACL, or the default one; with ACLs off, the bucket owner's. */
export function shownObjectAcl(deps: AuthzDeps, bucket: BucketInfo, stored: Acl | undefined): Acl {
  if (ownershipOf(deps, bucket) === 'BucketOwnerEnforced' || stored === undefined)
    return privateAcl(bucket.owner);
  return stored;
}
