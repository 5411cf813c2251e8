// The ACL a request asks for: a canned ACL (x-amz-acl), grant headers (x-amz-grant-*), or an
// AccessControlPolicy document, checked against the grantees Quire knows.
import { S3Error } from '../errors.ts';
import type { AclXml } from '../s3/xml-access.ts';
import {
  type Acl,
  cannedAcl,
  GROUPS,
  type Grant,
  type Grantee,
  isCannedAcl,
  PERMISSIONS,
  type Permission,
} from './acl.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const GRANT_HEADERS: readonly (readonly [string, Permission])[] = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
];

export interface AclContext {
  /** Who will own the bucket or object (an access key id). */
  readonly owner: string;
  readonly bucketOwner: string;
  /** Whether an access key id is one Quire knows (grants to unknown ids are refused, as AWS does). */
  readonly knownUser: (id: string) => boolean;
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Whether the request carries ACL headers at all. */
export function hasAclHeaders(headers: Headers): boolean {
  return header(headers, 'x-amz-acl') !== undefined || GRANT_HEADERS.some(([h]) => headers[h] !== undefined);
}

/** The ACL the headers ask for, or undefined when they ask for none. */
export function aclFromHeaders(headers: Headers, ctx: AclContext): Acl | undefined {
  const canned = header(headers, 'x-amz-acl');
  const granted = GRANT_HEADERS.filter(([h]) => headers[h] !== undefined);
  if (canned !== undefined && granted.length > 0)
    throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (canned !== undefined) {
    const name = canned.trim();
    if (!isCannedAcl(name))
      throw new S3Error('InvalidArgument', undefined, { ArgumentName: 'x-amz-acl', ArgumentValue: canned });
    return cannedAcl(name, ctx.owner, ctx.bucketOwner);
  }
  if (granted.length === 0) return undefined;
  const grants: Grant[] = [];
  for (const [name, permission] of granted) {
    for (const grantee of parseGrantHeader(header(headers, name) ?? '', name)) {
      grants.push({ grantee: resolveGrantee(grantee, ctx), permission });
    }
  }
  return { owner: ctx.owner, grants };
}

type RawGrantee = { type: 'id' | 'uri' | 'emailAddress'; value: string };

/** `id="AK", uri="http://acs.amazonaws.com/groups/global/AllUsers", emailAddress="a@b"` */
function parseGrantHeader(value: string, name: string): RawGrantee[] {
  const out: RawGrantee[] = [];
  const re = /\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^,\s"]+))\s*(,|$)/gy;
  let at = 0;
  while (at < value.length) {
    re.lastIndex = at;
    const m = re.exec(value);
    if (!m) throw new S3Error('InvalidArgument', undefined, { ArgumentName: name, ArgumentValue: value });
    out.push({ type: m[1] as RawGrantee['type'], value: m[2] ?? m[3] ?? '' });
    at = re.lastIndex;
  }
  if (out.length === 0)
    throw new S3Error('InvalidArgument', undefined, { ArgumentName: name, ArgumentValue: value });
  return out;
}

function resolveGrantee(g: RawGrantee, ctx: AclContext): Grantee {
  if (g.type === 'emailAddress')
    throw new S3Error('UnresolvableGrantByEmailAddress', undefined, { EmailAddress: g.value });
  if (g.type === 'uri') {
    if (!GROUPS.has(g.value))
      throw new S3Error('InvalidArgument', 'Invalid group uri', {
        ArgumentName: 'uri',
        ArgumentValue: g.value,
      });
    return { type: 'Group', uri: g.value };
  }
  if (!ctx.knownUser(g.value))
    throw new S3Error('InvalidArgument', 'Invalid id', {
      ArgumentName: 'CanonicalUser/ID',
      ArgumentValue: g.value,
    });
  return { type: 'CanonicalUser', id: g.value };
}

/** An AccessControlPolicy document; its Owner, when given, must be the real owner. */
export function aclFromDocument(doc: AclXml, ctx: AclContext): Acl {
  if (doc.owner !== undefined && doc.owner.id !== ctx.owner) throw new S3Error('AccessDenied');
  const grants = doc.grants.map(({ grantee, permission }): Grant => {
    if (!(PERMISSIONS as readonly string[]).includes(permission)) throw new S3Error('MalformedACLError');
    const raw: RawGrantee =
      grantee.type === 'CanonicalUser'
        ? { type: 'id', value: grantee.id }
        : grantee.type === 'Group'
          ? { type: 'uri', value: grantee.uri }
          : { type: 'emailAddress', value: grantee.email };
    return { grantee: resolveGrantee(raw, ctx), permission: permission as Permission };
  });
  return { owner: ctx.owner, grants };
}

/** An ACL as the AccessControlPolicy document shows it (display names are the access key ids). */
export function aclDocument(acl: Acl): AclXml & { owner: { id: string; displayName: string } } {
  return {
    owner: { id: acl.owner, displayName: acl.owner },
    grants: acl.grants.map(({ grantee, permission }) => ({
      grantee:
        grantee.type === 'CanonicalUser'
          ? { type: 'CanonicalUser', id: grantee.id, displayName: grantee.id }
          : grantee,
      permission,
    })),
  };
}
