// PostObject: an HTML form upload (multipart/form-data) to a bucket. The fields before the file are read
// first; the POST policy and its SigV4 signature are checked, the signer authorized for s3:PutObject and the
// size bounded before a byte of the file is stored; the file then streams to storage like a PUT body.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BucketInfo } from '../../tracker/catalog.ts';
import { decodeBody } from '../auth/body.ts';
import { hmacHex, signaturesEqual, signingKey } from '../auth/crypto.ts';
import { formatAmzDate, parseAmzDate, parseCredential } from '../auth/parse.ts';
import type { VerifiedRequest } from '../auth/types.ts';
import { type AccessRequest, authorize, requestFacts } from '../authz/authorize.ts';
import { aclForNewObject } from '../authz/object-acl.ts';
import { S3Error } from '../errors.ts';
import { type Exchange, sendEmpty, sendXml } from '../http/respond.ts';
import { type FormPart, FormReader, formBoundary, malformedPost } from '../post/form.ts';
import { checkPolicy, type LengthRange, parsePolicy } from '../post/policy.ts';
import { storedHeadersFromRequest } from '../s3/headers.ts';
import type { Operation } from '../s3/operation.ts';
import { validateKey } from '../s3/validate.ts';
import { versionIdHeader } from '../s3/version-id.ts';
import { buildDocument } from '../s3/xml-codec.ts';
import { acceptBody, inIncarnation } from './access.ts';
import type { GatewayDeps, HandlerInput } from './deps.ts';
import { objectExpiration } from './lifecycle.ts';
import { lockForWrite } from './object-lock.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

/** All fields before the file together (AWS refuses large pre-file data too). */
const MAX_FIELDS_BYTES = 64 * 1024;
/** Files up to this size are read whole before storing (exact whatever the form's epilogue); larger ones stream. */
const COLLECT_MAX_BYTES = 1024 * 1024;
/** In the key field, stands for the uploaded file's name. */
const FILENAME_VARIABLE = '$' + '{filename}';
/** What every browser and curl send after the closing delimiter. */
const EPILOGUE = 2;

const FIELD_HEADERS = [
  'cache-control',
  'content-type',
  'content-disposition',
  'content-encoding',
  'expires',
  'x-amz-website-redirect-location',
];

/** Needs no request signature: the form carries its own (verified here). */
export async function postObject({
  deps,
  ex,
  op,
}: Omit<HandlerInput<Op<'PostObject'>>, 'verified'>): Promise<void> {
  const boundary = formBoundary(header(ex.req.headers['content-type']));
  if (boundary === undefined) {
    throw new S3Error('PreconditionFailed', undefined, {
      Condition: 'Bucket POST must be of the enclosure-type multipart/form-data',
    });
  }
  if (deps.buckets.getBucket(op.bucket) === undefined) {
    throw new S3Error('NoSuchBucket', undefined, { BucketName: op.bucket });
  }
  const declared = header(ex.req.headers['content-length']);
  const wireLength = declared !== undefined && /^\d{1,16}$/.test(declared) ? Number(declared) : undefined;
  const form = new FormReader(acceptBody(ex), boundary);

  const fields = new Map<string, string>();
  let fieldBytes = 0;
  let file: FormPart | undefined;
  for (let part = await form.next(); part !== undefined; part = await form.next()) {
    if (part.name.toLowerCase() === 'file') {
      file = part;
      break;
    }
    const value = await form.value(
      MAX_FIELDS_BYTES - fieldBytes,
      () => new S3Error('MaxPostPreDataLengthExceeded'),
    );
    fieldBytes += value.length + part.name.length;
    const name = part.name.toLowerCase();
    if (fields.has(name)) {
      throw new S3Error('InvalidArgument', `The form field ${name} was given more than once.`, {
        ArgumentName: name,
      });
    }
    fields.set(name, value.toString('utf8'));
  }
  if (file === undefined) {
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', {
      ArgumentName: 'file',
      ArgumentValue: '0',
    });
  }
  const rawKey = fields.get('key');
  if (rawKey === undefined) {
    throw new S3Error(
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      { ArgumentName: 'key', ArgumentValue: '' },
    );
  }
  const signer = verifyPostSignature(deps, fields);
  const range =
    signer === undefined
      ? undefined
      : checkPolicy(
          parsePolicy(fields.get('policy')!),
          new Map([...fields, ['bucket', op.bucket]]),
          deps.clock(),
        );
  const key = rawKey.replaceAll(FILENAME_VARIABLE, baseName(file.filename ?? ''));
  validateKey(key);
  const bucket = authorizeUpload(deps, ex, op.bucket, signer, key, fields);
  const headers = storedHeadersFromRequest(formHeaders(fields));
  // The form's acl field is PUT's x-amz-acl: checked (ownership, public access block) before the file is read.
  const aclField = fields.get('acl');
  const acl = aclForNewObject(deps, aclField === undefined ? {} : { 'x-amz-acl': aclField }, {
    bucket,
    principal: signer,
    knownUser: (id) => deps.credentials(id) !== undefined,
  });

  const versioning = versioningOf(deps, bucket);
  // A lock-enabled bucket's default retention (or the form's x-amz-object-lock-* fields) applies as on PUT.
  const lock = lockForWrite(deps, bucket, formHeaders(fields), { integrity: false });
  const upload = await openFileBody(deps, form, wireLength, range);
  const verified: VerifiedRequest = { accessKeyId: signer ?? '', payload: { kind: 'unsigned' } };
  const body = decodeBody(upload.body, verified, {
    contentLength: upload.size,
    expected: {},
    maxBytes: deps.limits.maxObjectBytes,
    ...(deps.hasher ? { hasher: deps.hasher } : {}),
  });
  const record = await inIncarnation(deps, bucket, { writes: true }, () =>
    deps.storage.putObject({
      bucket: bucket.id,
      key: Buffer.from(key, 'utf8'),
      size: upload.size,
      body,
      headers,
      nowMs: deps.clock(),
      versioning,
      ...lock,
      ...(acl ? { acl } : {}),
      finish: async () => {
        const digests = await body.digests;
        await upload.finish();
        if (digests.bytes !== upload.size) throw malformedPost();
        return { etag: digests.md5Hex, checksums: digests.checksums };
      },
    }),
  );
  ex.bytesIn = upload.size;
  answer(
    ex,
    fields,
    { bucket: op.bucket, key, etag: record.etag },
    {
      ...objectExpiration(deps, bucket, record),
      ...versionIdHeader(versioning, record),
    },
  );
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The one authorization step of a form upload: s3:PutObject on the key for the policy's signer (anonymous
 * without a policy), its `acl` field read as PUT's x-amz-acl by policy conditions.
 */
function authorizeUpload(
  deps: GatewayDeps,
  ex: Exchange,
  bucketName: string,
  signer: string | undefined,
  key: string,
  fields: ReadonlyMap<string, string>,
): BucketInfo {
  const bucket = deps.buckets.getBucket(bucketName);
  if (bucket === undefined) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucketName });
  const facts = requestFacts(ex.req, new Map());
  const acl = fields.get('acl');
  const request: AccessRequest = {
    principal: signer,
    bucket,
    action: 's3:PutObject',
    key,
    facts: acl === undefined ? facts : { ...facts, headers: { ...facts.headers, 'x-amz-acl': acl } },
  };
  // An object's own ACL never grants writing it: anything short of 'allow' is a refusal.
  if (authorize(deps, request) !== 'allow') throw new S3Error('AccessDenied');
  return bucket;
}

/** `${filename}` is the file's name without any path a browser may have put before it. */
function baseName(filename: string): string {
  const slash = Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\'));
  return filename.slice(slash + 1);
}

/** The form fields that PUT would take as headers, in the shape storedHeadersFromRequest reads. */
function formHeaders(fields: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of fields) {
    if (FIELD_HEADERS.includes(name) || name.startsWith('x-amz-meta-')) out[name] = value;
  }
  return out;
}

/**
 * The SigV4 POST signature: HMAC of the base64 policy with the credential's signing key. Returns the signer's
 * access key, or undefined for an anonymous form (no policy, no signature).
 */
function verifyPostSignature(deps: GatewayDeps, fields: ReadonlyMap<string, string>): string | undefined {
  const policy = fields.get('policy');
  const signature = fields.get('x-amz-signature');
  const v2 = fields.has('awsaccesskeyid') && !fields.has('x-amz-credential');
  if (policy === undefined && signature === undefined && !v2) return undefined;
  const required = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) {
      throw new S3Error(
        'InvalidArgument',
        `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
        {
          ArgumentName: name,
          ArgumentValue: '',
        },
      );
    }
    return value;
  };
  if (v2)
    return verifyPostSignatureV2(deps, required('awsaccesskeyid'), required('signature'), required('policy'));
  const algorithm = required('x-amz-algorithm');
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    throw new S3Error('InvalidArgument', 'Unsupported x-amz-algorithm: only AWS4-HMAC-SHA256 is accepted.', {
      ArgumentName: 'x-amz-algorithm',
      ArgumentValue: algorithm,
    });
  }
  const credentialText = required('x-amz-credential');
  const badCredential = (message: string) =>
    new S3Error('InvalidArgument', message, {
      ArgumentName: 'x-amz-credential',
      ArgumentValue: credentialText,
    });
  const credential = parseCredential(credentialText, badCredential);
  if (credential.region !== deps.region) {
    throw badCredential(`The region '${credential.region}' is wrong; expecting '${deps.region}'`);
  }
  const amzDate = required('x-amz-date');
  const dateMs = parseAmzDate(amzDate);
  if (Number.isNaN(dateMs) || formatAmzDate(dateMs).slice(0, 8) !== credential.date) {
    throw new S3Error(
      'InvalidArgument',
      'Invalid x-amz-date: it must be the date of the credential, as 20130524T000000Z.',
      {
        ArgumentName: 'x-amz-date',
        ArgumentValue: amzDate,
      },
    );
  }
  const given = required('x-amz-signature');
  const policyText = required('policy');
  const secret = deps.credentials(credential.accessKeyId);
  if (secret === undefined)
    throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
  const key = signingKey(secret.secretAccessKey, credential.date, credential.region, 's3');
  if (!signaturesEqual(hmacHex(key, policyText), given.toLowerCase())) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: credential.accessKeyId });
  }
  return credential.accessKeyId;
}

/** The signature version 2 form: base64 HMAC-SHA1 of the base64 policy (refused with `--no-sigv2`). */
function verifyPostSignatureV2(
  deps: GatewayDeps,
  accessKeyId: string,
  signature: string,
  policy: string,
): string {
  if (deps.sigV2 === false) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  const secret = deps.credentials(accessKeyId);
  if (secret === undefined)
    throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  const computed = createHmac('sha1', secret.secretAccessKey).update(policy, 'utf8').digest();
  const given = Buffer.from(signature, 'base64');
  // Re-encoding refuses a signature that is not canonical base64 (trailing junk would decode silently).
  if (
    given.toString('base64') !== signature ||
    given.length !== computed.length ||
    !timingSafeEqual(given, computed)
  ) {
    throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId });
  }
  return accessKeyId;
}

interface FileBody {
  readonly size: number;
  readonly body: AsyncIterable<Buffer>;
  /** After the body: the form must end right after the file (no field may follow it). */
  readonly finish: () => Promise<void>;
}

/**
 * The file's bytes with their exact size, which storage needs up front. A file that fits COLLECT_MAX_BYTES is
 * read whole (bounded) and measured; a larger one streams, its size being what the Content-Length leaves after
 * the fields, the closing delimiter and the CRLF every browser ends the form with.
 */
async function openFileBody(
  deps: GatewayDeps,
  form: FormReader,
  wireLength: number | undefined,
  range: LengthRange | undefined,
): Promise<FileBody> {
  const checkSize = (size: number) => {
    const max = Math.min(range?.max ?? Number.POSITIVE_INFINITY, deps.limits.maxObjectBytes);
    if (size > max) {
      throw new S3Error('EntityTooLarge', undefined, {
        ProposedSize: String(size),
        MaxSizeAllowed: String(max),
      });
    }
    if (range !== undefined && size < range.min) {
      throw new S3Error('EntityTooSmall', undefined, {
        ProposedSize: String(size),
        MinSizeAllowed: String(range.min),
      });
    }
  };
  const endOfForm = async () => {
    const after = await form.next();
    if (after?.name.toLowerCase() === 'file') throw new S3Error('IncorrectNumberOfFilesInPostRequest');
    if (after !== undefined) {
      throw malformedPost('The file must be the last field of the form: no field may follow it.');
    }
    await form.rest();
  };
  const left = wireLength === undefined ? undefined : wireLength - form.consumed + form.buffered;
  const streamed = left === undefined ? undefined : left - form.closingBytes - EPILOGUE;
  if (streamed === undefined || streamed <= COLLECT_MAX_BYTES) {
    const data = await form.value(COLLECT_MAX_BYTES, () =>
      wireLength === undefined ? new S3Error('MissingContentLength') : malformedPost(),
    );
    await endOfForm();
    checkSize(data.length);
    return { size: data.length, body: once(data), finish: async () => {} };
  }
  checkSize(streamed);
  // Exactly `streamed` bytes, or the form did not end as reckoned: refused before storage could commit.
  async function* sized(): AsyncGenerator<Buffer> {
    let n = 0;
    for await (const chunk of form.body()) {
      n += chunk.length;
      if (n > streamed!) throw malformedPost(LARGE_FORM_ENDING);
      yield chunk;
    }
    if (n !== streamed) {
      await endOfForm();
      throw malformedPost(LARGE_FORM_ENDING);
    }
  }
  return { size: streamed, body: sized(), finish: endOfForm };
}

const LARGE_FORM_ENDING =
  'A form whose file is over 1 MiB must end right after the file: the closing boundary, then CRLF (as browsers send it).';

/** success_action_redirect (303), else success_action_status: 200, 201 (PostResponse XML) or 204 (default). */
function answer(
  ex: Exchange,
  fields: ReadonlyMap<string, string>,
  o: { bucket: string; key: string; etag: string },
  /** What PUT would answer too: x-amz-version-id, x-amz-expiration. */
  extra: Record<string, string>,
): void {
  const etag = `"${o.etag}"`;
  const host = header(ex.req.headers.host) ?? 'localhost';
  const location = `http://${host}/${encodeURIComponent(o.bucket)}/${o.key.split('/').map(encodeURIComponent).join('/')}`;
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect !== undefined && /^https?:\/\/[^\s]+$/i.test(redirect)) {
    const query = `bucket=${encodeURIComponent(o.bucket)}&key=${encodeURIComponent(o.key)}&etag=${encodeURIComponent(etag)}`;
    sendEmpty(ex, 303, {
      ...extra,
      location: `${redirect}${redirect.includes('?') ? '&' : '?'}${query}`,
      etag,
    });
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const xml = buildDocument([
      'PostResponse',
      [
        ['Location', location],
        ['Bucket', o.bucket],
        ['Key', o.key],
        ['ETag', etag],
      ],
    ]);
    sendXml(ex, 201, xml, { ...extra, etag, location });
    return;
  }
  sendEmpty(ex, status === '200' ? 200 : 204, { ...extra, etag, location });
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  if (data.length > 0) yield data;
}
