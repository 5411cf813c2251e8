// The dispatch table: one handler per S3 operation. The compiler checks it covers the whole Operation union.
import { S3Error } from '../errors.ts';
import { getObjectAttributes } from './attributes.ts';
import * as bucket from './bucket.ts';
import * as access from './bucket-access.ts';
import * as cors from './bucket-cors.ts';
import * as website from './bucket-website.ts';
import * as copy from './copy.ts';
import type { HandlerTable } from './deps.ts';
import * as lifecycle from './lifecycle.ts';
import * as list from './list.ts';
import * as mpu from './multipart.ts';
import * as objectAcl from './object-acl.ts';
import * as del from './object-delete.ts';
import * as read from './object-read.ts';
import * as write from './object-write.ts';
import * as post from './post-object.ts';
import * as tagging from './tagging.ts';
import * as versioning from './versioning.ts';

export const HANDLERS: HandlerTable = {
  ListBuckets: bucket.listBuckets,
  CreateBucket: bucket.createBucket,
  HeadBucket: bucket.headBucket,
  DeleteBucket: bucket.deleteBucket,
  GetBucketLocation: bucket.getBucketLocation,
  GetBucketVersioning: versioning.getBucketVersioning,
  PutBucketVersioning: versioning.putBucketVersioning,
  ListObjectVersions: versioning.listObjectVersions,
  ListObjectsV2: list.listObjectsV2,
  ListObjects: list.listObjectsV1,
  ListMultipartUploads: mpu.listMultipartUploads,
  DeleteObjects: del.deleteObjects,
  PutObject: write.putObject,
  CopyObject: copy.copyObject,
  GetObject: read.getObject,
  HeadObject: read.headObject,
  DeleteObject: del.deleteObject,
  CreateMultipartUpload: mpu.createMultipartUpload,
  UploadPart: mpu.uploadPart,
  UploadPartCopy: copy.uploadPartCopy,
  CompleteMultipartUpload: mpu.completeMultipartUpload,
  AbortMultipartUpload: mpu.abortMultipartUpload,
  ListParts: mpu.listParts,
  GetBucketWebsite: website.getBucketWebsite,
  PutBucketWebsite: website.putBucketWebsite,
  DeleteBucketWebsite: website.deleteBucketWebsite,
  GetBucketCors: cors.getBucketCors,
  PutBucketCors: cors.putBucketCors,
  DeleteBucketCors: cors.deleteBucketCors,
  OptionsObject: async ({ deps, ex, op }) => cors.answerPreflight(deps.buckets, ex, op),
  PostObject: post.postObject,
  GetObjectTagging: tagging.getObjectTagging,
  PutObjectTagging: tagging.putObjectTagging,
  DeleteObjectTagging: tagging.deleteObjectTagging,
  GetObjectAttributes: getObjectAttributes,
  GetBucketTagging: tagging.getBucketTagging,
  PutBucketTagging: tagging.putBucketTagging,
  DeleteBucketTagging: tagging.deleteBucketTagging,
  GetBucketLifecycleConfiguration: lifecycle.getBucketLifecycleConfiguration,
  PutBucketLifecycleConfiguration: lifecycle.putBucketLifecycleConfiguration,
  DeleteBucketLifecycleConfiguration: lifecycle.deleteBucketLifecycleConfiguration,
  GetObjectAcl: objectAcl.getObjectAcl,
  PutObjectAcl: objectAcl.putObjectAcl,
  GetBucketPolicy: access.getBucketPolicy,
  PutBucketPolicy: access.putBucketPolicy,
  DeleteBucketPolicy: access.deleteBucketPolicy,
  GetBucketPolicyStatus: access.getBucketPolicyStatus,
  GetBucketAcl: access.getBucketAcl,
  PutBucketAcl: access.putBucketAcl,
  GetBucketOwnershipControls: access.getBucketOwnershipControls,
  PutBucketOwnershipControls: access.putBucketOwnershipControls,
  DeleteBucketOwnershipControls: access.deleteBucketOwnershipControls,
  GetPublicAccessBlock: access.getPublicAccessBlock,
  PutPublicAccessBlock: access.putPublicAccessBlock,
  DeletePublicAccessBlock: access.deletePublicAccessBlock,
  NotImplemented: async ({ op }) => {
    throw new S3Error('NotImplemented', `${op.name} is not implemented by Quire`);
  },
};
