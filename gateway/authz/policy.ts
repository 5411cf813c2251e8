// Bucket policies: the JSON document validated (zod) into statements compiled once into matchers, and
// evaluated as AWS does: an explicit Deny wins, then an Allow, else nothing is granted (implicit deny).
import { z } from 'zod';
import { S3Error } from '../errors.ts';
import { ALL_ACTIONS, isObjectAction } from './actions.ts';
import { BadCondition, type ConditionTest, compileConditions, isKnownOperator } from './conditions.ts';
import type { RequestFacts } from './facts.ts';
import { hasWildcard, wildcardMatcher } from './wildcard.ts';

/** AWS's limit for a bucket policy document. */
export const POLICY_BYTES_MAX = 20 * 1024;

const S3_ARN = 'arn:aws:s3:::';

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);
const conditionValue = z.union([z.string(), z.boolean(), z.number()]);
const principalSchema = z.union([
  z.literal('*'),
  z
    .object({ AWS: oneOrMany(z.string()).optional(), CanonicalUser: oneOrMany(z.string()).optional() })
    .strict(),
]);
const statementSchema = z
  .object({
    Sid: z.string().optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Principal: principalSchema.optional(),
    NotPrincipal: principalSchema.optional(),
    Action: oneOrMany(z.string()).optional(),
    NotAction: oneOrMany(z.string()).optional(),
    Resource: oneOrMany(z.string()).optional(),
    NotResource: oneOrMany(z.string()).optional(),
    Condition: z.record(z.string(), z.record(z.string(), oneOrMany(conditionValue))).optional(),
  })
  .strict();
const policySchema = z
  .object({
    Version: z.enum(['2012-10-17', '2008-10-17']).optional(),
    Id: z.string().optional(),
    Statement: oneOrMany(statementSchema),
  })
  .strict();

type StatementDoc = z.infer<typeof statementSchema>;
type PrincipalDoc = z.infer<typeof principalSchema>;

/** What a bucket's `policy` setting holds: the document exactly as it was put (GetBucketPolicy returns it). */
export interface StoredPolicy {
  readonly v: 1;
  readonly text: string;
}

export type PolicyOutcome = 'allow' | 'deny' | 'none';

interface Statement {
  readonly deny: boolean;
  /** Matches the principal: an access key id, or undefined for an anonymous request. */
  readonly principal: (who: string | undefined) => boolean;
  /** Principal is everyone (`*`), as the public-policy test needs to know. */
  readonly everyone: boolean;
  readonly action: (action: string) => boolean;
  readonly resource: (arn: string) => boolean;
  readonly conditions: readonly ConditionTest[];
  readonly conditionKeys: ReadonlyMap<string, { op: string; values: readonly string[] }[]>;
}

export interface CompiledPolicy {
  evaluate(who: string | undefined, action: string, arn: string, facts: RequestFacts): PolicyOutcome;
  /** Whether some Allow statement names this principal and action (whatever its resources and conditions). */
  mayAllow(who: string | undefined, action: string): boolean;
  /** Grants something to everyone, as AWS's public-policy rules define it (GetBucketPolicyStatus). */
  readonly isPublic: boolean;
}

const malformed = (message: string) => new S3Error('MalformedPolicy', message);
const list = (v: string | readonly string[] | undefined): readonly string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v;

export interface PolicyContext {
  readonly bucket: string;
  /** Whether an access key id names a principal Quire knows (unknown principals are refused, as AWS does). */
  readonly knownPrincipal: (id: string) => boolean;
}

/** Validates and compiles a policy document; every problem is MalformedPolicy with AWS's wording. */
export function compilePolicy(text: string, ctx: PolicyContext): CompiledPolicy {
  if (Buffer.byteLength(text) > POLICY_BYTES_MAX)
    throw malformed('Policy exceeds the maximum allowed document size.');
  if (!text.trimStart().startsWith('{'))
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed('This policy contains invalid Json');
  }
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) throw malformed(describeIssue(parsed.error.issues[0]));
  const docs = parsed.data.Statement;
  const statements = (Array.isArray(docs) ? docs : [docs]).map((s) => compileStatement(s, ctx));
  return policyOf(statements);
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (issue === undefined) return 'Invalid policy document';
  const field = issue.path.filter((p) => typeof p === 'string').at(-1);
  if (issue.code === 'unrecognized_keys') return `Unknown field ${issue.keys[0]}`;
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `Missing required field ${String(field)}`;
  if (field === 'Effect') return 'Invalid effect: must be Allow or Deny';
  if (field === 'Version') return 'The policy must contain a valid version string';
  return `Invalid value for ${String(field ?? 'the policy')}`;
}

function compileStatement(s: StatementDoc, ctx: PolicyContext): Statement {
  if ((s.Principal === undefined) === (s.NotPrincipal === undefined))
    throw malformed('Missing required field Principal');
  if ((s.Action === undefined) === (s.NotAction === undefined))
    throw malformed('Missing required field Action');
  if ((s.Resource === undefined) === (s.NotResource === undefined))
    throw malformed('Missing required field Resource');
  const principalDoc = (s.Principal ?? s.NotPrincipal) as PrincipalDoc;
  const matchesPrincipal = compilePrincipal(principalDoc, ctx);
  const actionPatterns = list(s.Action ?? s.NotAction);
  const matchesAction = anyMatch(actionPatterns.map(checkAction));
  const resourcePatterns = list(s.Resource ?? s.NotResource);
  const matchesResource = anyMatch(resourcePatterns.map((r) => checkResource(r, ctx.bucket)));
  checkActionsApply(
    actionPatterns,
    s.Action !== undefined,
    resourcePatterns,
    s.Resource !== undefined,
    ctx.bucket,
  );
  const { tests, keys } = compileConditionBlock(s.Condition);
  const everyone =
    s.Principal !== undefined ? principalDoc === '*' || list(principalDoc.AWS).includes('*') : true;
  return {
    deny: s.Effect === 'Deny',
    principal: s.Principal !== undefined ? matchesPrincipal : (who) => !matchesPrincipal(who),
    everyone,
    action: s.Action !== undefined ? matchesAction : (a) => !matchesAction(a),
    resource: s.Resource !== undefined ? matchesResource : (r) => !matchesResource(r),
    conditions: tests,
    conditionKeys: keys,
  };
}

function anyMatch(tests: readonly ((v: string) => boolean)[]): (v: string) => boolean {
  if (tests.length === 1) return tests[0]!;
  return (v) => tests.some((t) => t(v));
}

/** `*`, or access key ids given plain, as `arn:aws:iam::<id>:root` / `:user/<name>`, or as CanonicalUser. */
function compilePrincipal(doc: PrincipalDoc, ctx: PolicyContext): (who: string | undefined) => boolean {
  if (doc === '*') return () => true;
  const ids = new Set<string>();
  let everyone = false;
  for (const raw of [...list(doc.AWS), ...list(doc.CanonicalUser)]) {
    if (raw === '*') {
      everyone = true;
      continue;
    }
    const id = principalId(raw);
    if (id === undefined || !ctx.knownPrincipal(id)) throw malformed('Invalid principal in policy');
    ids.add(id);
  }
  if (everyone) return () => true;
  return (who) => who !== undefined && ids.has(who);
}

function principalId(raw: string): string | undefined {
  const arn = /^arn:aws:iam::([^:]+):(root|user\/.+)$/.exec(raw);
  if (arn) return arn[1];
  return raw.startsWith('arn:') ? undefined : raw;
}

function checkAction(pattern: string): (action: string) => boolean {
  if (pattern === '*') return () => true;
  const matcher = wildcardMatcher(pattern, true);
  if (!/^s3:[A-Za-z*?]+$/i.test(pattern) || !ALL_ACTIONS.some(matcher))
    throw malformed('Policy has invalid action');
  return matcher;
}

/** A resource must be this bucket or objects in it (`arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/prefix*`). */
function checkResource(pattern: string, bucket: string): (arn: string) => boolean {
  if (pattern === '*') return () => true;
  if (!pattern.startsWith(S3_ARN)) throw malformed('Policy has invalid resource');
  const path = pattern.slice(S3_ARN.length);
  const slash = path.indexOf('/');
  const bucketPart = slash < 0 ? path : path.slice(0, slash);
  if (!wildcardMatcher(bucketPart)(bucket)) throw malformed('Policy has invalid resource');
  return wildcardMatcher(pattern);
}

/** AWS refuses a statement whose actions cannot apply to any of its resources (bucket vs object actions). */
function checkActionsApply(
  actions: readonly string[],
  positiveActions: boolean,
  resources: readonly string[],
  positiveResources: boolean,
  bucket: string,
): void {
  if (!positiveActions || !positiveResources) return;
  const bucketResource = resources.some((r) => wildcardMatcher(r)(bucketArn(bucket)));
  const objectResource = resources.some(
    (r) => r === '*' || r.slice(S3_ARN.length).includes('/') || r.slice(S3_ARN.length).includes('*'),
  );
  const applies = actions.some((a) => {
    const m = a === '*' ? () => true : wildcardMatcher(a, true);
    return ALL_ACTIONS.some((name) => m(name) && (isObjectAction(name) ? objectResource : bucketResource));
  });
  if (!applies) throw malformed('Action does not apply to any resource(s) in statement');
}

function compileConditionBlock(block: StatementDoc['Condition']): {
  tests: ConditionTest[];
  keys: Map<string, { op: string; values: readonly string[] }[]>;
} {
  const normalized: Record<string, Record<string, readonly string[]>> = {};
  const keys = new Map<string, { op: string; values: readonly string[] }[]>();
  for (const [op, entries] of Object.entries(block ?? {})) {
    if (!isKnownOperator(op)) throw malformed('Invalid Condition type');
    const byKey: Record<string, readonly string[]> = {};
    for (const [key, value] of Object.entries(entries)) {
      const values = (Array.isArray(value) ? value : [value]).map(String);
      byKey[key] = values;
      const lower = key.toLowerCase();
      keys.set(lower, [...(keys.get(lower) ?? []), { op: op.toLowerCase(), values }]);
    }
    normalized[op] = byKey;
  }
  try {
    return { tests: compileConditions(normalized), keys };
  } catch (err) {
    if (err instanceof BadCondition) throw malformed(`Invalid Condition: ${err.message}`);
    throw err;
  }
}

function policyOf(statements: readonly Statement[]): CompiledPolicy {
  // Statements that can apply to an action, found once per action name (a small, closed set).
  const byAction = new Map<string, readonly Statement[]>();
  const forAction = (action: string) => {
    let hit = byAction.get(action);
    if (hit === undefined) {
      hit = statements.filter((s) => s.action(action));
      byAction.set(action, hit);
    }
    return hit;
  };
  return {
    evaluate(who, action, arn, facts) {
      let allowed = false;
      for (const s of forAction(action)) {
        if (s.deny ? false : allowed) continue;
        if (!s.principal(who) || !s.resource(arn)) continue;
        if (!s.conditions.every((c) => c(facts))) continue;
        if (s.deny) return 'deny';
        allowed = true;
      }
      return allowed ? 'allow' : 'none';
    },
    mayAllow: (who, action) => forAction(action).some((s) => !s.deny && s.principal(who)),
    isPublic: statements.some((s) => !s.deny && s.everyone && !restrictsToKnownSources(s)),
  };
}

// Condition keys whose fixed values tie a statement to particular callers, so it does not make the policy
// public (AWS's rules; only aws:SourceIp ranges have a meaning in Quire, the others never match).
const RESTRICTING_KEYS = new Set([
  'aws:sourcearn',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgid',
  'aws:userid',
]);

function restrictsToKnownSources(s: Statement): boolean {
  for (const [key, uses] of s.conditionKeys) {
    for (const { op, values } of uses) {
      if (key === 'aws:sourceip' && op === 'ipaddress' && values.every(isNarrowRange)) return true;
      if (RESTRICTING_KEYS.has(key) && op === 'stringequals' && values.every((v) => !hasWildcard(v)))
        return true;
    }
  }
  return false;
}

/** AWS counts an IPv4 range of /8 or narrower (IPv6: /32) as not public. */
function isNarrowRange(cidr: string): boolean {
  const [addr = '', bits] = cidr.split('/');
  const v6 = addr.includes(':');
  const prefix = bits === undefined ? (v6 ? 128 : 32) : Number(bits);
  return prefix >= (v6 ? 32 : 8);
}

/** The policy's compiled form, made once per stored value and kept while the value is the bucket's. */
const compiled = new WeakMap<StoredPolicy, CompiledPolicy>();

const anyPrincipal = () => true;

export function compiledPolicy(stored: StoredPolicy, bucket: string): CompiledPolicy {
  let hit = compiled.get(stored);
  if (hit === undefined) {
    // A stored policy compiled once before, so it compiles again; principals deleted since just never match.
    hit = compilePolicy(stored.text, { bucket, knownPrincipal: anyPrincipal });
    compiled.set(stored, hit);
  }
  return hit;
}

/** Remembers the compiled form of a policy just put, so the first request after the put pays nothing. */
export function rememberCompiled(stored: StoredPolicy, policy: CompiledPolicy): void {
  compiled.set(stored, policy);
}

export function objectArn(bucket: string, key: string): string {
  return `${S3_ARN}${bucket}/${key}`;
}

export function bucketArn(bucket: string): string {
  return `${S3_ARN}${bucket}`;
}
