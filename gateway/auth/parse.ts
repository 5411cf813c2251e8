// Reads the SigV4 parameters out of an Authorization header or a presigned URL's query, rejecting
// malformed input with the error codes S3 uses.
import { S3Error } from '../errors.ts';
import { ALGORITHM } from './crypto.ts';

export interface Credential {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
  /** date/region/service/aws4_request */
  scope: string;
}

export interface SignatureParams {
  credential: Credential;
  signedHeaders: readonly string[];
  signature: string;
}

export interface PresignParams extends SignatureParams {
  amzDate: string;
  expiresSec: number;
}

type BadInput = (message: string) => S3Error;
const headerError: BadInput = (m) => new S3Error('AuthorizationHeaderMalformed', m);
const queryError: BadInput = (m) => new S3Error('AuthorizationQueryParametersError', m);

// A client signs every request with the same credential and SignedHeaders strings: parse each once.
// Bounded (oldest dropped first) so a stream of distinct strings cannot grow memory.
const PARSE_CACHE_MAX = 256;
const credentials = new Map<string, Readonly<Credential>>();
const signedHeaderLists = new Map<string, readonly string[]>();

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= PARSE_CACHE_MAX) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, value);
  return value;
}

export function parseCredential(value: string, bad: BadInput): Credential {
  const hit = credentials.get(value);
  if (hit !== undefined) return hit;
  return remember(credentials, value, Object.freeze(parseCredentialUncached(value, bad)));
}

function parseCredentialUncached(value: string, bad: BadInput): Credential {
  const parts = value.split('/');
  if (parts.length < 5) throw bad(`Error parsing the Credential parameter: '${value}'.`);
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '' || !/^\d{8}$/.test(date) || region === '' || terminator !== 'aws4_request') {
    throw bad(`Error parsing the Credential parameter: '${value}'.`);
  }
  if (service !== 's3')
    throw bad(
      `The authorization header is malformed; incorrect service "${service}". This endpoint belongs to "s3".`,
    );
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/aws4_request` };
}

function parseSignedHeaders(value: string, bad: BadInput): readonly string[] {
  const hit = signedHeaderLists.get(value);
  if (hit !== undefined) return hit;
  const names = value.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase() || /\s/.test(n))) {
    throw bad('The SignedHeaders parameter is malformed.');
  }
  return remember(signedHeaderLists, value, Object.freeze(names));
}

function checkSignatureFormat(sig: string, bad: BadInput): string {
  if (!/^[0-9a-f]{64}$/.test(sig)) throw bad('The Signature parameter is malformed.');
  return sig;
}

const CREDENTIAL_AT = `${ALGORITHM} Credential=`;
const SIGNED_HEADERS_SEP = ', SignedHeaders=';
const SIGNATURE_SEP = ', Signature=';

/**
 * The exact layout every SDK sends (three fields, this order, one space after each comma), read with three
 * indexOf calls; anything else (other spacing, order, extra or repeated fields) goes to the general parser.
 */
function parseCanonicalLayout(value: string): SignatureParams | undefined {
  if (!value.startsWith(CREDENTIAL_AT)) return undefined;
  const signed = value.indexOf(SIGNED_HEADERS_SEP, CREDENTIAL_AT.length);
  if (signed < 0) return undefined;
  const sig = value.indexOf(SIGNATURE_SEP, signed + SIGNED_HEADERS_SEP.length);
  if (sig < 0 || value.length !== sig + SIGNATURE_SEP.length + 64) return undefined;
  const cred = value.slice(CREDENTIAL_AT.length, signed);
  const names = value.slice(signed + SIGNED_HEADERS_SEP.length, sig);
  if (/[\s,=]/.test(cred) || /[\s,=]/.test(names)) return undefined;
  return {
    credential: parseCredential(cred, headerError),
    signedHeaders: parseSignedHeaders(names, headerError),
    signature: checkSignatureFormat(value.slice(sig + SIGNATURE_SEP.length), headerError),
  };
}

/** `AWS4-HMAC-SHA256 Credential=.../aws4_request, SignedHeaders=a;b, Signature=<hex>` */
export function parseAuthorizationHeader(value: string): SignatureParams {
  const common = parseCanonicalLayout(value);
  if (common !== undefined) return common;
  if (!value.startsWith(`${ALGORITHM} `)) {
    if (value.startsWith('AWS4-ECDSA-P256-SHA256'))
      throw new S3Error('NotImplemented', 'SigV4a is not supported.');
    throw new S3Error(
      'InvalidRequest',
      `The authorization mechanism you have provided is not supported. Please use ${ALGORITHM}.`,
    );
  }
  const fields = new Map<string, string>();
  for (const item of value.slice(ALGORITHM.length + 1).split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0)
      throw headerError(`The authorization header is malformed; '${trimmed}' is not a key=value pair.`);
    const name = trimmed.slice(0, eq);
    if (fields.has(name)) throw headerError(`The authorization header is malformed; ${name} appears twice.`);
    fields.set(name, trimmed.slice(eq + 1).trim());
  }
  const cred = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (cred === undefined || signed === undefined || sig === undefined) {
    throw headerError(
      'The authorization header is malformed; it needs Credential, SignedHeaders and Signature.',
    );
  }
  return {
    credential: parseCredential(cred, headerError),
    signedHeaders: parseSignedHeaders(signed, headerError),
    signature: checkSignatureFormat(sig, headerError),
  };
}

/** The X-Amz-* parameters of a presigned URL. */
export function parsePresignQuery(params: Map<string, string>): PresignParams {
  const get = (name: string): string => {
    const v = params.get(name);
    if (v === undefined) {
      throw queryError(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    return v;
  };
  if (get('X-Amz-Algorithm') !== ALGORITHM) throw queryError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const expiresRaw = get('X-Amz-Expires');
  if (!/^\d{1,7}$/.test(expiresRaw)) throw queryError('X-Amz-Expires should be a number');
  const expiresSec = Number(expiresRaw);
  if (expiresSec < 1) throw queryError('X-Amz-Expires must be non-negative');
  if (expiresSec > 604800)
    throw queryError('X-Amz-Expires must be less than a week (in seconds) that is 604800');
  return {
    credential: parseCredential(get('X-Amz-Credential'), queryError),
    signedHeaders: parseSignedHeaders(get('X-Amz-SignedHeaders'), queryError),
    signature: checkSignatureFormat(get('X-Amz-Signature'), queryError),
    amzDate: get('X-Amz-Date'),
    expiresSec,
  };
}

// Concurrent requests mostly carry the same second: keep the last answer.
let lastAmzDate = '';
let lastAmzDateMs = Number.NaN;

/** Milliseconds since the epoch of an ISO 8601 basic timestamp ('20130524T000000Z'), or NaN. */
export function parseAmzDate(value: string): number {
  if (value === lastAmzDate) return lastAmzDateMs;
  const ms = parseAmzDateUncached(value);
  lastAmzDate = value;
  lastAmzDateMs = ms;
  return ms;
}

function parseAmzDateUncached(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Reject impossible dates such as 20130231 that Date.UTC would roll over.
  return back.getUTCDate() === d && back.getUTCMonth() === mo - 1 ? ms : Number.NaN;
}

/** ISO 8601 basic form of a time, as SigV4 signs it. */
export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
