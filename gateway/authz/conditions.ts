// A policy statement's Condition block, compiled once: operator → key → values. All operators of a block
// and all keys of an operator must hold; a key's values are alternatives (for negated operators: none may
// match). A key the request lacks fails the test, except for negated operators, `...IfExists` and Null.
import { isIP } from 'node:net';
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
  const ranges = values.map((cidr) => {
    const range = parseCidr(cidr);
    if (range === undefined) throw new BadCondition(`"${cidr}" is not an IP address or range`);
    return range;
  });
  return (v) => {
    const ip = requestIp(v);
    return ip !== undefined && ranges.some((r) => r.v6 === ip.v6 && inRange(ip.bytes, r));
  };
}

// Requests mostly come from a few addresses, and one request may test several ranges: keep the last one.
let lastIpText = '';
let lastIp: ReturnType<typeof parseIp>;

function requestIp(text: string): ReturnType<typeof parseIp> {
  if (text !== lastIpText) {
    lastIp = parseIp(text);
    lastIpText = text;
  }
  return lastIp;
}

interface IpRange {
  readonly v6: boolean;
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** An IPv4 or IPv6 address as bytes (IPv4-mapped IPv6 reads as IPv4), or undefined. */
export function parseIp(text: string): { v6: boolean; bytes: Uint8Array } | undefined {
  const family = isIP(text);
  if (family === 4) return { v6: false, bytes: Uint8Array.from(text.split('.'), Number) };
  if (family !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped?.[1] !== undefined) return parseIp(mapped[1]);
  let groups: string[];
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted quad is two groups.
  const last = right.length > 0 ? right : left;
  const quad = last.at(-1);
  if (quad?.includes('.')) {
    const b = quad.split('.').map(Number);
    last.splice(-1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
  }
  if (tail === undefined) groups = left;
  else groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return { v6: true, bytes };
}

function parseCidr(cidr: string): IpRange | undefined {
  const [addr = '', bits, extra] = cidr.split('/');
  const ip = parseIp(addr);
  if (ip === undefined || extra !== undefined) return undefined;
  const max = ip.v6 ? 128 : 32;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  return prefix > max ? undefined : { ...ip, prefix };
}

function inRange(bytes: Uint8Array, r: IpRange): boolean {
  const whole = r.prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== r.bytes[i]) return false;
  const rest = r.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === ((r.bytes[whole] ?? 0) & mask);
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
