// Object Lock: the bucket setting 'object-lock' ({enabled, rule?}: set at CreateBucket with
// x-amz-bucket-object-lock-enabled, which enables versioning too, or by PutObjectLockConfiguration on a
// versioning-enabled bucket), per-version retention and legal hold (x-amz-object-lock-* on PUT, copy and
// multipart create; Put/GetObjectRetention, Put/GetObjectLegalHold), and what they refuse. The rules that
// must hold atomically with a delete or a retention change are checked by storage (storage/object-lock.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { ObjectRecord, ObjectRetention, VersionAttributes } from '../../storage/api.ts';
import type { BucketRef } from '../../tracker/catalog.ts';
import { type Admission, mayBypassGovernance } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { readVerifiedSmallBody } from '../http/body.ts';
import { sendEmpty, sendXml } from '../http/respond.ts';
import { headerValue, type Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { notFound, requestedVersionId } from '../s3/version-id.ts';
import {
  legalHoldXml,
  objectLockConfigurationXml,
  parseLegalHold,
  parseObjectLockConfiguration,
  parseRetainUntil,
  parseRetention,
  retentionXml,
} from '../s3/xml.ts';
import { inIncarnation, putBucketSetting, requireBucket } from './access.ts';
import type { GatewayDeps, Handler } from './deps.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

const Mode = z.enum(['GOVERNANCE', 'COMPLIANCE']);
const LockSetting = z.object({
  enabled: z.literal(true),
  rule: z
    .object({
      mode: Mode,
      days: z.number().int().positive().optional(),
      years: z.number().int().positive().optional(),
    })
    .optional(),
});
export type LockSetting = z.infer<typeof LockSetting>;

const DAY_MS = 86_400_000;

/** The bucket's Object Lock setting, or undefined when Object Lock is not enabled on it. */
export function lockOf(deps: GatewayDeps, bucket: BucketRef): LockSetting | undefined {
  const raw = deps.buckets.getBucketConfig(bucket, 'object-lock');
  if (raw === undefined) return undefined;
  const parsed = LockSetting.safeParse(raw);
  // A setting this code did not write still means locked: never weaker than asked.
  return parsed.success ? parsed.data : { enabled: true };
}

/** The initial settings of a bucket created with x-amz-bucket-object-lock-enabled: true. */
export function lockAtCreate(
  headers: IncomingHttpHeaders,
): { versioning: unknown; 'object-lock': LockSetting } | undefined {
  const v = headerValue(headers, 'x-amz-bucket-object-lock-enabled');
  if (v === undefined || v.toLowerCase() === 'false') return undefined;
  if (v.toLowerCase() !== 'true')
    throw new S3Error('InvalidArgument', 'Invalid x-amz-bucket-object-lock-enabled header', {
      ArgumentName: 'x-amz-bucket-object-lock-enabled',
      ArgumentValue: v,
    });
  return { versioning: { status: 'Enabled' }, 'object-lock': { enabled: true } };
}

const missingLock = () => new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');

/**
 * Whether this request bypasses GOVERNANCE retention on `key`: it sends x-amz-bypass-governance-retention:
 * true and may (s3:BypassGovernanceRetention: the bucket owner, or whom a policy grants it).
 */
export function bypassGovernance(
  deps: GatewayDeps,
  headers: IncomingHttpHeaders,
  access: Admission,
  key: string,
): boolean {
  if (headerValue(headers, 'x-amz-bypass-governance-retention')?.toLowerCase() !== 'true') return false;
  return mayBypassGovernance(deps, access, key);
}

/**
 * The retention and legal hold a new version gets: x-amz-object-lock-* headers, else the bucket's default
 * retention. `integrity`: PUT of a body must carry Content-MD5 or a checksum on a lock-enabled bucket.
 */
export function lockForWrite(
  deps: GatewayDeps,
  bucket: BucketRef,
  headers: IncomingHttpHeaders,
  opts: { integrity: boolean },
): Pick<VersionAttributes, 'retention' | 'legalHold'> {
  const lock = lockOf(deps, bucket);
  const mode = headerValue(headers, 'x-amz-object-lock-mode');
  const until = headerValue(headers, 'x-amz-object-lock-retain-until-date');
  const hold = headerValue(headers, 'x-amz-object-lock-legal-hold');
  if (!lock) {
    if (mode !== undefined || until !== undefined || hold !== undefined) throw missingLock();
    return {};
  }
  if (opts.integrity && !hasIntegrityHeader(headers)) {
    throw new S3Error(
      'InvalidRequest',
      'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
    );
  }
  const out: Pick<VersionAttributes, 'retention' | 'legalHold'> = {};
  if ((mode === undefined) !== (until === undefined)) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
    );
  }
  if (mode !== undefined && until !== undefined) {
    const m = Mode.safeParse(mode);
    if (!m.success)
      throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', {
        ArgumentName: 'x-amz-object-lock-mode',
        ArgumentValue: mode,
      });
    out.retention = {
      mode: m.data,
      retainUntilMs: futureDate(deps, until, 'x-amz-object-lock-retain-until-date'),
    };
  } else if (lock.rule) {
    const r = lock.rule;
    const ms = r.days !== undefined ? r.days * DAY_MS : (r.years ?? 0) * 365 * DAY_MS;
    out.retention = { mode: r.mode, retainUntilMs: deps.clock() + ms };
  }
  if (hold !== undefined) {
    if (hold !== 'ON' && hold !== 'OFF')
      throw new S3Error('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", {
        ArgumentName: 'x-amz-object-lock-legal-hold',
        ArgumentValue: hold,
      });
    if (hold === 'ON') out.legalHold = true;
  }
  return out;
}

function hasIntegrityHeader(h: IncomingHttpHeaders): boolean {
  if (h['content-md5'] !== undefined || h['x-amz-sdk-checksum-algorithm'] !== undefined) return true;
  for (const name of Object.keys(h)) if (name.startsWith('x-amz-checksum-')) return true;
  return /x-amz-checksum-/i.test(headerValue(h, 'x-amz-trailer') ?? '');
}

function futureDate(deps: GatewayDeps, text: string, argumentName: string): number {
  const ms = parseRetainUntil(text);
  if (ms === undefined)
    throw new S3Error('InvalidArgument', 'The retain until date is not a valid ISO 8601 date', {
      ArgumentName: argumentName,
      ArgumentValue: text,
    });
  if (ms <= deps.clock())
    throw new S3Error('InvalidArgument', 'The retain until date must be in the future!');
  return ms;
}

/** x-amz-object-lock-* on GET/HEAD, for what the version carries. */
export function lockResponseHeaders(record: ObjectRecord): Record<string, string> {
  const h: Record<string, string> = {};
  if (record.retention) {
    h['x-amz-object-lock-mode'] = record.retention.mode;
    h['x-amz-object-lock-retain-until-date'] = new Date(record.retention.retainUntilMs).toISOString();
  }
  if (record.legalHold) h['x-amz-object-lock-legal-hold'] = 'ON';
  return h;
}

export const getObjectLockConfiguration: Handler<Op<'GetObjectLockConfiguration'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const lock = lockOf(deps, bucket);
  if (!lock) throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: op.bucket });
  sendXml(ex, 200, objectLockConfigurationXml({ enabled: true, ...(lock.rule ? { rule: lock.rule } : {}) }));
};

export const putObjectLockConfiguration: Handler<Op<'PutObjectLockConfiguration'>> = async ({
  deps,
  ex,
  verified,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const body = await readVerifiedSmallBody(deps, ex, verified, 64 * 1024);
  const config = parseObjectLockConfiguration(body.toString('utf8'));
  if (!config.enabled) throw new S3Error('MalformedXML');
  if (!lockOf(deps, bucket) && versioningOf(deps, bucket) !== 'enabled') {
    throw new S3Error(
      'InvalidBucketState',
      "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
    );
  }
  const value: LockSetting = { enabled: true, ...(config.rule ? { rule: config.rule } : {}) };
  await putBucketSetting(deps, bucket, 'object-lock', value);
  sendEmpty(ex, 200);
};

/** The version a retention or legal-hold call is about (405 for a delete marker, as AWS). */
async function lockedVersion(
  input: {
    deps: GatewayDeps;
    verified: Parameters<typeof requireBucket>[2];
    op: { bucket: string; key: string };
  },
  query: ReadonlyMap<string, string>,
) {
  const { deps, verified, op } = input;
  const bucket = requireBucket(deps, op.bucket, verified);
  validateKey(op.key);
  if (!lockOf(deps, bucket)) throw missingLock();
  const versionId = requestedVersionId(query);
  const record = await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.headObject(
      bucket.id,
      Buffer.from(op.key, 'utf8'),
      versionId === undefined ? {} : { versionId },
    ),
  );
  if (!record) throw notFound(op.key, versionId);
  if (record.deleteMarker) throw new S3Error('MethodNotAllowed', undefined, { ResourceType: 'DeleteMarker' });
  return { bucket, versionId, record };
}

export const getObjectRetention: Handler<Op<'GetObjectRetention'>> = async (input) => {
  const { record } = await lockedVersion(input, input.target.query);
  if (!record.retention) throw new S3Error('NoSuchObjectLockConfiguration');
  sendXml(input.ex, 200, retentionXml(record.retention));
};

export const getObjectLegalHold: Handler<Op<'GetObjectLegalHold'>> = async (input) => {
  const { record } = await lockedVersion(input, input.target.query);
  sendXml(input.ex, 200, legalHoldXml(record.legalHold === true));
};

export const putObjectRetention: Handler<Op<'PutObjectRetention'>> = async (input) => {
  const { deps, ex, verified, op } = input;
  const { bucket, versionId } = await lockedVersion(input, input.target.query);
  const body = await readVerifiedSmallBody(deps, ex, verified, 64 * 1024);
  const retention: ObjectRetention | null = parseRetention(body.toString('utf8'));
  if (retention && retention.retainUntilMs <= deps.clock())
    throw new S3Error('InvalidArgument', 'The retain until date must be in the future!');
  await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.updateObjectAttributes({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      ...(versionId !== undefined ? { versionId } : {}),
      update: { retention },
      nowMs: deps.clock(),
      bypassGovernance: bypassGovernance(deps, ex.req.headers, verified.access, op.key),
    }),
  );
  sendEmpty(ex, 200);
};

export const putObjectLegalHold: Handler<Op<'PutObjectLegalHold'>> = async (input) => {
  const { deps, ex, verified, op } = input;
  const { bucket, versionId } = await lockedVersion(input, input.target.query);
  const body = await readVerifiedSmallBody(deps, ex, verified, 64 * 1024);
  const on = parseLegalHold(body.toString('utf8'));
  await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.updateObjectAttributes({
      bucket: bucket.id,
      key: Buffer.from(op.key, 'utf8'),
      ...(versionId !== undefined ? { versionId } : {}),
      update: { legalHold: on },
      nowMs: deps.clock(),
    }),
  );
  sendEmpty(ex, 200);
};
