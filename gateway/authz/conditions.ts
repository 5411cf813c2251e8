// A policy statement's Condition block, compiled once: operator → key → values. All operators of a block
// and all keys of an operator must hold; a key's values are alternatives (for negated operators: none may
// match). A key the request lacks fails the test, except for negated operators, `...IfExists` and Null.
import { BlockList, isIP } from 'node:net';
import { factValue, type RequestFacts } from './facts.ts';
import { wildcardMatcher } from './wildcard.ts';

export type ConditionTest = (facts: RequestFacts) => boolean;

/** Thrown for a condition the policy grammar does not allow; the caller turns it into MalformedPolicy. */
export class BadCondition extends Error {
  override name = 'BadCondition';
}

type ValueTest = (value: string) => boolean;

interface Operator {
  /** The request value passes if it matches any of the policy values (negation applied after). */
  readonly compile: (values: readonly string[]) => ValueTest;
  readonly negated: boolean;
}

const anyOf =
  (tests: readonly ValueTest[]): ValueTest =>
  (v) =>
    tests.some((t) => t(v));

function numeric(cmp: (a: number, b: number) => boolean): Operator['compile'] {
  return (values) => {
    const nums = values.map((s) => {
      if (!/^-?\d+(\.\d+)?$/.test(s)) throw new BadCondition(`"${s}" is not a number`);
      return Number(s);
    });
    return (v) => {
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) && nums.some((b) => cmp(n, b));
    };
  };
}

function ipRanges(values: readonly string[]): ValueTest {
  const list = new BlockList();
  for (const cidr of values) {
    const [addr = '', bits, extra] = cidr.split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined)
      throw new BadCondition(`"${cidr}" is not an IP address or range`);
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max)
      throw new BadCondition(`"${cidr}" is not an IP address or range`);
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (v) => {
    const family = isIP(v);
    return family !== 0 && list.check(v, family === 4 ? 'ipv4' : 'ipv6');
  };
}

function bool(values: readonly string[]): ValueTest {
  const wanted = values.map((s) => {
    const t = s.toLowerCase();
    if (t !== 'true' && t !== 'false') throw new BadCondition(`"${s}" is not true or false`);
    return t;
  });
  return (v) => (wanted as string[]).includes(v.toLowerCase());
}

const exact = (values: readonly string[]): ValueTest => anyOf(values.map((s) => (v: string) => v === s));
const folded = (values: readonly string[]): ValueTest => {
  const set = new Set(values.map((s) => s.toLowerCase()));
  return (v) => set.has(v.toLowerCase());
};
const like = (values: readonly string[]): ValueTest => anyOf(values.map((s) => wildcardMatcher(s)));

const OPERATORS: Record<string, Operator> = {
  stringequals: { compile: exact, negated: false },
  stringnotequals: { compile: exact, negated: true },
  stringequalsignorecase: { compile: folded, negated: false },
  stringnotequalsignorecase: { compile: folded, negated: true },
  stringlike: { compile: like, negated: false },
  stringnotlike: { compile: like, negated: true },
  ipaddress: { compile: ipRanges, negated: false },
  notipaddress: { compile: ipRanges, negated: true },
  bool: { compile: bool, negated: false },
  numericequals: { compile: numeric((a, b) => a === b), negated: false },
  numericnotequals: { compile: numeric((a, b) => a === b), negated: true },
  numericlessthan: { compile: numeric((a, b) => a < b), negated: false },
  numericlessthanequals: { compile: numeric((a, b) => a <= b), negated: false },
  numericgreaterthan: { compile: numeric((a, b) => a > b), negated: false },
  numericgreaterthanequals: { compile: numeric((a, b) => a >= b), negated: false },
};

const CONDITION_KEY = /^(aws|s3):[A-Za-z0-9_/.:-]+$/;

/** Operators and keys Quire understands; anything else in a policy is MalformedPolicy. */
export function isKnownOperator(name: string): boolean {
  const base = name.replace(/IfExists$/, '').toLowerCase();
  return base in OPERATORS || base === 'null';
}

export function compileConditions(block: Record<string, Record<string, readonly string[]>>): ConditionTest[] {
  const tests: ConditionTest[] = [];
  for (const [opName, keys] of Object.entries(block)) {
    const ifExists = /IfExists$/.test(opName);
    const base = opName.replace(/IfExists$/, '').toLowerCase();
    for (const [key, values] of Object.entries(keys)) {
      if (!CONDITION_KEY.test(key)) throw new BadCondition(`invalid condition key ${key}`);
      if (values.length === 0) throw new BadCondition(`condition ${opName} on ${key} has no values`);
      if (base === 'null') {
        if (ifExists) throw new BadCondition('Null has no IfExists form');
        const wantAbsent = bool(values);
        tests.push((facts) => wantAbsent(factValue(facts, key) === undefined ? 'true' : 'false'));
        continue;
      }
      const op = OPERATORS[base];
      if (op === undefined) throw new BadCondition(`unknown condition operator ${opName}`);
      const test = op.compile(values);
      const absent = op.negated || ifExists;
      tests.push((facts) => {
        const v = factValue(facts, key);
        if (v === undefined) return absent;
        return op.negated ? !test(v) : test(v);
      });
    }
  }
  return tests;
}
