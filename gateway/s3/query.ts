// The one reading of a request's query string. The request parser (target.ts) and SigV4 verification
// (auth/uri.ts) both read the query through decodeQuery, so a signature covers exactly the parameters
// the handlers act on: `prefix=a+b` and `prefix=a%2Bb` can never verify as one and list as the other.
//
// `+` is a space, as S3 reads a query (form encoding); SigV4 then encodes that space as %20. A client
// that signed `a%2Bb` and sends `a+b` has changed the request and fails verification.
import { percentDecode } from './percent.ts';

/** Decoded (name, value) pairs in wire order; `?uploads` yields ['uploads', '']. */
export type QueryPairs = ReadonlyArray<readonly [name: string, value: string]>;

/** Splits on `&`, decodes `%XX` and `+`; a bad escape or invalid UTF-8 is InvalidURI, as AWS answers. */
export function decodeQuery(rawQuery: string): QueryPairs {
  const pairs: Array<readonly [string, string]> = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = percentDecode(eq < 0 ? part : part.slice(0, eq), true);
    const value = eq < 0 ? '' : percentDecode(part.slice(eq + 1), true);
    pairs.push([name, value]);
  }
  return pairs;
}

/** The first value of each name, as S3 reads a repeated parameter. */
export function firstValues(pairs: QueryPairs): Map<string, string> {
  const query = new Map<string, string>();
  for (const [name, value] of pairs) if (!query.has(name)) query.set(name, value);
  return query;
}
