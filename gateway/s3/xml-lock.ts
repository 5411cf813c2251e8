// Object Lock XML: ObjectLockConfiguration (bucket), Retention and LegalHold (one version). Strict as the
// other request parsers: anything outside AWS's schema is MalformedXML.
import { S3Error } from '../errors.ts';
import { buildDocument, expectChildren, leafText, parseDocument, type XmlNode } from './xml-codec.ts';
import { isoDate } from './xml-responses.ts';

export type LockMode = 'GOVERNANCE' | 'COMPLIANCE';

export interface DefaultRetention {
  mode: LockMode;
  days?: number;
  years?: number;
}

export interface ObjectLockConfiguration {
  enabled: boolean;
  rule?: DefaultRetention;
}

const malformed = () => new S3Error('MalformedXML');

function lockMode(text: string | undefined): LockMode {
  if (text === 'GOVERNANCE' || text === 'COMPLIANCE') return text;
  throw malformed();
}

function positiveInt(text: string): number {
  const t = text.trim();
  if (!/^-?\d{1,10}$/.test(t)) throw malformed();
  const n = Number(t);
  if (n <= 0)
    throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value', {
      ArgumentName: 'DefaultRetention',
    });
  return n;
}

export function parseObjectLockConfiguration(xml: string): ObjectLockConfiguration {
  const root = parseDocument(xml, 'ObjectLockConfiguration');
  expectChildren(root, { ObjectLockEnabled: 1, Rule: 1 });
  const enabled = leafText(root, 'ObjectLockEnabled');
  if (enabled !== undefined && enabled !== 'Enabled') throw malformed();
  const rule = root.children.find((c) => c.name === 'Rule');
  if (!rule) return { enabled: enabled === 'Enabled' };
  expectChildren(rule, { DefaultRetention: 1 });
  const dr = rule.children.find((c) => c.name === 'DefaultRetention');
  if (!dr) throw malformed();
  expectChildren(dr, { Mode: 1, Days: 1, Years: 1 });
  const mode = lockMode(leafText(dr, 'Mode'));
  const days = leafText(dr, 'Days');
  const years = leafText(dr, 'Years');
  if ((days === undefined) === (years === undefined)) throw malformed();
  const out: DefaultRetention = { mode };
  if (days !== undefined) out.days = positiveInt(days);
  if (years !== undefined) out.years = positiveInt(years);
  return { enabled: enabled === 'Enabled', rule: out };
}

export function objectLockConfigurationXml(c: ObjectLockConfiguration): string {
  const nodes: XmlNode[] = [];
  if (c.enabled) nodes.push(['ObjectLockEnabled', 'Enabled']);
  if (c.rule) {
    const dr: XmlNode[] = [['Mode', c.rule.mode]];
    if (c.rule.days !== undefined) dr.push(['Days', c.rule.days]);
    if (c.rule.years !== undefined) dr.push(['Years', c.rule.years]);
    nodes.push(['Rule', [['DefaultRetention', dr]]]);
  }
  return buildDocument(['ObjectLockConfiguration', nodes]);
}

/** A retain-until date as S3 takes it: ISO 8601 (the SDKs send `2030-01-01T00:00:00Z` or with millis). */
export function parseRetainUntil(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The Retention body; an empty one (no Mode, no date) removes the retention (governance bypass only). */
export function parseRetention(xml: string): { mode: LockMode; retainUntilMs: number } | null {
  const root = parseDocument(xml, 'Retention');
  expectChildren(root, { Mode: 1, RetainUntilDate: 1 });
  const mode = leafText(root, 'Mode');
  const until = leafText(root, 'RetainUntilDate');
  if (mode === undefined && until === undefined) return null;
  if (mode === undefined || until === undefined) throw malformed();
  const ms = parseRetainUntil(until);
  if (ms === undefined) throw malformed();
  return { mode: lockMode(mode), retainUntilMs: ms };
}

export function retentionXml(r: { mode: LockMode; retainUntilMs: number }): string {
  return buildDocument([
    'Retention',
    [
      ['Mode', r.mode],
      ['RetainUntilDate', isoDate(new Date(r.retainUntilMs))],
    ],
  ]);
}

export function parseLegalHold(xml: string): boolean {
  const root = parseDocument(xml, 'LegalHold');
  expectChildren(root, { Status: 1 });
  const status = leafText(root, 'Status');
  if (status === 'ON') return true;
  if (status === 'OFF') return false;
  throw malformed();
}

export function legalHoldXml(on: boolean): string {
  return buildDocument(['LegalHold', [['Status', on ? 'ON' : 'OFF']]]);
}
