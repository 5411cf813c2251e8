// The one authorization step. Every request is decided here from who signed it (an access key id, or
// nobody), the bucket's owner, its policy, its ACLs, its ownership controls, the public-access block and
// the S3 action; handlers only supply facts (an object's ACL once they have read it).
//
// The bucket owner is treated as an IAM user with full access in the owning account: allowed unless the
// bucket policy explicitly denies it (never for the policy calls themselves, so a policy cannot lock its
// owner out). Anyone else needs an Allow from the policy or a grant in an ACL; an explicit Deny always wins.
import type { BucketInfo } from '../../tracker/catalog.ts';
import { S3Error } from '../errors.ts';
import type { BucketDirectory } from '../handlers/deps.ts';
import { type Acl, aclGrants, bucketAclPermission, objectAclPermission, privateAcl } from './acl.ts';
import { POLICY_ADMIN_ACTIONS, type S3Action } from './actions.ts';
import type { RequestFacts } from './facts.ts';
import { bucketArn, compiledPolicy, objectArn, type StoredPolicy } from './policy.ts';
import {
  effectiveBlock,
  NO_BLOCK,
  type PublicAccessBlock,
  type StoredOwnership,
  type StoredPublicAccessBlock,
} from './public-access.ts';

export type { S3Action } from './actions.ts';
export type { RequestFacts } from './facts.ts';
export { requestFacts } from './facts.ts';

export interface AuthzDeps {
  readonly buckets: Pick<BucketDirectory, 'getBucketConfig'>;
  /** The server-wide block (--block-public-access), OR-ed with each bucket's own. */
  readonly blockPublicAccess?: PublicAccessBlock;
}

export interface AccessRequest {
  /** The verified access key id; undefined for an anonymous (unsigned) request. */
  readonly principal: string | undefined;
  readonly bucket: BucketInfo;
  readonly action: S3Action;
  /** The object key for object actions (the resource is then `arn:aws:s3:::bucket/key`). */
  readonly key?: string;
  readonly facts: RequestFacts;
}

/**
 * 'allow': granted. 'object-acl': not granted by the owner, the policy or the bucket's ACL, but the
 * object's own ACL may grant it: the caller reads the object, then asks `requireObjectAccess`.
 */
export type Verdict = 'allow' | 'object-acl';

export function accessDenied(): S3Error {
  return new S3Error('AccessDenied');
}

/** Decides a request; throws 403 AccessDenied (no hint whether the object exists) when it is not allowed. */
export function authorize(deps: AuthzDeps, req: AccessRequest): Verdict {
  const { principal, bucket, action } = req;
  const isOwner = principal !== undefined && principal === bucket.owner;
  const stored = deps.buckets.getBucketConfig<StoredPolicy>(bucket, 'policy');
  // The common case, and the one on every benchmark: the owner of a bucket without a policy.
  if (isOwner && stored === undefined) return 'allow';
  const block = blockFor(deps, bucket);
  if (stored !== undefined) {
    const policy = compiledPolicy(stored, bucket.name);
    const arn = req.key === undefined ? bucketArn(bucket.name) : objectArn(bucket.name, req.key);
    const outcome = policy.evaluate(principal, action, arn, req.facts);
    if (outcome === 'deny' && !(isOwner && POLICY_ADMIN_ACTIONS.has(action))) throw accessDenied();
    if (isOwner) return 'allow';
    // RestrictPublicBuckets: while the policy is public, it grants nothing to anyone but the owner.
    if (outcome === 'allow' && !(block.restrictPublicBuckets && policy.isPublic)) {
      // AWS: only the owner may manage a bucket's policy, even when the policy allows someone else.
      if (POLICY_ADMIN_ACTIONS.has(action)) {
        throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
          Method: action,
          ResourceType: 'BUCKETPOLICY',
        });
      }
      return 'allow';
    }
  }
  if (isOwner) return 'allow';
  if (!aclsEnabled(deps, bucket)) throw accessDenied();
  const bucketPermission = bucketAclPermission(action);
  if (
    bucketPermission !== undefined &&
    aclGrants(bucketAcl(deps, bucket), principal, bucketPermission, block.ignorePublicAcls)
  )
    return 'allow';
  if (req.key !== undefined && objectAclPermission(action) !== undefined) return 'object-acl';
  throw accessDenied();
}

/**
 * After a request with verdict 'object-acl' read its object: allowed only if the object's ACL (its owner
 * or a grant) permits the action. `acl` undefined: the object has the default ACL (the bucket owner's).
 */
export function requireObjectAccess(
  deps: AuthzDeps,
  req: AccessRequest,
  verdict: Verdict,
  acl: Acl | undefined,
): void {
  if (verdict === 'allow') return;
  const permission = objectAclPermission(req.action);
  const objectAcl = acl ?? privateAcl(req.bucket.owner);
  if (permission === undefined) throw accessDenied();
  // An object's owner may always read and change its ACL.
  if (req.principal !== undefined && req.principal === objectAcl.owner && permission !== 'READ') return;
  if (aclGrants(objectAcl, req.principal, permission, blockFor(deps, req.bucket).ignorePublicAcls)) return;
  throw accessDenied();
}

/**
 * The answer for an object that does not exist: NoSuchKey only to a requester who may list the bucket
 * (who could learn it anyway), else AccessDenied, as AWS answers, so absence is no hint to others.
 */
export function missingObjectError(
  deps: AuthzDeps,
  req: AccessRequest,
  verdict: Verdict,
  notFound: S3Error,
): S3Error {
  if (verdict !== 'allow') return accessDenied();
  try {
    const list = authorize(deps, {
      principal: req.principal,
      bucket: req.bucket,
      action: 's3:ListBucket',
      facts: req.facts,
    });
    return list === 'allow' ? notFound : accessDenied();
  } catch {
    return accessDenied();
  }
}

/**
 * For a request decided key by key (DeleteObjects): whether any key could be allowed at all. When not, the
 * whole request is AccessDenied rather than a list of per-key refusals.
 */
export function mayBeAllowedSomewhere(
  deps: AuthzDeps,
  principal: string | undefined,
  bucket: BucketInfo,
  action: S3Action,
): boolean {
  if (principal !== undefined && principal === bucket.owner) return true;
  const block = blockFor(deps, bucket);
  const stored = deps.buckets.getBucketConfig<StoredPolicy>(bucket, 'policy');
  if (stored !== undefined) {
    const policy = compiledPolicy(stored, bucket.name);
    if (!(block.restrictPublicBuckets && policy.isPublic) && policy.mayAllow(principal, action)) return true;
  }
  const permission = bucketAclPermission(action);
  return (
    aclsEnabled(deps, bucket) &&
    permission !== undefined &&
    aclGrants(bucketAcl(deps, bucket), principal, permission, block.ignorePublicAcls)
  );
}

/** CreateBucket and ListBuckets: any signed request, never an anonymous one. */
export function requirePrincipal(principal: string | undefined): string {
  if (principal === undefined) throw accessDenied();
  return principal;
}

function blockFor(deps: AuthzDeps, bucket: BucketInfo): PublicAccessBlock {
  return effectiveBlock(
    deps.buckets.getBucketConfig<StoredPublicAccessBlock>(bucket, 'public-access-block'),
    deps.blockPublicAccess ?? NO_BLOCK,
  );
}

/** BucketOwnerEnforced turns ACLs off: they neither grant nor can be set. */
export function aclsEnabled(deps: AuthzDeps, bucket: BucketInfo): boolean {
  return (
    deps.buckets.getBucketConfig<StoredOwnership>(bucket, 'ownership')?.objectOwnership !==
    'BucketOwnerEnforced'
  );
}

export function bucketAcl(deps: AuthzDeps, bucket: BucketInfo): Acl {
  return deps.buckets.getBucketConfig<Acl>(bucket, 'acl') ?? privateAcl(bucket.owner);
}

export function publicAccessBlockFor(deps: AuthzDeps, bucket: BucketInfo): PublicAccessBlock {
  return blockFor(deps, bucket);
}
