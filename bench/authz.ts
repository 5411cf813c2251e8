// Cost of the authorization step per request (µs), in process: admission of a GetObject (bucket lookup,
// request facts, the decision) for the owner of a bucket without a policy (the common case), the owner
// under a policy, another key granted by a policy with conditions, an anonymous reader of a public bucket,
// and a denied anonymous request. Run: node --import tsx bench/authz.ts [--ops 1000000]
import type { IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import type { VerifiedRequest } from '../gateway/auth/types.ts';
import { admit } from '../gateway/authz/admission.ts';
import type { StoredPolicy } from '../gateway/authz/policy.ts';
import type { Operation } from '../gateway/s3/operation.ts';
import type { BucketConfigKind, BucketInfo } from '../tracker/catalog.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '1000000' } } });
const ops = Number(values.ops);

const bucket = (name: string): BucketInfo => ({
  name,
  id: `~${name}`,
  owner: 'OWNER',
  createdMs: 0,
  region: 'us-east-1',
});
const plain = bucket('plain');
const guarded = bucket('guarded');
const policyText = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'public',
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::guarded/public/*',
    },
    {
      Sid: 'partner',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::PARTNER:root' },
      Action: ['s3:Get*', 's3:List*'],
      Resource: ['arn:aws:s3:::guarded', 'arn:aws:s3:::guarded/shared/*'],
      Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' }, Bool: { 'aws:SecureTransport': 'false' } },
    },
    {
      Sid: 'nodelete',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:DeleteObject',
      Resource: 'arn:aws:s3:::guarded/*',
    },
  ],
});
const configs = new Map<string, Map<BucketConfigKind, unknown>>([
  [
    guarded.id,
    new Map<BucketConfigKind, unknown>([['policy', { v: 1, text: policyText } satisfies StoredPolicy]]),
  ],
]);
const deps = {
  buckets: {
    getBucket: (name: string) => (name === 'plain' ? plain : name === 'guarded' ? guarded : undefined),
    getBucketConfig: <T>(b: { id: string }, kind: BucketConfigKind) =>
      configs.get(b.id)?.get(kind) as T | undefined,
  },
};
const req = {
  headers: { host: '127.0.0.1', 'user-agent': 'bench' },
  socket: { remoteAddress: '127.0.0.1' },
} as unknown as IncomingMessage;
const query = new Map<string, string>();
const who = (accessKeyId: string | undefined): VerifiedRequest => ({
  accessKeyId,
  payload: { kind: 'unsigned' },
});

function measure(label: string, op: Operation, verified: VerifiedRequest, expectDenied = false): void {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      try {
        admit(deps, op, verified, req, query);
      } catch (err) {
        if (!expectDenied) throw err;
      }
    }
  };
  run(Math.min(ops, 50_000));
  const started = process.hrtime.bigint();
  run(ops);
  const ns = Number(process.hrtime.bigint() - started) / ops;
  process.stdout.write(`${label.padEnd(52)} ${(ns / 1000).toFixed(3)} µs/request\n`);
}

const get = (b: string, key: string): Operation => ({ op: 'GetObject', bucket: b, key });
measure('owner, bucket without a policy (fast path)', get('plain', 'a/b'), who('OWNER'));
measure('owner, bucket with a 3-statement policy', get('guarded', 'a/b'), who('OWNER'));
measure('another key granted by a conditional statement', get('guarded', 'shared/x'), who('PARTNER'));
measure('anonymous reader of public/*', get('guarded', 'public/index.html'), who(undefined));
measure('anonymous, denied (AccessDenied thrown)', get('guarded', 'private/x'), who(undefined), true);
