// The internal APIs' JSON: Buffers and bigints survive exactly, and the text is what the JSON.stringify replacer /
// JSON.parse reviver formulation gives (the walk replaced it for speed; mixed versions read each other's text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromWire, toWire } from './wire-json.ts';

/** The formulation the walk replaced: the reference for the text and the values. */
function refToWire(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k, val) {
    const raw = this[k];
    if (Buffer.isBuffer(raw)) return { $b: raw.toString('base64url') };
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    return val;
  });
}
function refFromWire(text: string): unknown {
  return JSON.parse(text, (_k, val) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      if (typeof val.$b === 'string' && Object.keys(val).length === 1)
        return Buffer.from(val.$b, 'base64url');
      if (typeof val.$n === 'string' && Object.keys(val).length === 1) return BigInt(val.$n);
    }
    return val;
  });
}

function outcome(f: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: f() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
  fc.date({ noInvalidDate: true }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('__proto__', '$b', '$n', '0', '10')), tie('v'), {
      maxKeys: 5,
    }),
  ),
})).v;

test('toWire writes the text the replacer formulation writes; fromWire reads it back as the reviver did', {
  timeout: 60_000,
}, () => {
  fc.assert(
    fc.property(value, (v) => {
      const text = toWire(v);
      assert.equal(text, refToWire(v));
      if (text === undefined) return;
      // Including what neither can read (a {"$n": "x"} that is no number): both throw the same error.
      assert.deepStrictEqual(
        outcome(() => fromWire(text)),
        outcome(() => refFromWire(text)),
      );
    }),
    { numRuns: 2000 },
  );
});

test('keys and opvers survive exactly; a __proto__ key stays data, never a prototype', {
  timeout: 10_000,
}, () => {
  const args = {
    bucket: 'b',
    key: Buffer.from([0, 255, 0x80, 10]),
    opver: { counter: 2n ** 63n + 5n, nodeId: 7 },
  };
  const back = fromWire<typeof args>(toWire(args));
  assert.ok(back.key.equals(args.key));
  assert.equal(back.opver.counter, args.opver.counter);
  const odd = fromWire<Record<string, unknown>>(
    '{"__proto__":{"$b":"AAE"},"x":{"__proto__":{"polluted":1}}}',
  );
  assert.ok(Buffer.isBuffer(Object.getOwnPropertyDescriptor(odd, '__proto__')?.value));
  assert.equal(Object.getPrototypeOf(odd), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(toWire(odd), '{"__proto__":{"$b":"AAE"},"x":{"__proto__":{"polluted":1}}}');
});
