// XML of a bucket's access settings: public access block, ownership controls, policy status, and ACLs
// (AccessControlPolicy), parsed strictly (MalformedXML / MalformedACLError) and built as AWS sends them.
import { S3Error } from '../errors.ts';
import {
  buildDocument,
  escapeText,
  expectChildren,
  leafText,
  parseDocument,
  S3_XMLNS,
  type XmlElement,
} from './xml-codec.ts';

const malformed = () => new S3Error('MalformedXML');

export interface PublicAccessBlockXml {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

const PAB_FIELDS = [
  ['BlockPublicAcls', 'blockPublicAcls'],
  ['IgnorePublicAcls', 'ignorePublicAcls'],
  ['BlockPublicPolicy', 'blockPublicPolicy'],
  ['RestrictPublicBuckets', 'restrictPublicBuckets'],
] as const;

function parseBool(text: string | undefined): boolean {
  if (text === undefined) return false;
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw malformed();
}

/** Absent switches are false, as AWS reads them. */
export function parsePublicAccessBlock(xml: string): PublicAccessBlockXml {
  const root = parseDocument(xml, 'PublicAccessBlockConfiguration');
  expectChildren(root, {
    BlockPublicAcls: 1,
    IgnorePublicAcls: 1,
    BlockPublicPolicy: 1,
    RestrictPublicBuckets: 1,
  });
  const out = {
    blockPublicAcls: false,
    ignorePublicAcls: false,
    blockPublicPolicy: false,
    restrictPublicBuckets: false,
  };
  for (const [element, field] of PAB_FIELDS) out[field] = parseBool(leafText(root, element));
  return out;
}

export function publicAccessBlockXml(c: PublicAccessBlockXml): string {
  return buildDocument([
    'PublicAccessBlockConfiguration',
    PAB_FIELDS.map(([element, field]) => [element, c[field]] as const),
  ]);
}

export const OBJECT_OWNERSHIPS = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'] as const;
export type ObjectOwnershipXml = (typeof OBJECT_OWNERSHIPS)[number];

export function parseOwnershipControls(xml: string): ObjectOwnershipXml {
  const root = parseDocument(xml, 'OwnershipControls');
  expectChildren(root, { Rule: 1 });
  const rule = root.children[0];
  if (rule === undefined) throw malformed();
  expectChildren(rule, { ObjectOwnership: 1 });
  const value = leafText(rule, 'ObjectOwnership')?.trim();
  if (value === undefined || !(OBJECT_OWNERSHIPS as readonly string[]).includes(value)) throw malformed();
  return value as ObjectOwnershipXml;
}

export function ownershipControlsXml(ownership: ObjectOwnershipXml): string {
  return buildDocument(['OwnershipControls', [['Rule', [['ObjectOwnership', ownership]]]]]);
}

export function policyStatusXml(isPublic: boolean): string {
  return buildDocument(['PolicyStatus', [['IsPublic', isPublic]]]);
}

// ACLs. The grantee's xsi:type attribute is how AWS marks its kind; we read the kind from the element it
// holds (ID, URI or EmailAddress), which the type must agree with anyway.

export type AclGranteeXml =
  | { type: 'CanonicalUser'; id: string; displayName?: string }
  | { type: 'Group'; uri: string }
  | { type: 'AmazonCustomerByEmail'; email: string };

export interface AclXml {
  owner?: { id: string; displayName?: string };
  grants: { grantee: AclGranteeXml; permission: string }[];
}

const aclMalformed = () => new S3Error('MalformedACLError');

function parseGrantee(el: XmlElement): AclGranteeXml {
  expectChildren(el, { ID: 1, DisplayName: 1, URI: 1, EmailAddress: 1 });
  const id = leafText(el, 'ID');
  const uri = leafText(el, 'URI');
  const email = leafText(el, 'EmailAddress');
  if ([id, uri, email].filter((v) => v !== undefined).length !== 1) throw aclMalformed();
  if (id !== undefined) {
    const displayName = leafText(el, 'DisplayName');
    return { type: 'CanonicalUser', id: id.trim(), ...(displayName !== undefined ? { displayName } : {}) };
  }
  if (uri !== undefined) return { type: 'Group', uri: uri.trim() };
  return { type: 'AmazonCustomerByEmail', email: (email ?? '').trim() };
}

export function parseAccessControlPolicy(xml: string): AclXml {
  let root: XmlElement;
  try {
    root = parseDocument(xml, 'AccessControlPolicy');
    expectChildren(root, { Owner: 1, AccessControlList: 1 });
  } catch {
    throw aclMalformed();
  }
  const out: AclXml = { grants: [] };
  const owner = root.children.find((c) => c.name === 'Owner');
  if (owner !== undefined) {
    expectChildren(owner, { ID: 1, DisplayName: 1 });
    const id = leafText(owner, 'ID');
    if (id === undefined) throw aclMalformed();
    out.owner = { id: id.trim() };
  }
  const list = root.children.find((c) => c.name === 'AccessControlList');
  if (list === undefined) throw aclMalformed();
  expectChildren(list, { Grant: 100 });
  for (const grant of list.children) {
    expectChildren(grant, { Grantee: 1, Permission: 1 });
    const grantee = grant.children.find((c) => c.name === 'Grantee');
    const permission = leafText(grant, 'Permission');
    if (grantee === undefined || permission === undefined) throw aclMalformed();
    out.grants.push({ grantee: parseGrantee(grantee), permission: permission.trim() });
  }
  return out;
}

const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

/** GetBucketAcl / GetObjectAcl: the owner and each grant, with the grantee's xsi:type as AWS writes it. */
export function accessControlPolicyXml(
  acl: AclXml & { owner: { id: string; displayName?: string } },
): string {
  const who = (id: string, name: string | undefined) =>
    `<ID>${escapeText(id)}</ID>${name === undefined ? '' : `<DisplayName>${escapeText(name)}</DisplayName>`}`;
  const grants = acl.grants.map(({ grantee: g, permission }) => {
    const inner =
      g.type === 'CanonicalUser'
        ? who(g.id, g.displayName)
        : g.type === 'Group'
          ? `<URI>${escapeText(g.uri)}</URI>`
          : `<EmailAddress>${escapeText(g.email)}</EmailAddress>`;
    return `<Grant><Grantee ${XSI} xsi:type="${g.type}">${inner}</Grantee><Permission>${permission}</Permission></Grant>`;
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_XMLNS}">` +
    `<Owner>${who(acl.owner.id, acl.owner.displayName)}</Owner>` +
    `<AccessControlList>${grants.join('')}</AccessControlList></AccessControlPolicy>`
  );
}
