// GetObjectAcl and PutObjectAcl: an object version's ACL, kept with the version by storage. Who may call
// them was decided at admission, or is decided here from the object's own ACL (READ_ACP / WRITE_ACP).
import type { ObjectRecord } from '../../storage/api.ts';
import type { BucketInfo } from '../../tracker/catalog.ts';
import { aclDocument, aclFromDocument, aclFromHeaders, hasAclHeaders } from '../authz/acl-request.ts';
import { absentObjectError, requireObjectGrant } from '../authz/admission.ts';
import { settableObjectAcl, shownObjectAcl } from '../authz/object-acl.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import type { Operation } from '../s3/operation.ts';
import { deleteMarkerError, notFound, requestedVersionId } from '../s3/version-id.ts';
import { accessControlPolicyXml, parseAccessControlPolicy } from '../s3/xml-access.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { HandlerInput } from './deps.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const ACL_BODY_MAX = 64 * 1024;

/** The version the request names, once the requester may act on its ACL. */
async function admittedVersion(
  { deps, verified, target, op }: HandlerInput<Op<'GetObjectAcl'> | Op<'PutObjectAcl'>>,
  bucket: BucketInfo,
): Promise<{ record: ObjectRecord; versionId: string | undefined }> {
  const versionId = requestedVersionId(target.query);
  const record = await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.headObject(
      bucket.id,
      Buffer.from(op.key, 'utf8'),
      versionId === undefined ? {} : { versionId },
    ),
  );
  const admitted = verified.access.target;
  if (!record) throw absentObjectError(deps, admitted, notFound(op.key, versionId));
  requireObjectGrant(deps, admitted, record.acl);
  if (record.deleteMarker) throw deleteMarkerError(op.key, record, versionId !== undefined);
  return { record, versionId };
}

export async function getObjectAcl(input: HandlerInput<Op<'GetObjectAcl'>>): Promise<void> {
  const { deps, ex, verified, op } = input;
  const bucket = requireBucket(deps, op.bucket, verified);
  const { record } = await admittedVersion(input, bucket);
  sendXml(ex, 200, accessControlPolicyXml(aclDocument(shownObjectAcl(deps, bucket, record.acl))));
}

export async function putObjectAcl(input: HandlerInput<Op<'PutObjectAcl'>>): Promise<void> {
  const { deps, ex, verified, op } = input;
  const bucket = requireBucket(deps, op.bucket, verified);
  const fromHeaders = hasAclHeaders(ex.req.headers);
  const body = await readVerifiedSmallBody(deps, ex, verified, ACL_BODY_MAX);
  if (fromHeaders && body.length > 0) throw new S3Error('UnexpectedContent');
  if (!fromHeaders && body.length === 0) {
    throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header', {
      MissingHeaderName: 'x-amz-acl',
    });
  }
  const { record, versionId } = await admittedVersion(input, bucket);
  // The object keeps its owner; the new grants replace the old ones.
  const ctx = {
    owner: record.acl?.owner ?? bucket.owner,
    bucketOwner: bucket.owner,
    knownUser: (id: string) => deps.credentials(id) !== undefined,
  };
  const requested = fromHeaders
    ? aclFromHeaders(ex.req.headers, ctx)
    : aclFromDocument(parseAccessControlPolicy(body.toString('utf8')), ctx);
  if (requested === undefined) throw new S3Error('MissingSecurityHeader');
  const acl = settableObjectAcl(deps, bucket, requested);
  await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.updateObjectAttributes({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      // The version whose ACL was checked (the current one may change meanwhile).
      versionId: versionId ?? record.versionId,
      update: { acl: acl ?? null },
      nowMs: deps.clock(),
    }),
  );
  sendEmpty(ex, 200, versionId === undefined ? {} : { 'x-amz-version-id': versionId });
}
