// Access control lists: the owner plus grants of permissions to users (access key ids) and groups, the
// canned ACLs, and which S3 actions each ACL permission allows.
import type { AclGrantee, AclPermission, ObjectAcl } from '../../storage/api.ts';
import type { S3Action } from './actions.ts';

export type Permission = AclPermission;
export const PERMISSIONS: readonly Permission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
export const GROUPS: ReadonlySet<string> = new Set([ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY]);

export type Grantee = AclGrantee;
export type Grant = ObjectAcl['grants'][number];

/**
 * A bucket's `acl` setting, and an object's stored ACL (the same shape storage keeps with each version):
 * the owner (an access key id) and its grants.
 */
export type Acl = ObjectAcl;

export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export function isCannedAcl(value: string): value is CannedAcl {
  return (CANNED_ACLS as readonly string[]).includes(value);
}

const user = (id: string, permission: Permission): Grant => ({
  grantee: { type: 'CanonicalUser', id },
  permission,
});
const group = (uri: string, permission: Permission): Grant => ({
  grantee: { type: 'Group', uri },
  permission,
});

/** The grants a canned ACL stands for; `bucketOwner` matters for the bucket-owner-* ACLs on objects. */
export function cannedAcl(canned: CannedAcl, owner: string, bucketOwner: string): Acl {
  const grants: Grant[] = [user(owner, 'FULL_CONTROL')];
  switch (canned) {
    case 'public-read':
      grants.push(group(ALL_USERS, 'READ'));
      break;
    case 'public-read-write':
      grants.push(group(ALL_USERS, 'READ'), group(ALL_USERS, 'WRITE'));
      break;
    case 'authenticated-read':
      grants.push(group(AUTHENTICATED_USERS, 'READ'));
      break;
    case 'bucket-owner-read':
      if (bucketOwner !== owner) grants.push(user(bucketOwner, 'READ'));
      break;
    case 'bucket-owner-full-control':
      if (bucketOwner !== owner) grants.push(user(bucketOwner, 'FULL_CONTROL'));
      break;
    case 'log-delivery-write':
      grants.push(group(LOG_DELIVERY, 'WRITE'), group(LOG_DELIVERY, 'READ_ACP'));
      break;
    case 'private':
      break;
  }
  return { owner, grants };
}

/** The ACL a bucket or object has when none was set: its owner has full control. */
export function privateAcl(owner: string): Acl {
  return { owner, grants: [user(owner, 'FULL_CONTROL')] };
}

/** Grants to everyone or to every signed-in key make an ACL public (what BlockPublicAcls refuses). */
export function isPublicAcl(acl: Acl): boolean {
  return acl.grants.some(
    (g) =>
      g.grantee.type === 'Group' && (g.grantee.uri === ALL_USERS || g.grantee.uri === AUTHENTICATED_USERS),
  );
}

// Which permission of a bucket's ACL allows an action, and of an object's ACL.
const BUCKET_PERMISSION: Partial<Record<S3Action, Permission>> = {
  's3:ListBucket': 'READ',
  's3:ListBucketVersions': 'READ',
  's3:ListBucketMultipartUploads': 'READ',
  's3:PutObject': 'WRITE',
  's3:DeleteObject': 'WRITE',
  's3:DeleteObjectVersion': 'WRITE',
  's3:AbortMultipartUpload': 'WRITE',
  's3:ListMultipartUploadParts': 'WRITE',
  's3:GetBucketAcl': 'READ_ACP',
  's3:PutBucketAcl': 'WRITE_ACP',
};
const OBJECT_PERMISSION: Partial<Record<S3Action, Permission>> = {
  's3:GetObject': 'READ',
  's3:GetObjectVersion': 'READ',
  's3:GetObjectAcl': 'READ_ACP',
  's3:GetObjectVersionAcl': 'READ_ACP',
  's3:PutObjectAcl': 'WRITE_ACP',
  's3:PutObjectVersionAcl': 'WRITE_ACP',
};

export function bucketAclPermission(action: S3Action): Permission | undefined {
  return BUCKET_PERMISSION[action];
}

export function objectAclPermission(action: S3Action): Permission | undefined {
  return OBJECT_PERMISSION[action];
}

/**
 * Whether the ACL grants `permission` (or FULL_CONTROL) to `who` (an access key id; undefined: anonymous).
 * `ignorePublic` (IgnorePublicAcls) disregards grants to AllUsers and AuthenticatedUsers.
 */
export function aclGrants(
  acl: Acl,
  who: string | undefined,
  permission: Permission,
  ignorePublic: boolean,
): boolean {
  for (const g of acl.grants) {
    if (g.permission !== permission && g.permission !== 'FULL_CONTROL') continue;
    const e = g.grantee;
    if (e.type === 'CanonicalUser') {
      if (who !== undefined && e.id === who) return true;
    } else if (!ignorePublic) {
      if (e.uri === ALL_USERS) return true;
      if (e.uri === AUTHENTICATED_USERS && who !== undefined) return true;
    }
  }
  return false;
}
