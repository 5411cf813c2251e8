// The POST policy of a browser form upload: a base64 JSON document (expiration + conditions) signed with
// SigV4. Parsing errors are InvalidPolicyDocument; every failed condition is AccessDenied "Invalid according
// to Policy: ..." as AWS words it.
import { z } from 'zod';
import { S3Error } from '../errors.ts';

export type PolicyCondition =
  | {
      readonly kind: 'eq' | 'starts-with';
      readonly field: string;
      readonly value: string;
      readonly text: string;
    }
  | { readonly kind: 'content-length-range'; readonly min: number; readonly max: number };

export interface PostPolicy {
  readonly expirationMs: number;
  readonly conditions: readonly PolicyCondition[];
}

export interface LengthRange {
  readonly min: number;
  readonly max: number;
}

const documentSchema = z.object({
  expiration: z.string(),
  conditions: z.array(z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())])),
});

const invalid = (message: string) => new S3Error('InvalidPolicyDocument', `Invalid Policy: ${message}`);
const denied = (message: string) => new S3Error('AccessDenied', `Invalid according to Policy: ${message}`);

/** Decodes and checks the shape of a policy field; signature checking is the caller's (over the base64 text). */
export function parsePolicy(base64: string): PostPolicy {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalid('Invalid JSON.');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('Invalid JSON.');
  if (!('expiration' in json)) throw invalid('Policy missing expiration.');
  if (!('conditions' in json)) throw invalid('Policy missing conditions.');
  const doc = documentSchema.safeParse(json);
  if (!doc.success) throw invalid('Invalid JSON.');
  const expirationMs = Date.parse(doc.data.expiration);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(doc.data.expiration) || Number.isNaN(expirationMs)) {
    throw invalid(`Invalid 'expiration' value: '${doc.data.expiration}'`);
  }
  return { expirationMs, conditions: doc.data.conditions.map(parseCondition) };
}

function parseCondition(raw: Record<string, unknown> | unknown[]): PolicyCondition {
  const shown = JSON.stringify(raw);
  if (!Array.isArray(raw)) {
    const entries = Object.entries(raw);
    if (entries.length !== 1)
      throw invalid(`Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.`);
    const [name, value] = entries[0]!;
    if (typeof value !== 'string') throw invalid(`Invalid Simple-Condition: value must be a string.`);
    return {
      kind: 'eq',
      field: name.toLowerCase(),
      value,
      text: `["eq", "$${name}", ${JSON.stringify(value)}]`,
    };
  }
  const [op, a, b] = raw;
  if (typeof op !== 'string') throw invalid(`Invalid Condition: ${shown}`);
  const operator = op.toLowerCase();
  if (operator === 'content-length-range') {
    const min = toLength(a);
    const max = toLength(b);
    if (raw.length !== 3 || min === undefined || max === undefined) {
      throw invalid(`Invalid Content-Length-Range: ${shown}`);
    }
    return { kind: 'content-length-range', min, max };
  }
  if (operator !== 'eq' && operator !== 'starts-with') throw invalid(`Invalid Condition: ${shown}`);
  if (raw.length !== 3 || typeof a !== 'string' || !a.startsWith('$') || typeof b !== 'string') {
    throw invalid(`Invalid Condition: ${shown}`);
  }
  return {
    kind: operator,
    field: a.slice(1).toLowerCase(),
    value: b,
    text: `["${operator}", "${a}", ${JSON.stringify(b)}]`,
  };
}

function toLength(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Form fields the policy does not have to name (AWS's list), besides `x-ignore-*`. */
const UNCHECKED = new Set(['policy', 'x-amz-signature', 'file', 'awsaccesskeyid', 'signature']);

/**
 * Checks the form against the policy: not expired, every condition holds, every field is named by some
 * condition. `fields` are the form's fields by lower-case name, plus `bucket`. Returns the allowed size range.
 */
export function checkPolicy(
  policy: PostPolicy,
  fields: ReadonlyMap<string, string>,
  nowMs: number,
): LengthRange | undefined {
  if (policy.expirationMs <= nowMs) throw denied('Policy expired.');
  let range: LengthRange | undefined;
  const named = new Set<string>();
  for (const c of policy.conditions) {
    if (c.kind === 'content-length-range') {
      range = { min: c.min, max: c.max };
      continue;
    }
    named.add(c.field);
    const actual = fields.get(c.field) ?? '';
    const holds = c.kind === 'eq' ? actual === c.value : startsWith(c.field, actual, c.value);
    if (!holds) throw denied(`Policy Condition failed: ${c.text}`);
  }
  for (const name of fields.keys()) {
    if (name === 'bucket' || UNCHECKED.has(name) || name.startsWith('x-ignore-') || named.has(name)) continue;
    throw denied(`Extra input fields: ${name}`);
  }
  return range;
}

/** `starts-with`; for Content-Type, each of a comma-separated list of types must start with it (as AWS). */
function startsWith(field: string, actual: string, prefix: string): boolean {
  if (field !== 'content-type') return actual.startsWith(prefix);
  return actual.split(',').every((t) => t.trim().startsWith(prefix));
}
