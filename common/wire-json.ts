// JSON as it crosses Quire's internal HTTP APIs: Buffers travel as {"$b": base64url} and bigints as
// {"$n": decimal}, so S3 keys (raw bytes) and opvers survive the trip exactly.

export function toWire(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k, val) {
    const raw = this[k];
    if (Buffer.isBuffer(raw)) return { $b: raw.toString('base64url') };
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    return val;
  });
}

export function fromWire<T>(text: string): T {
  return JSON.parse(text, (_k, val) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      if (typeof val.$b === 'string' && Object.keys(val).length === 1)
        return Buffer.from(val.$b, 'base64url');
      if (typeof val.$n === 'string' && Object.keys(val).length === 1) return BigInt(val.$n);
    }
    return val;
  }) as T;
}
