// JSON as it crosses Quire's internal HTTP APIs: Buffers travel as {"$b": base64url} and bigints as
// {"$n": decimal}, so S3 keys (raw bytes) and opvers survive the trip exactly.
//
// Both directions walk the value themselves around a plain JSON.stringify / JSON.parse: a replacer or reviver
// function makes V8 take its slow path (measured 2-3x slower; every internal call converts its arguments and its
// answer, so this is on the hot path of every cluster request). The text is the same a replacer would give.

export function toWire(v: unknown): string {
  return JSON.stringify(encode(v));
}

export function fromWire<T>(text: string): T {
  return decode(JSON.parse(text)) as T;
}

/** `v` with every Buffer and bigint replaced by its tagged form (new objects; `v` is not changed). */
function encode(v: unknown): unknown {
  if (typeof v === 'bigint') return { $n: v.toString() };
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return { $b: v.toString('base64url') };
  if (Array.isArray(v)) return v.map(encode);
  // Anything else with a toJSON (a Date) is what that gives, as JSON.stringify would take it.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    const j = (v as { toJSON(): unknown }).toJSON();
    return j === v ? j : encode(j);
  }
  // No prototype: a key named __proto__ stays an own property (JSON.stringify writes it) rather than a setter.
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = encode(x);
  }
  return out;
}

/** Parsed JSON with every tagged Buffer and bigint turned back (in place: the parse's own objects). */
function decode(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = decode(v[i]);
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    if (typeof o.$b === 'string') return Buffer.from(o.$b, 'base64url');
    if (typeof o.$n === 'string') return BigInt(o.$n);
  }
  for (const k of keys) {
    const x = o[k];
    const d = decode(x);
    if (d === x) continue;
    // JSON.parse made __proto__ an own property: keep it one (assigning would set the object's prototype).
    if (k === '__proto__')
      Object.defineProperty(o, k, { value: d, enumerable: true, writable: true, configurable: true });
    else o[k] = d;
  }
  return o;
}
