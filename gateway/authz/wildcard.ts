// IAM-style wildcards: `*` any run of characters (including `/`), `?` exactly one; everything else literal.

const SPECIAL = /[.+^${}()|[\]\\]/g;

/** A whole-string matcher for a pattern with `*` and `?`; `ignoreCase` for action names. */
export function wildcardRegExp(pattern: string, ignoreCase = false): RegExp {
  const body = pattern.replace(SPECIAL, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${body}$`, ignoreCase ? 'i' : '');
}

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** A matcher that avoids a regular expression for the common literal and `prefix*` patterns. */
export function wildcardMatcher(pattern: string, ignoreCase = false): (value: string) => boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const fold = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (!hasWildcard(p)) return (v) => fold(v) === p;
  const star = p.indexOf('*');
  if (star === p.length - 1 && !p.includes('?')) {
    const prefix = p.slice(0, -1);
    return (v) => fold(v).startsWith(prefix);
  }
  const re = wildcardRegExp(pattern, ignoreCase);
  return (v) => re.test(v);
}
