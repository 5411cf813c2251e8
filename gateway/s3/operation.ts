// Every S3 request is parsed once into one closed union; the HTTP framework only dispatches on `op`.

import { S3Error } from '../errors.ts';
import type { ParsedTarget } from './target.ts';
import { validateKey } from './validate.ts';

export type { ParsedTarget, TargetOptions } from './target.ts';
export { parseTarget } from './target.ts';

type B = { bucket: string };
type K = { bucket: string; key: string };
type U = K & { uploadId: string };

export type Operation =
  | { op: 'ListBuckets' }
  | ({ op: 'CreateBucket' } & B)
  | ({ op: 'HeadBucket' } & B)
  | ({ op: 'DeleteBucket' } & B)
  | ({ op: 'GetBucketLocation' } & B)
  | ({ op: 'GetBucketVersioning' } & B)
  | ({ op: 'PutBucketVersioning' } & B)
  | ({ op: 'ListObjectVersions' } & B)
  | ({ op: 'ListObjectsV2' } & B)
  | ({ op: 'ListObjects' } & B)
  | ({ op: 'ListMultipartUploads' } & B)
  | ({ op: 'DeleteObjects' } & B)
  | ({ op: 'PutObject' } & K)
  | ({ op: 'CopyObject' } & K)
  | ({ op: 'GetObject' } & K)
  | ({ op: 'HeadObject' } & K)
  | ({ op: 'DeleteObject' } & K)
  | ({ op: 'CreateMultipartUpload' } & K)
  | ({ op: 'UploadPart'; partNumber: number } & U)
  | ({ op: 'UploadPartCopy'; partNumber: number } & U)
  | ({ op: 'CompleteMultipartUpload' } & U)
  | ({ op: 'AbortMultipartUpload' } & U)
  | ({ op: 'ListParts' } & U)
  | ({ op: 'GetBucketWebsite' } & B)
  | ({ op: 'PutBucketWebsite' } & B)
  | ({ op: 'DeleteBucketWebsite' } & B)
  | ({ op: 'GetBucketCors' } & B)
  | ({ op: 'PutBucketCors' } & B)
  | ({ op: 'DeleteBucketCors' } & B)
  | ({ op: 'PostObject' } & B)
  | ({ op: 'OptionsObject'; key?: string } & B)
  | ({ op: 'GetObjectTagging' } & K)
  | ({ op: 'PutObjectTagging' } & K)
  | ({ op: 'DeleteObjectTagging' } & K)
  | ({ op: 'GetObjectAttributes' } & K)
  | ({ op: 'GetObjectAcl' } & K)
  | ({ op: 'PutObjectAcl' } & K)
  | ({ op: 'GetBucketTagging' } & B)
  | ({ op: 'PutBucketTagging' } & B)
  | ({ op: 'DeleteBucketTagging' } & B)
  | ({ op: 'GetBucketLifecycleConfiguration' } & B)
  | ({ op: 'PutBucketLifecycleConfiguration' } & B)
  | ({ op: 'DeleteBucketLifecycleConfiguration' } & B)
  | { [O in AccessBucketOp]: { op: O } & B }[AccessBucketOp]
  | { op: 'NotImplemented'; name: string };

export type OperationName = Operation['op'];

// Access settings of a bucket (gateway/handlers/bucket-access.ts): subresource → method → operation.
const ACCESS_SUBRESOURCES = {
  policy: { GET: 'GetBucketPolicy', PUT: 'PutBucketPolicy', DELETE: 'DeleteBucketPolicy' },
  policyStatus: { GET: 'GetBucketPolicyStatus' },
  acl: { GET: 'GetBucketAcl', PUT: 'PutBucketAcl' },
  ownershipControls: {
    GET: 'GetBucketOwnershipControls',
    PUT: 'PutBucketOwnershipControls',
    DELETE: 'DeleteBucketOwnershipControls',
  },
  publicAccessBlock: {
    GET: 'GetPublicAccessBlock',
    PUT: 'PutPublicAccessBlock',
    DELETE: 'DeletePublicAccessBlock',
  },
} as const satisfies Record<string, Partial<Record<string, string>>>;
type AccessTable = typeof ACCESS_SUBRESOURCES;
type AccessBucketOp = { [S in keyof AccessTable]: AccessTable[S][keyof AccessTable[S]] }[keyof AccessTable];

function accessOperation(m: string, bucket: string, query: Map<string, string>): Operation | undefined {
  for (const [sub, methods] of Object.entries(ACCESS_SUBRESOURCES)) {
    if (!query.has(sub)) continue;
    const op = (methods as Partial<Record<string, AccessBucketOp>>)[m];
    if (op !== undefined) return { op, bucket };
  }
  return undefined;
}
export type Headers = Record<string, string | string[] | undefined>;

// Subresources we recognise as S3 but do not serve (501), with the noun of the AWS operation name.
const UNSUPPORTED: Record<string, string> = {
  accelerate: 'Accelerate',
  acl: 'Acl',
  analytics: 'Analytics',
  attributes: 'Attributes',
  cors: 'Cors',
  encryption: 'Encryption',
  'intelligent-tiering': 'IntelligentTiering',
  inventory: 'Inventory',
  'legal-hold': 'LegalHold',
  lifecycle: 'Lifecycle',
  logging: 'Logging',
  metadataTable: 'MetadataTable',
  metrics: 'Metrics',
  notification: 'Notification',
  'object-lock': 'ObjectLock',
  ownershipControls: 'OwnershipControls',
  policy: 'Policy',
  policyStatus: 'PolicyStatus',
  publicAccessBlock: 'PublicAccessBlock',
  replication: 'Replication',
  requestPayment: 'RequestPayment',
  restore: 'Restore',
  retention: 'Retention',
  select: 'Content',
  session: 'Session',
  tagging: 'Tagging',
  torrent: 'Torrent',
  website: 'Website',
};

const VERB: Record<string, string> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', POST: 'Post', HEAD: 'Head' };

/** One header value as Node gives it (lower-case names); repeated headers are joined as HTTP allows. */
export function headerValue(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function unsupportedIn(query: Map<string, string>, level: 'Bucket' | 'Object', method: string) {
  for (const name of query.keys()) {
    const noun = UNSUPPORTED[name];
    if (noun !== undefined) {
      return { op: 'NotImplemented' as const, name: `${VERB[method] ?? method}${level}${noun}` };
    }
  }
  return undefined;
}

// Bucket subresources served by tagging.ts and lifecycle.ts handlers, per method.
const BUCKET_SUBRESOURCES: Record<string, Record<string, Operation['op']>> = {
  GET: { tagging: 'GetBucketTagging', lifecycle: 'GetBucketLifecycleConfiguration' },
  PUT: { tagging: 'PutBucketTagging', lifecycle: 'PutBucketLifecycleConfiguration' },
  DELETE: { tagging: 'DeleteBucketTagging', lifecycle: 'DeleteBucketLifecycleConfiguration' },
};
// Object subresources served here (not during an upload: those take uploadId).
const OBJECT_SUBRESOURCES: Record<string, Record<string, Operation['op']>> = {
  GET: { tagging: 'GetObjectTagging', attributes: 'GetObjectAttributes', acl: 'GetObjectAcl' },
  PUT: { tagging: 'PutObjectTagging', acl: 'PutObjectAcl' },
  DELETE: { tagging: 'DeleteObjectTagging' },
};

function servedIn(table: Record<string, Operation['op']> | undefined, query: Map<string, string>) {
  if (table) for (const name of query.keys()) if (table[name]) return table[name];
  return undefined;
}

function methodNotAllowed(method: string): S3Error {
  return new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: 'OBJECT' });
}

export function parseOperation(method: string, target: ParsedTarget, headers: Headers): Operation {
  const m = method.toUpperCase();
  const { bucket, key, query } = target;
  if (bucket === undefined) {
    if (m === 'GET') return { op: 'ListBuckets' };
    throw methodNotAllowed(m);
  }
  if (key === undefined) return bucketOperation(m, bucket, query);
  validateKey(key);
  return objectOperation(m, bucket, key, query, headers);
}

function bucketOperation(m: string, bucket: string, query: Map<string, string>): Operation {
  const b = { bucket };
  const served = servedIn(BUCKET_SUBRESOURCES[m], query);
  if (served) return { op: served, ...b } as Operation;
  if (m === 'HEAD') return { op: 'HeadBucket', ...b };
  const access = accessOperation(m, bucket, query);
  if (access) return access;
  if (m === 'GET') {
    if (query.has('location')) return { op: 'GetBucketLocation', ...b };
    if (query.has('versioning')) return { op: 'GetBucketVersioning', ...b };
    if (query.has('uploads')) return { op: 'ListMultipartUploads', ...b };
    if (query.has('versions')) return { op: 'ListObjectVersions', ...b };
    const config = bucketConfigOperation(m, query, b);
    if (config) return config;
    const unsupported = unsupportedIn(query, 'Bucket', m);
    if (unsupported) return unsupported;
    const listType = query.get('list-type');
    if (listType === '2') return { op: 'ListObjectsV2', ...b };
    if (listType !== undefined) {
      throw new S3Error('InvalidArgument', 'Invalid List Type specified', {
        ArgumentName: 'list-type',
        ArgumentValue: listType,
      });
    }
    return { op: 'ListObjects', ...b };
  }
  if (m === 'PUT' || m === 'DELETE') {
    if (m === 'PUT' && query.has('versioning')) return { op: 'PutBucketVersioning', ...b };
    const config = bucketConfigOperation(m, query, b);
    if (config) return config;
    const unsupported = unsupportedIn(query, 'Bucket', m);
    if (unsupported) return unsupported;
    return m === 'PUT' ? { op: 'CreateBucket', ...b } : { op: 'DeleteBucket', ...b };
  }
  if (m === 'POST') {
    if (query.has('delete')) return { op: 'DeleteObjects', ...b };
    // A POST to a bucket without ?delete is a browser form upload (PostObject).
    return { op: 'PostObject', ...b };
  }
  if (m === 'OPTIONS') return { op: 'OptionsObject', ...b };
  throw methodNotAllowed(m);
}

/** The website and CORS settings of a bucket (`?website`, `?cors`) by method. */
function bucketConfigOperation(m: string, query: Map<string, string>, b: B): Operation | undefined {
  const verb = m === 'GET' ? 'Get' : m === 'PUT' ? 'Put' : 'Delete';
  if (query.has('website')) return { op: `${verb}BucketWebsite`, ...b };
  if (query.has('cors')) return { op: `${verb}BucketCors`, ...b };
  return undefined;
}

/** `partNumber` must be an integer 1..10000, as AWS requires. */
export function parsePartNumber(raw: string): number {
  if (/^[0-9]{1,5}$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 10000) return n;
  }
  throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
    ArgumentName: 'partNumber',
    ArgumentValue: raw,
  });
}

function objectOperation(
  m: string,
  bucket: string,
  key: string,
  query: Map<string, string>,
  headers: Headers,
): Operation {
  const k = { bucket, key };
  const uploadId = query.get('uploadId');
  const served = uploadId === undefined ? servedIn(OBJECT_SUBRESOURCES[m], query) : undefined;
  if (served) return { op: served, ...k } as Operation;
  switch (m) {
    case 'HEAD':
      return { op: 'HeadObject', ...k };
    case 'GET':
      if (uploadId !== undefined) return { op: 'ListParts', ...k, uploadId };
      return unsupportedIn(query, 'Object', m) ?? { op: 'GetObject', ...k };
    case 'DELETE':
      if (uploadId !== undefined) return { op: 'AbortMultipartUpload', ...k, uploadId };
      return unsupportedIn(query, 'Object', m) ?? { op: 'DeleteObject', ...k };
    case 'POST':
      if (query.has('uploads')) return { op: 'CreateMultipartUpload', ...k };
      if (uploadId !== undefined) return { op: 'CompleteMultipartUpload', ...k, uploadId };
      if (query.has('restore')) return { op: 'NotImplemented', name: 'RestoreObject' };
      if (query.has('select')) return { op: 'NotImplemented', name: 'SelectObjectContent' };
      throw methodNotAllowed(m);
    case 'PUT':
      return putObjectOperation(k, query, headers);
    case 'OPTIONS':
      return { op: 'OptionsObject', ...k };
    default:
      throw methodNotAllowed(m);
  }
}

function putObjectOperation(k: K, query: Map<string, string>, headers: Headers): Operation {
  const copy = headerValue(headers, 'x-amz-copy-source') !== undefined;
  const uploadId = query.get('uploadId');
  const partNumber = query.get('partNumber');
  if (uploadId !== undefined || partNumber !== undefined) {
    if (uploadId === undefined || partNumber === undefined) {
      const missing = uploadId === undefined ? 'uploadId' : 'partNumber';
      throw new S3Error('InvalidRequest', `A ${missing} must be given with an UploadPart request`);
    }
    const part = { ...k, uploadId, partNumber: parsePartNumber(partNumber) };
    return copy ? { op: 'UploadPartCopy', ...part } : { op: 'UploadPart', ...part };
  }
  const unsupported = unsupportedIn(query, 'Object', 'PUT');
  if (unsupported) return unsupported;
  return copy ? { op: 'CopyObject', ...k } : { op: 'PutObject', ...k };
}
