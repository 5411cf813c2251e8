// The policy evaluator against a small reference model (fast-check), plus the cases that matter most.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { S3Error } from '../errors.ts';
import type { RequestFacts } from './facts.ts';
import { compilePolicy } from './policy.ts';

const BUCKET = 'bkt';
const ctx = { bucket: BUCKET, knownPrincipal: (id: string) => ['A', 'B'].includes(id) };

// --- the reference model: the JSON read literally, statement by statement, with a recursive glob ---

function glob(p: string, s: string): boolean {
  if (p === '') return s === '';
  if (p[0] === '*') return glob(p.slice(1), s) || (s !== '' && glob(p, s.slice(1)));
  if (s === '') return false;
  return (p[0] === '?' || p[0] === s[0]) && glob(p.slice(1), s.slice(1));
}

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function ipv4(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [net = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(net) / size);
}

interface RefRequest {
  who: string | undefined;
  action: string;
  arn: string;
  context: Record<string, string | undefined>;
}

type Doc = { Statement: Array<Record<string, unknown>> };

function refPrincipal(p: unknown, who: string | undefined): boolean {
  if (p === '*') return true;
  const ids = arr((p as { AWS?: string | string[] }).AWS).map(
    (v) => /^arn:aws:iam::([^:]+):root$/.exec(v)?.[1] ?? v,
  );
  return ids.includes('*') || (who !== undefined && ids.includes(who));
}

function refCondition(op: string, key: string, values: string[], context: RefRequest['context']): boolean {
  const ifExists = op.endsWith('IfExists');
  const base = op.replace(/IfExists$/, '');
  const v = context[key.toLowerCase()];
  if (base === 'Null') return (v === undefined) === (values[0] === 'true');
  const negated = base.includes('Not');
  if (v === undefined) return negated || ifExists;
  const match = (x: string) =>
    base.startsWith('String') && base.includes('Like')
      ? glob(x, v)
      : base.startsWith('String')
        ? x === v
        : base === 'Bool'
          ? x === v
          : inCidr(v, x);
  return negated ? !values.some(match) : values.some(match);
}

function refEvaluate(doc: Doc, r: RefRequest): 'allow' | 'deny' | 'none' {
  let allowed = false;
  for (const s of doc.Statement) {
    const actionHit = arr(s.Action ?? s.NotAction).some((a) =>
      glob(String(a).toLowerCase(), r.action.toLowerCase()),
    );
    const resourceHit = arr(s.Resource ?? s.NotResource).some((p) => glob(String(p), r.arn));
    if (!refPrincipal(s.Principal, r.who)) continue;
    if ((s.Action !== undefined) !== actionHit) continue;
    if ((s.Resource !== undefined) !== resourceHit) continue;
    const cond = (s.Condition ?? {}) as Record<string, Record<string, string[]>>;
    const holds = Object.entries(cond).every(([op, keys]) =>
      Object.entries(keys).every(([key, values]) => refCondition(op, key, values, r.context)),
    );
    if (!holds) continue;
    if (s.Effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'none';
}

// --- generators ---

const principal = fc.constantFrom<unknown>(
  '*',
  { AWS: 'A' },
  { AWS: 'arn:aws:iam::B:root' },
  { AWS: ['A', 'B'] },
  { AWS: '*' },
);
const actionPattern = fc.constantFrom(
  's3:GetObject',
  's3:PutObject',
  's3:Get*',
  's3:*',
  '*',
  's3:List*',
  's3:DeleteObject',
  's3:?etObject',
);
const resourcePattern = fc.constantFrom(
  `arn:aws:s3:::${BUCKET}/*`,
  `arn:aws:s3:::${BUCKET}/a/*`,
  `arn:aws:s3:::${BUCKET}/a?c`,
  `arn:aws:s3:::${BUCKET}`,
  `arn:aws:s3:::${BUCKET}*`,
  '*',
);
const condition = fc.oneof(
  fc.record({
    op: fc.constantFrom(
      'StringEquals',
      'StringNotEquals',
      'StringLike',
      'StringNotLike',
      'StringEqualsIfExists',
      'StringNotLikeIfExists',
    ),
    key: fc.constantFrom('aws:Referer', 's3:prefix', 'aws:UserAgent'),
    values: fc.array(fc.constantFrom('a/', 'a/*', 'https://x/*', 'https://x/p', 'ua', ''), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  fc.record({
    op: fc.constantFrom('IpAddress', 'NotIpAddress', 'IpAddressIfExists'),
    key: fc.constant('aws:SourceIp'),
    values: fc.array(fc.constantFrom('127.0.0.1/32', '127.0.0.0/8', '10.0.0.0/8', '0.0.0.0/0', '10.1.2.3'), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  fc.record({
    op: fc.constant('Bool'),
    key: fc.constant('aws:SecureTransport'),
    values: fc.constantFrom(['true'], ['false']),
  }),
  fc.record({
    op: fc.constant('Null'),
    key: fc.constantFrom('aws:Referer', 's3:prefix'),
    values: fc.constantFrom(['true'], ['false']),
  }),
);
const statement = fc
  .record({
    effect: fc.constantFrom('Allow', 'Deny'),
    principal,
    actions: fc.array(actionPattern, { minLength: 1, maxLength: 3 }),
    notAction: fc.boolean(),
    resources: fc.array(resourcePattern, { minLength: 1, maxLength: 2 }),
    notResource: fc.boolean(),
    conditions: fc.array(condition, { maxLength: 2 }),
  })
  .map((s) => {
    const out: Record<string, unknown> = { Effect: s.effect, Principal: s.principal };
    out[s.notAction ? 'NotAction' : 'Action'] = s.actions;
    out[s.notResource ? 'NotResource' : 'Resource'] = s.resources;
    if (s.conditions.length > 0) {
      const block: Record<string, Record<string, string[]>> = {};
      for (const c of s.conditions) block[c.op] = { ...(block[c.op] ?? {}), [c.key]: [...c.values] };
      out.Condition = block;
    }
    return out;
  });
const request = fc.record({
  who: fc.constantFrom(undefined, 'A', 'B', 'C'),
  action: fc.constantFrom(
    's3:GetObject',
    's3:PutObject',
    's3:ListBucket',
    's3:DeleteObject',
    's3:GetBucketPolicy',
    's3:GetObjectAcl',
  ),
  key: fc.constantFrom('a/b', 'a/bc', 'abc', 'x', 'a/'),
  sourceIp: fc.constantFrom('127.0.0.1', '10.0.0.1', '192.168.1.1'),
  secure: fc.boolean(),
  referer: fc.constantFrom(undefined, 'https://x/p', 'https://y/'),
  prefix: fc.constantFrom(undefined, 'a/', ''),
  userAgent: fc.constantFrom(undefined, 'ua'),
});

function factsOf(r: {
  sourceIp: string;
  secure: boolean;
  referer?: string;
  prefix?: string;
  userAgent?: string;
}): RequestFacts {
  const headers: Record<string, string> = {};
  if (r.referer !== undefined) headers.referer = r.referer;
  if (r.userAgent !== undefined) headers['user-agent'] = r.userAgent;
  const query = new Map<string, string>();
  if (r.prefix !== undefined) query.set('prefix', r.prefix);
  return { sourceIp: r.sourceIp, secureTransport: r.secure, headers, query };
}

describe('policy evaluation', () => {
  test('agrees with the reference model on random policies and requests', { timeout: 60_000 }, () => {
    let compiled = 0;
    fc.assert(
      fc.property(
        fc.array(statement, { minLength: 1, maxLength: 4 }),
        fc.array(request, { minLength: 1, maxLength: 8 }),
        (statements, requests) => {
          const doc = { Version: '2012-10-17', Statement: statements };
          let policy: ReturnType<typeof compilePolicy>;
          try {
            policy = compilePolicy(JSON.stringify(doc), ctx);
          } catch (err) {
            // Only AWS's "action does not apply to any resource" refusal is expected from these generators.
            assert.ok(err instanceof S3Error && err.code === 'MalformedPolicy', String(err));
            assert.match(err.message, /does not apply/);
            return;
          }
          compiled++;
          for (const r of requests) {
            const bucketLevel = r.action === 's3:ListBucket' || r.action === 's3:GetBucketPolicy';
            const arn = bucketLevel ? `arn:aws:s3:::${BUCKET}` : `arn:aws:s3:::${BUCKET}/${r.key}`;
            const context = {
              'aws:sourceip': r.sourceIp,
              'aws:securetransport': String(r.secure),
              'aws:referer': r.referer,
              's3:prefix': r.prefix,
              'aws:useragent': r.userAgent,
            };
            const want = refEvaluate(doc, { who: r.who, action: r.action, arn, context });
            const got = policy.evaluate(r.who, r.action, arn, factsOf(r));
            assert.equal(got, want, JSON.stringify({ doc, r }));
          }
        },
      ),
      { numRuns: 1500 },
    );
    assert.ok(compiled > 500, `only ${compiled} generated policies compiled`);
  });

  test('explicit Deny wins over Allow in any order; nothing granted is implicit deny', () => {
    const allow = { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${BUCKET}/*` };
    const deny = {
      Effect: 'Deny',
      Principal: { AWS: 'A' },
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${BUCKET}/secret/*`,
    };
    const facts = factsOf({ sourceIp: '127.0.0.1', secure: false });
    for (const order of [
      [allow, deny],
      [deny, allow],
    ]) {
      const p = compilePolicy(JSON.stringify({ Statement: order }), ctx);
      assert.equal(p.evaluate('A', 's3:GetObject', `arn:aws:s3:::${BUCKET}/secret/x`, facts), 'deny');
      assert.equal(p.evaluate('B', 's3:GetObject', `arn:aws:s3:::${BUCKET}/secret/x`, facts), 'allow');
      assert.equal(p.evaluate(undefined, 's3:ListBucket', `arn:aws:s3:::${BUCKET}`, facts), 'none');
    }
  });

  test('public or not, as GetBucketPolicyStatus reports it', () => {
    const isPublic = (s: object) => compilePolicy(JSON.stringify({ Statement: [s] }), ctx).isPublic;
    const base = { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` };
    assert.equal(isPublic({ ...base, Principal: '*' }), true);
    assert.equal(isPublic({ ...base, Principal: { AWS: '*' } }), true);
    assert.equal(isPublic({ ...base, Principal: { AWS: 'A' } }), false);
    assert.equal(isPublic({ ...base, Effect: 'Deny', Principal: '*' }), false);
    assert.equal(
      isPublic({ ...base, Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
      false,
    );
    assert.equal(
      isPublic({ ...base, Principal: '*', Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } }),
      true,
    );
    assert.equal(
      isPublic({ ...base, Principal: '*', Condition: { StringLike: { 'aws:Referer': 'https://x/*' } } }),
      true,
    );
  });
});
