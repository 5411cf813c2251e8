// Admission: the authorization step run once per request, between authentication and the handler. It
// resolves the request's bucket (and a copy source's) to one incarnation and decides the operation's
// action on it; the handler receives the outcome and asks nothing else about access.
import type { IncomingMessage } from 'node:http';
import type { BucketInfo } from '../../tracker/catalog.ts';
import type { VerifiedRequest } from '../auth/types.ts';
import { S3Error } from '../errors.ts';
import { type CopySource, parseCopySource } from '../s3/copy-source.ts';
import type { Operation } from '../s3/operation.ts';
import type { Acl } from './acl.ts';
import type { S3Action } from './actions.ts';
import {
  type AccessRequest,
  type AuthzDeps,
  accessDenied,
  authorize,
  mayBeAllowedSomewhere,
  missingObjectError,
  requireObjectAccess,
  requirePrincipal,
  type Verdict,
} from './authorize.ts';
import { type RequestFacts, requestFacts } from './facts.ts';
import { COPY_OPERATIONS, OPERATION_ACTIONS } from './operations.ts';

// A request naming a version asks for the version action (what policies grant for it).
const VERSION_ACTIONS: Partial<Record<S3Action, S3Action>> = {
  's3:GetObject': 's3:GetObjectVersion',
  's3:DeleteObject': 's3:DeleteObjectVersion',
  's3:GetObjectAcl': 's3:GetObjectVersionAcl',
  's3:PutObjectAcl': 's3:PutObjectVersionAcl',
  's3:GetObjectTagging': 's3:GetObjectVersionTagging',
  's3:PutObjectTagging': 's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging': 's3:DeleteObjectVersionTagging',
  's3:GetObjectAttributes': 's3:GetObjectVersionAttributes',
};

export interface AdmittedBucket {
  readonly bucket: BucketInfo;
  /** What was asked; undefined for per-key operations (DeleteObjects), decided key by key. */
  readonly request?: AccessRequest;
  readonly verdict?: Verdict;
}

export interface Admission {
  /** The verified access key id, undefined when anonymous. */
  readonly principal: string | undefined;
  readonly facts: RequestFacts;
  /** The request's bucket, if it names one. */
  readonly target?: AdmittedBucket;
  /** CopyObject / UploadPartCopy: the source bucket and the decision on reading the source object. */
  readonly source?: AdmittedBucket & { readonly copySource: CopySource };
}

/** A request past authentication and authorization: what handlers receive. */
export interface AuthorizedRequest extends VerifiedRequest {
  readonly access: Admission;
}

export interface AdmissionDeps extends AuthzDeps {
  readonly buckets: AuthzDeps['buckets'] & { getBucket(name: string): BucketInfo | undefined };
}

/** Built field by field: an object spread plus a property costs ~2 µs in Node 20, a literal ~10 ns. */
function withAccess(v: VerifiedRequest, access: Admission): AuthorizedRequest {
  return {
    accessKeyId: v.accessKeyId,
    payload: v.payload,
    decodedContentLength: v.decodedContentLength,
    streaming: v.streaming,
    trailerChecksum: v.trailerChecksum,
    access,
  };
}

/** The bucket's current incarnation; AccessDenied when the client expects another owner, as AWS answers. */
function resolve(
  deps: AdmissionDeps,
  name: string,
  expectedOwner: string | string[] | undefined,
): BucketInfo {
  const bucket = deps.buckets.getBucket(name);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
  if (expectedOwner !== undefined && expectedOwner !== bucket.owner) throw accessDenied();
  return bucket;
}

export function admit(
  deps: AdmissionDeps,
  op: Operation,
  verified: VerifiedRequest,
  req: IncomingMessage,
  query: ReadonlyMap<string, string>,
): AuthorizedRequest {
  const principal = verified.accessKeyId;
  const facts = requestFacts(req, query);
  const access = OPERATION_ACTIONS[op.op];
  if (access === null || access === 'service' || !('bucket' in op)) {
    requirePrincipal(principal);
    return withAccess(verified, { principal, facts });
  }
  const bucket = resolve(deps, op.bucket, req.headers['x-amz-expected-bucket-owner']);
  if (access === 'per-key') {
    // DeleteObjects: each key is decided in the handler; nothing to decide means no request at all.
    if (!mayBeAllowedSomewhere(deps, principal, bucket, 's3:DeleteObject')) throw accessDenied();
    return withAccess(verified, { principal, facts, target: { bucket } });
  }
  const request: AccessRequest = {
    principal,
    bucket,
    action: query.has('versionId') ? (VERSION_ACTIONS[access] ?? access) : access,
    key: 'key' in op ? op.key : undefined,
    facts,
  };
  const target = { bucket, request, verdict: authorize(deps, request) };
  if (!COPY_OPERATIONS.has(op.op)) return withAccess(verified, { principal, facts, target });
  const header = req.headers['x-amz-copy-source'];
  if (typeof header !== 'string' || header === '') {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  const copySource = parseCopySource(header);
  const srcBucket = resolve(deps, copySource.bucket, req.headers['x-amz-source-expected-bucket-owner']);
  const srcRequest: AccessRequest = {
    principal,
    bucket: srcBucket,
    action: copySource.versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion',
    key: copySource.key,
    facts,
  };
  const source = { bucket: srcBucket, request: srcRequest, verdict: authorize(deps, srcRequest), copySource };
  return withAccess(verified, { principal, facts, target, source });
}

/**
 * DeleteObjects: which of the keys the requester may delete (a denied key is reported in the result). An
 * anonymous requester who may delete none of them is refused as a whole, like any other unsigned request
 * without a grant; a signed one gets AWS's per-key AccessDenied entries.
 */
export function deletableKeys(
  deps: AuthzDeps,
  access: Admission,
  entries: readonly { key: string; versionId?: string }[],
): boolean[] {
  const allowed = entries.map((e) => mayDeleteKey(deps, access, e.key, e.versionId));
  if (access.principal === undefined && !allowed.includes(true)) throw accessDenied();
  return allowed;
}

/** Whether the requester may delete this key (or this version of it). */
export function mayDeleteKey(deps: AuthzDeps, access: Admission, key: string, versionId?: string): boolean {
  const bucket = access.target?.bucket;
  if (bucket === undefined) return false;
  const action = versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion';
  try {
    return (
      authorize(deps, { principal: access.principal, bucket, action, key, facts: access.facts }) === 'allow'
    );
  } catch {
    return false;
  }
}

/**
 * After a handler read the admitted object: the object's ACL may be what grants the request (verdict
 * 'object-acl'). `acl` undefined: the object has the default ACL. Throws AccessDenied when not granted.
 */
export function requireObjectGrant(
  deps: AuthzDeps,
  admitted: AdmittedBucket | undefined,
  acl: Acl | undefined,
): void {
  if (admitted?.verdict === 'allow') return;
  if (admitted?.request === undefined || admitted.verdict === undefined) throw accessDenied();
  requireObjectAccess(deps, admitted.request, admitted.verdict, acl);
}

/** The error for an admitted object that does not exist: `notFound` only for requesters who may list. */
export function absentObjectError(
  deps: AuthzDeps,
  admitted: AdmittedBucket | undefined,
  notFound: S3Error,
): S3Error {
  if (admitted?.request === undefined || admitted.verdict === undefined) return accessDenied();
  return missingObjectError(deps, admitted.request, admitted.verdict, notFound);
}
