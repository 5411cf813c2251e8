// The request context a policy's conditions read (aws:SourceIp, s3:prefix, ...), computed only when asked.
import type { IncomingMessage } from 'node:http';

export interface RequestFacts {
  /** The client's address as the socket sees it (IPv4-mapped IPv6 reads as IPv4). */
  readonly sourceIp: string | undefined;
  readonly secureTransport: boolean;
  /** Request headers (lower-case names), for aws:Referer, aws:UserAgent, s3:x-amz-acl. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The decoded query, for s3:prefix, s3:delimiter, s3:max-keys. */
  readonly query: ReadonlyMap<string, string>;
}

export function requestFacts(req: IncomingMessage, query: ReadonlyMap<string, string>): RequestFacts {
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
  return {
    sourceIp: normalizeIp(socket.remoteAddress),
    secureTransport: socket.encrypted === true,
    headers: req.headers,
    query,
  };
}

export function normalizeIp(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function header(facts: RequestFacts, name: string): string | undefined {
  const v = facts.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * The value of a condition key for this request (key names compared case-insensitively, as IAM does), or
 * undefined when the request has no such value: keys Quire does not know are absent.
 */
export function factValue(facts: RequestFacts, key: string): string | undefined {
  switch (key.toLowerCase()) {
    case 'aws:sourceip':
      return facts.sourceIp;
    case 'aws:securetransport':
      return facts.secureTransport ? 'true' : 'false';
    case 'aws:referer':
      return header(facts, 'referer');
    case 'aws:useragent':
      return header(facts, 'user-agent');
    case 's3:prefix':
      return facts.query.get('prefix');
    case 's3:delimiter':
      return facts.query.get('delimiter');
    case 's3:max-keys':
      return facts.query.get('max-keys');
    case 's3:x-amz-acl':
      return header(facts, 'x-amz-acl');
    default:
      return undefined;
  }
}
