// A bucket's access settings: policy (and its public status), ACL, ownership controls, public access block.
// Who may call these was decided by the authorization step; here they are validated, stored per bucket
// incarnation in the catalog and shaped as AWS answers them.
import type { IncomingHttpHeaders } from 'node:http';
import type { BucketInfo, InitialBucketConfig } from '../../tracker/catalog.ts';
import { type Acl, isPublicAcl, privateAcl } from '../authz/acl.ts';
import { aclDocument, aclFromDocument, aclFromHeaders, hasAclHeaders } from '../authz/acl-request.ts';
import { aclsEnabled, bucketAcl, publicAccessBlockFor } from '../authz/authorize.ts';
import { compiledPolicy, compilePolicy, rememberCompiled, type StoredPolicy } from '../authz/policy.ts';
import type { StoredOwnership, StoredPublicAccessBlock } from '../authz/public-access.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml, writeHead } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import {
  accessControlPolicyXml,
  OBJECT_OWNERSHIPS,
  type ObjectOwnershipXml,
  ownershipControlsXml,
  parseAccessControlPolicy,
  parseOwnershipControls,
  parsePublicAccessBlock,
  policyStatusXml,
  publicAccessBlockXml,
} from '../s3/xml-access.ts';
import { putBucketSetting, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const SETTINGS_BYTES_MAX = 64 * 1024;

/** Stores one setting; the bucket may have been deleted since admission (then NoSuchBucket). */
function noPolicy(bucket: BucketInfo): S3Error {
  return new S3Error('NoSuchBucketPolicy', undefined, { BucketName: bucket.name });
}

export const getBucketPolicy: Handler<Op<'GetBucketPolicy'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const stored = deps.buckets.getBucketConfig<StoredPolicy>(bucket, 'policy');
  if (stored === undefined) throw noPolicy(bucket);
  // The document exactly as it was put, as AWS returns it.
  const body = Buffer.from(stored.text, 'utf8');
  writeHead(ex, 200, { 'content-type': 'application/json', 'content-length': body.length });
  ex.res.end(body);
};

export const putBucketPolicy: Handler<Op<'PutBucketPolicy'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const text = (await readVerifiedSmallBody(deps, ex, verified, SETTINGS_BYTES_MAX)).toString('utf8');
  const policy = compilePolicy(text, {
    bucket: bucket.name,
    knownPrincipal: (id) => deps.credentials(id) !== undefined,
  });
  if (policy.isPublic && publicAccessBlockFor(deps, bucket).blockPublicPolicy)
    throw new S3Error('AccessDenied');
  const stored: StoredPolicy = { v: 1, text };
  await putBucketSetting(deps, bucket, 'policy', stored);
  rememberCompiled(stored, policy);
  sendEmpty(ex, 204);
};

export const deleteBucketPolicy: Handler<Op<'DeleteBucketPolicy'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'policy', undefined);
  sendEmpty(ex, 204);
};

export const getBucketPolicyStatus: Handler<Op<'GetBucketPolicyStatus'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const stored = deps.buckets.getBucketConfig<StoredPolicy>(bucket, 'policy');
  if (stored === undefined) throw noPolicy(bucket);
  const policy = compiledPolicy(stored, bucket.name);
  sendXml(ex, 200, policyStatusXml(policy.isPublic));
};

export const getPublicAccessBlock: Handler<Op<'GetPublicAccessBlock'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const stored = deps.buckets.getBucketConfig<StoredPublicAccessBlock>(bucket, 'public-access-block');
  if (stored === undefined)
    throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: bucket.name });
  sendXml(ex, 200, publicAccessBlockXml(stored));
};

export const putPublicAccessBlock: Handler<Op<'PutPublicAccessBlock'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, SETTINGS_BYTES_MAX);
  const stored: StoredPublicAccessBlock = { v: 1, ...parsePublicAccessBlock(body.toString('utf8')) };
  await putBucketSetting(deps, bucket, 'public-access-block', stored);
  sendEmpty(ex, 200);
};

export const deletePublicAccessBlock: Handler<Op<'DeletePublicAccessBlock'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'public-access-block', undefined);
  sendEmpty(ex, 204);
};

export const getBucketOwnershipControls: Handler<Op<'GetBucketOwnershipControls'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const stored = deps.buckets.getBucketConfig<StoredOwnership>(bucket, 'ownership');
  if (stored === undefined)
    throw new S3Error('OwnershipControlsNotFoundError', undefined, { BucketName: bucket.name });
  sendXml(ex, 200, ownershipControlsXml(stored.objectOwnership));
};

export const putBucketOwnershipControls: Handler<Op<'PutBucketOwnershipControls'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, SETTINGS_BYTES_MAX);
  const objectOwnership = parseOwnershipControls(body.toString('utf8'));
  // AWS: ACLs must be back to private before they can be turned off.
  if (objectOwnership === 'BucketOwnerEnforced' && !isPrivate(bucketAcl(deps, bucket), bucket.owner))
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  const stored: StoredOwnership = { v: 1, objectOwnership };
  await putBucketSetting(deps, bucket, 'ownership', stored);
  sendEmpty(ex, 200);
};

export const deleteBucketOwnershipControls: Handler<Op<'DeleteBucketOwnershipControls'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  await putBucketSetting(deps, bucket, 'ownership', undefined);
  sendEmpty(ex, 204);
};

/** Only the owner's full control: what BucketOwnerEnforced requires of the bucket ACL. */
function isPrivate(acl: Acl, owner: string): boolean {
  return acl.grants.every((g) => g.grantee.type === 'CanonicalUser' && g.grantee.id === owner);
}

export const getBucketAcl: Handler<Op<'GetBucketAcl'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  // With ACLs off, AWS shows the owner's full control (the only access ACLs could describe).
  const acl = aclsEnabled(deps, bucket) ? bucketAcl(deps, bucket) : privateAcl(bucket.owner);
  sendXml(ex, 200, accessControlPolicyXml(aclDocument(acl)));
};

export const putBucketAcl: Handler<Op<'PutBucketAcl'>> = async ({ deps, ex, verified, op }) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const ctx = {
    owner: bucket.owner,
    bucketOwner: bucket.owner,
    knownUser: (id: string) => deps.credentials(id) !== undefined,
  };
  const headers = ex.req.headers;
  const fromHeaders = hasAclHeaders(headers);
  const body = await readVerifiedSmallBody(deps, ex, verified, SETTINGS_BYTES_MAX);
  if (fromHeaders && body.length > 0) throw new S3Error('UnexpectedContent');
  if (!fromHeaders && body.length === 0)
    throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', {
      MissingHeaderName: 'x-amz-acl',
    });
  const acl = fromHeaders
    ? aclFromHeaders(headers, ctx)
    : aclFromDocument(parseAccessControlPolicy(body.toString('utf8')), ctx);
  if (acl === undefined) throw new S3Error('MissingSecurityHeader');
  await setBucketAcl(deps, bucket, acl);
  sendEmpty(ex, 200);
};

/**
 * CreateBucket's access settings, set atomically with the bucket: an ACL from x-amz-acl / x-amz-grant-*
 * and ownership from x-amz-object-ownership.
 */
export function creationSettings(
  deps: GatewayDeps,
  headers: IncomingHttpHeaders,
  owner: string,
): InitialBucketConfig {
  const initial: InitialBucketConfig = {};
  const ownership = headers['x-amz-object-ownership'];
  if (ownership !== undefined) {
    if (typeof ownership !== 'string' || !(OBJECT_OWNERSHIPS as readonly string[]).includes(ownership))
      throw new S3Error('InvalidArgument', 'Invalid x-amz-object-ownership header', {
        ArgumentName: 'x-amz-object-ownership',
        ArgumentValue: String(ownership),
      });
    initial.ownership = { v: 1, objectOwnership: ownership as ObjectOwnershipXml } satisfies StoredOwnership;
  }
  const acl = aclFromHeaders(headers, {
    owner,
    bucketOwner: owner,
    knownUser: (id) => deps.credentials(id) !== undefined,
  });
  if (acl === undefined) return initial;
  if (ownership === 'BucketOwnerEnforced' && !isPrivate(acl, owner))
    throw new S3Error('InvalidBucketAclWithObjectOwnership');
  // A new bucket has no block of its own yet: only the server-wide one applies.
  if (isPublicAcl(acl) && deps.blockPublicAccess?.blockPublicAcls) throw new S3Error('AccessDenied');
  if (!isPrivate(acl, owner)) initial.acl = { v: 1, ...acl };
  return initial;
}

async function setBucketAcl(deps: GatewayDeps, bucket: BucketInfo, acl: Acl): Promise<void> {
  // BucketOwnerEnforced: only an ACL that grants the owner alone may be "set" (it changes nothing).
  if (!aclsEnabled(deps, bucket)) {
    if (isPrivate(acl, bucket.owner)) return;
    throw new S3Error('AccessControlListNotSupported');
  }
  if (isPublicAcl(acl) && publicAccessBlockFor(deps, bucket).blockPublicAcls)
    throw new S3Error('AccessDenied');
  await putBucketSetting(deps, bucket, 'acl', { v: 1, ...acl });
}
