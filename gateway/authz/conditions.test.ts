// Condition operators on their own: address ranges (IPv4, IPv6, mapped), absent keys, IfExists, Null.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BadCondition, compileConditions } from './conditions.ts';
import type { RequestFacts } from './facts.ts';

const facts = (sourceIp: string, headers: Record<string, string> = {}): RequestFacts => ({
  sourceIp,
  secureTransport: false,
  headers,
  query: new Map(),
});
const holds = (block: Record<string, Record<string, string[]>>, f: RequestFacts) =>
  compileConditions(block).every((t) => t(f));

describe('conditions', () => {
  test('IpAddress over IPv4, IPv6 and IPv4-mapped addresses', () => {
    const v6 = { IpAddress: { 'aws:SourceIp': ['2001:db8::/32', '::1'] } };
    assert.equal(holds(v6, facts('2001:db8:0:1::7')), true);
    assert.equal(holds(v6, facts('2001:db9::1')), false);
    assert.equal(holds(v6, facts('::1')), true);
    assert.equal(holds(v6, facts('::2')), false);
    assert.equal(holds(v6, facts('127.0.0.1')), false, 'an IPv4 address is not in an IPv6 range');
    const v4 = { IpAddress: { 'aws:SourceIp': ['192.168.4.0/22'] } };
    assert.equal(holds(v4, facts('192.168.7.255')), true);
    assert.equal(holds(v4, facts('192.168.8.0')), false);
    assert.equal(holds(v4, facts('::ffff:192.168.5.1')), true);
    assert.equal(holds({ NotIpAddress: { 'aws:SourceIp': ['192.168.4.0/22'] } }, facts('10.0.0.1')), true);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fe80::/129', '1.2.3.4/8/1', 'host'])
      assert.throws(() => compileConditions({ IpAddress: { 'aws:SourceIp': [bad] } }), BadCondition, bad);
  });

  test('absent keys: false for positive operators, true for negated ones, IfExists and Null', () => {
    const none = facts('127.0.0.1');
    assert.equal(holds({ StringEquals: { 'aws:Referer': ['x'] } }, none), false);
    assert.equal(holds({ StringNotEquals: { 'aws:Referer': ['x'] } }, none), true);
    assert.equal(holds({ StringEqualsIfExists: { 'aws:Referer': ['x'] } }, none), true);
    assert.equal(
      holds({ StringEqualsIfExists: { 'aws:Referer': ['x'] } }, facts('1.1.1.1', { referer: 'y' })),
      false,
    );
    assert.equal(holds({ Null: { 'aws:Referer': ['true'] } }, none), true);
    assert.equal(holds({ Null: { 'aws:Referer': ['false'] } }, none), false);
    assert.equal(
      holds(
        { StringEqualsIgnoreCase: { 'aws:UserAgent': ['CURL'] } },
        facts('1.1.1.1', { 'user-agent': 'curl' }),
      ),
      true,
    );
  });
});
