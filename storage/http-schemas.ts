// The shape of each internal storage call's arguments, checked (zod) before the node acts on them. Objects are
// loose: a field added to the API by a later change passes through unchecked rather than being dropped.
import { z } from 'zod';
import { INLINE_MAX_BYTES } from './http-wire.ts';

const bytes = z.instanceof(Buffer);
const key = bytes.refine((b) => b.length <= 4096, 'key too long');
const bucket = z.string().min(1).max(255);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ms = z.number().finite();
const uploadId = z.string().min(1).max(256);
const partNumber = z.number().int().min(1).max(10_000);
const checksumAlgorithm = z.enum(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);
const headers = z.looseObject({ userMeta: z.record(z.string(), z.string()) });
const condition = z.looseObject({
  ifNoneMatchStar: z.boolean().optional(),
  ifMatchEtag: z.string().optional(),
});
const range = z.object({ start: count, end: count });
const copySource = z.looseObject({
  bucket,
  key,
  range: range.optional(),
  etag: z.string().max(256).optional(),
});
const keyed = { bucket, key };
const versionId = z.string().min(1).max(256);
const which = z.looseObject({ versionId: versionId.optional() }).optional();
const nodeId = z.string().regex(/^[0-9a-f]{8}$/);
const tag = z.object({ key: z.string().max(512), value: z.string().max(1024) });

const opver = z.object({
  counter: z.bigint().nonnegative(),
  nodeId: z.number().int().min(0).max(0xffff_ffff),
});
const checksums = z.record(z.string().max(16), z.string().max(128));
const retention = z.looseObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), retainUntilMs: ms });
/** A version as replication sends it (api.ts ObjectRecord). */
const objectRecord = z.looseObject({
  ...keyed,
  size: count,
  etag: z.string().max(256),
  lastModifiedMs: ms,
  headers,
  checksums,
  checksumType: z.enum(['FULL_OBJECT', 'COMPOSITE']).optional(),
  parts: z
    .array(z.object({ partNumber, size: count, etag: z.string().max(256) }))
    .max(10_000)
    .optional(),
  opver,
  versionId,
  deleteMarker: z.boolean().optional(),
  tags: z.array(tag).max(50).optional(),
  retention: retention.optional(),
  legalHold: z.boolean().optional(),
  acl: z.looseObject({ owner: z.string().max(256), grants: z.array(z.looseObject({})).max(100) }).optional(),
});
const replicaKey = z.object(keyed);
/** What an upload's completed object starts with (api.ts UploadAttributes). */
const uploadAttributes = z.looseObject({
  tags: z.array(tag).max(10).optional(),
  retention: z.looseObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), retainUntilMs: ms }).optional(),
  legalHold: z.boolean().optional(),
  acl: z.looseObject({ owner: z.string().max(256), grants: z.array(z.looseObject({})).max(100) }).optional(),
});

export const STORAGE_CALL_SCHEMAS: Record<string, z.ZodType<Record<string, unknown>>> = {
  putObject: z.looseObject({ ...keyed, size: count, headers, nowMs: ms, condition: condition.optional() }),
  uploadPart: z.looseObject({ ...keyed, uploadId, partNumber, size: count, nowMs: ms }),
  headObject: z.looseObject({ ...keyed, which }),
  // `inline`: a version up to this many bytes comes whole in the answer (http-wire.ts INLINE_TYPE).
  openObject: z.looseObject({
    ...keyed,
    which,
    inline: z.number().int().min(0).max(INLINE_MAX_BYTES).optional(),
  }),
  removeObject: z.looseObject({
    ...keyed,
    versionId: versionId.optional(),
    versioning: z.enum(['unversioned', 'enabled', 'suspended']).optional(),
    condition: condition.optional(),
    nowMs: ms,
    lock: z.looseObject({ bypassGovernance: z.boolean() }).optional(),
  }),
  updateObjectAttributes: z.looseObject({
    ...keyed,
    versionId: versionId.optional(),
    update: z.looseObject({
      tags: z.array(tag).max(50).optional(),
      retention: z.looseObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), retainUntilMs: ms }).nullish(),
      legalHold: z.boolean().optional(),
    }),
    nowMs: ms,
    bypassGovernance: z.boolean().optional(),
  }),
  listObjectVersions: z.looseObject({
    bucket,
    opts: z.looseObject({
      prefix: bytes,
      afterKey: bytes.optional(),
      afterVersionId: versionId.optional(),
      limit: z.number().int().min(1).max(100_000),
    }),
  }),
  deleteObject: z.looseObject({
    ...keyed,
    opts: z.looseObject({ condition: condition.optional() }).optional(),
  }),
  copyObject: z.looseObject({
    src: copySource,
    dst: z.looseObject({ ...keyed, headers: headers.optional(), nowMs: ms, condition: condition.optional() }),
  }),
  listObjects: z.looseObject({
    bucket,
    opts: z.looseObject({
      prefix: bytes,
      after: bytes.optional(),
      limit: z.number().int().min(1).max(100_000),
    }),
  }),
  hasObjects: z.looseObject({ bucket }),
  dropBucket: z.looseObject({ bucket }),
  createUpload: z.looseObject({
    ...keyed,
    headers,
    nowMs: ms,
    checksumAlgorithm: checksumAlgorithm.nullish(),
    attributes: uploadAttributes.nullish(),
  }),
  uploadPartCopy: z.looseObject({ ...keyed, uploadId, partNumber, src: copySource, nowMs: ms }),
  completeUpload: z.looseObject({
    ...keyed,
    uploadId,
    parts: z.array(z.looseObject({ partNumber, etag: z.string().max(256) })).max(10_000),
    nowMs: ms,
  }),
  abortUpload: z.looseObject({ ...keyed, uploadId }),
  listParts: z.looseObject({
    ...keyed,
    uploadId,
    opts: z.looseObject({ afterPart: count, limit: z.number().int().min(1).max(100_000) }),
  }),
  listUploads: z.looseObject({
    bucket,
    opts: z.looseObject({
      prefix: bytes,
      afterKey: bytes.optional(),
      afterUploadId: z.string().max(256).optional(),
      limit: z.number().int().min(1).max(100_000),
    }),
  }),
  stats: z.looseObject({}),
  syncPosition: z.looseObject({ toward: nodeId, for: nodeId.optional() }),
  joinPushSync: z.looseObject({
    nodeId,
    at: z.object({ file: z.number().int().min(1), offset: z.number().int().min(0) }),
    waitMs: z.number().int().min(0).max(60_000),
  }),
  replicaStates: z.looseObject(keyed),
  scanKeys: z.looseObject({ after: replicaKey.optional(), limit: z.number().int().min(1).max(10_000) }),
  scanStates: z.looseObject({
    after: replicaKey.optional(),
    limit: z.number().int().min(1).max(2_000),
    inline: z.number().int().min(0).max(INLINE_MAX_BYTES),
  }),
  applyReplica: z.looseObject({
    state: z.looseObject({
      ...keyed,
      versionId,
      opver,
      record: objectRecord.optional(),
      seq: opver.optional(),
      fromUpload: uploadId.optional(),
    }),
    force: z.boolean().optional(),
  }),
  uploadStates: z.looseObject(keyed),
  applyUpload: z.looseObject({
    state: z.looseObject({
      ...keyed,
      uploadId,
      partNumber: partNumber.optional(),
      opver,
      upload: z
        .looseObject({
          headers,
          initiatedMs: ms,
          checksumAlgorithm: checksumAlgorithm.optional(),
          attributes: uploadAttributes.optional(),
        })
        .optional(),
      part: z
        .looseObject({ size: count, etag: z.string().max(256), checksums, lastModifiedMs: ms })
        .optional(),
    }),
  }),
  openPart: z.looseObject({ ...keyed, uploadId, partNumber }),
  release: z.looseObject({ handleId: z.string().max(128) }),
  stream: z.looseObject({ handleId: z.string().max(128), range: range.nullish() }),
};

/** Largest JSON argument body (a CompleteMultipartUpload of 10,000 parts is about 1 MiB). */
export const MAX_ARGS_BYTES = 4 * 1024 * 1024;
