// Bucket lifecycle configuration: the S3 XML parsed and validated into rules (common/lifecycle-rules.ts, which
// decides what a rule does), the shape kept as the catalog's 'lifecycle' setting (zod), the XML GET answers,
// and the x-amz-expiration header. Transitions have no other storage class to go to here: refused as AWS
// refuses a storage class it does not have.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { currentExpiry, type LifecycleRule, type RuleFilter } from '../../common/lifecycle-rules.ts';
import { S3Error } from '../errors.ts';
import { httpDate } from './headers.ts';
import { parseTagElement, validateTags } from './tagging.ts';
import {
  buildDocument,
  expectChildren,
  leafText,
  parseDocument,
  type XmlElement,
  type XmlNode,
} from './xml-codec.ts';

export const RULES_MAX = 1000;
const ID_CHARS_MAX = 255;
const PREFIX_BYTES_MAX = 1024;
const NEWER_NONCURRENT_MAX = 100;

/** How the rule named what it applies to, so GET answers in the same form it was given. */
export type FilterForm = 'legacy-prefix' | 'empty' | 'prefix' | 'tag' | 'gt' | 'lt' | 'and';

export interface StoredRule extends LifecycleRule {
  filterForm: FilterForm;
}

const malformed = () => new S3Error('MalformedXML');
const invalid = (message: string, name?: string, value?: string) =>
  new S3Error(
    'InvalidArgument',
    message,
    name === undefined ? {} : { ArgumentName: name, ArgumentValue: (value ?? '').slice(0, 256) },
  );

function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** A positive integer element, `what` naming it in AWS's message. */
function positive(text: string | undefined, what: string, name: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^-?\d{1,10}$/.test(t)) throw malformed();
  const n = Number(t);
  if (n <= 0) throw invalid(`'${name}' for ${what} action must be a positive integer`, name, t);
  return n;
}

function nonNegativeSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^\d{1,16}$/.test(t)) throw malformed();
  return Number(t);
}

function parsePrefix(text: string): string {
  if (Buffer.byteLength(text, 'utf8') > PREFIX_BYTES_MAX)
    throw invalid('The maximum size of a prefix is 1024 bytes.', 'Prefix', text);
  return text;
}

function parseFilter(el: XmlElement): { filter: RuleFilter; form: FilterForm } {
  expectChildren(el, { Prefix: 1, Tag: 1, ObjectSizeGreaterThan: 1, ObjectSizeLessThan: 1, And: 1 });
  if (el.children.length > 1) throw malformed();
  const only = el.children[0];
  if (!only) return { filter: {}, form: 'empty' };
  switch (only.name) {
    case 'Prefix':
      return { filter: { prefix: parsePrefix(leafText(el, 'Prefix')!) }, form: 'prefix' };
    case 'Tag':
      return { filter: { tags: validateTags([parseTagElement(only)], 'bucket') }, form: 'tag' };
    case 'ObjectSizeGreaterThan':
      return { filter: { sizeGreaterThan: nonNegativeSize(only.text)! }, form: 'gt' };
    case 'ObjectSizeLessThan':
      return { filter: { sizeLessThan: nonNegativeSize(only.text)! }, form: 'lt' };
    default: {
      expectChildren(only, { Prefix: 1, Tag: 50, ObjectSizeGreaterThan: 1, ObjectSizeLessThan: 1 });
      const filter: RuleFilter = {};
      const prefix = leafText(only, 'Prefix');
      if (prefix !== undefined) filter.prefix = parsePrefix(prefix);
      const tags = only.children.filter((c) => c.name === 'Tag').map(parseTagElement);
      if (tags.length > 0) filter.tags = validateTags(tags, 'bucket');
      const gt = nonNegativeSize(leafText(only, 'ObjectSizeGreaterThan'));
      const lt = nonNegativeSize(leafText(only, 'ObjectSizeLessThan'));
      if (gt !== undefined) filter.sizeGreaterThan = gt;
      if (lt !== undefined) filter.sizeLessThan = lt;
      if (gt !== undefined && lt !== undefined && gt >= lt) {
        throw invalid(
          'ObjectSizeGreaterThan must be less than ObjectSizeLessThan',
          'ObjectSizeLessThan',
          String(lt),
        );
      }
      return { filter, form: 'and' };
    }
  }
}

function parseDate(text: string): number {
  const t = text.trim();
  // ISO 8601; S3 wants midnight UTC.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]00:00)?)?$/.test(t)) throw malformed();
  const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : /Z|[+-]00:00$/.test(t) ? t : `${t}Z`);
  if (!Number.isFinite(ms)) throw malformed();
  if (ms % (24 * 3600 * 1000) !== 0) throw invalid("'Date' must be at midnight GMT", 'Date', t);
  return ms;
}

function parseExpiration(el: XmlElement): NonNullable<LifecycleRule['expiration']> {
  expectChildren(el, { Days: 1, Date: 1, ExpiredObjectDeleteMarker: 1 });
  if (el.children.length !== 1) throw malformed();
  const days = positive(leafText(el, 'Days'), 'Expiration', 'Days');
  if (days !== undefined) return { days };
  const date = leafText(el, 'Date');
  if (date !== undefined) return { dateMs: parseDate(date) };
  const marker = leafText(el, 'ExpiredObjectDeleteMarker')!.trim().toLowerCase();
  if (marker !== 'true' && marker !== 'false') throw malformed();
  return { expiredObjectDeleteMarker: marker === 'true' };
}

function parseRule(el: XmlElement): StoredRule {
  expectChildren(el, {
    ID: 1,
    Prefix: 1,
    Filter: 1,
    Status: 1,
    Expiration: 1,
    Transition: 1000,
    NoncurrentVersionTransition: 1000,
    NoncurrentVersionExpiration: 1,
    AbortIncompleteMultipartUpload: 1,
  });
  const id = leafText(el, 'ID') ?? '';
  if ([...id].length > ID_CHARS_MAX)
    throw invalid('ID length should not exceed allowed limit of 255', 'ID', id);
  const status = leafText(el, 'Status')?.trim();
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed();
  const legacy = leafText(el, 'Prefix');
  const filterEl = child(el, 'Filter');
  if ((legacy === undefined) === (filterEl === undefined)) throw malformed();
  const { filter, form } = filterEl
    ? parseFilter(filterEl)
    : { filter: { prefix: parsePrefix(legacy!) }, form: 'legacy-prefix' as const };
  for (const name of ['Transition', 'NoncurrentVersionTransition']) {
    const t = child(el, name);
    if (t) {
      throw new S3Error(
        'InvalidStorageClass',
        `The storage class you specified is not valid: Quire keeps every object in STANDARD, so a ${name} has nowhere to go`,
      );
    }
  }
  // An ID is generated when none is given, as AWS does.
  const rule: StoredRule = {
    id: id || randomBytes(24).toString('base64url'),
    enabled: status === 'Enabled',
    filter,
    filterForm: form,
  };
  const expEl = child(el, 'Expiration');
  if (expEl) {
    rule.expiration = parseExpiration(expEl);
    if (rule.expiration.expiredObjectDeleteMarker !== undefined && filter.tags) {
      throw new S3Error('InvalidRequest', 'ExpiredObjectDeleteMarker cannot be specified with tags.');
    }
  }
  const nveEl = child(el, 'NoncurrentVersionExpiration');
  if (nveEl) {
    expectChildren(nveEl, { NoncurrentDays: 1, NewerNoncurrentVersions: 1 });
    const days = positive(leafText(nveEl, 'NoncurrentDays'), 'NoncurrentVersionExpiration', 'NoncurrentDays');
    if (days === undefined) throw malformed();
    rule.noncurrentExpiration = { noncurrentDays: days };
    const newer = leafText(nveEl, 'NewerNoncurrentVersions');
    if (newer !== undefined) {
      const n = positive(newer, 'NoncurrentVersionExpiration', 'NewerNoncurrentVersions')!;
      if (n > NEWER_NONCURRENT_MAX)
        throw invalid(
          "'NewerNoncurrentVersions' must be between 1 and 100",
          'NewerNoncurrentVersions',
          newer,
        );
      rule.noncurrentExpiration.newerNoncurrentVersions = n;
    }
  }
  const abortEl = child(el, 'AbortIncompleteMultipartUpload');
  if (abortEl) {
    expectChildren(abortEl, { DaysAfterInitiation: 1 });
    const days = positive(
      leafText(abortEl, 'DaysAfterInitiation'),
      'AbortIncompleteMultipartUpload',
      'DaysAfterInitiation',
    );
    if (days === undefined) throw malformed();
    if (filter.tags)
      throw new S3Error('InvalidRequest', 'AbortIncompleteMultipartUpload cannot be specified with Tags.');
    rule.abortIncompleteUploadDays = days;
  }
  if (!rule.expiration && !rule.noncurrentExpiration && rule.abortIncompleteUploadDays === undefined) {
    throw new S3Error('InvalidRequest', 'At least one action needs to be specified in a rule');
  }
  return rule;
}

/** The body of PutBucketLifecycleConfiguration. */
export function parseLifecycleXml(xml: string): StoredRule[] {
  const root = parseDocument(xml, 'LifecycleConfiguration');
  expectChildren(root, { Rule: RULES_MAX });
  if (root.children.length === 0) throw malformed();
  const rules = root.children.map(parseRule);
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id))
      throw invalid('Rule ID must be unique. Found same ID for more than one rule', 'ID', r.id);
    ids.add(r.id);
  }
  return rules;
}

function filterNodes(r: StoredRule): XmlNode[] {
  const f = r.filter;
  if (r.filterForm === 'legacy-prefix') return [['Prefix', f.prefix ?? '']];
  const tag = (t: { key: string; value: string }): XmlNode => [
    'Tag',
    [
      ['Key', t.key],
      ['Value', t.value],
    ],
  ];
  const inner: XmlNode[] = [];
  if (f.prefix !== undefined) inner.push(['Prefix', f.prefix]);
  for (const t of f.tags ?? []) inner.push(tag(t));
  if (f.sizeGreaterThan !== undefined) inner.push(['ObjectSizeGreaterThan', f.sizeGreaterThan]);
  if (f.sizeLessThan !== undefined) inner.push(['ObjectSizeLessThan', f.sizeLessThan]);
  return [['Filter', r.filterForm === 'and' ? [['And', inner]] : inner]];
}

/** GetBucketLifecycleConfiguration's answer, elements in AWS's order. */
export function lifecycleXml(rules: readonly StoredRule[]): string {
  return buildDocument([
    'LifecycleConfiguration',
    rules.map((r): XmlNode => {
      const nodes: XmlNode[] = [];
      const e = r.expiration;
      if (e) {
        const inner: XmlNode[] =
          e.days !== undefined
            ? [['Days', e.days]]
            : e.dateMs !== undefined
              ? [['Date', new Date(e.dateMs).toISOString()]]
              : [['ExpiredObjectDeleteMarker', Boolean(e.expiredObjectDeleteMarker)]];
        nodes.push(['Expiration', inner]);
      }
      nodes.push(['ID', r.id], ...filterNodes(r), ['Status', r.enabled ? 'Enabled' : 'Disabled']);
      const n = r.noncurrentExpiration;
      if (n) {
        const inner: XmlNode[] = [['NoncurrentDays', n.noncurrentDays]];
        if (n.newerNoncurrentVersions !== undefined)
          inner.push(['NewerNoncurrentVersions', n.newerNoncurrentVersions]);
        nodes.push(['NoncurrentVersionExpiration', inner]);
      }
      if (r.abortIncompleteUploadDays !== undefined) {
        nodes.push([
          'AbortIncompleteMultipartUpload',
          [['DaysAfterInitiation', r.abortIncompleteUploadDays]],
        ]);
      }
      return ['Rule', nodes];
    }),
  ]);
}

const tagSchema = z.object({ key: z.string(), value: z.string() });
const storedRuleSchema = z.object({
  id: z.string(),
  enabled: z.boolean(),
  filterForm: z.enum(['legacy-prefix', 'empty', 'prefix', 'tag', 'gt', 'lt', 'and']),
  filter: z.object({
    prefix: z.string().optional(),
    tags: z.array(tagSchema).optional(),
    sizeGreaterThan: z.number().int().nonnegative().optional(),
    sizeLessThan: z.number().int().nonnegative().optional(),
  }),
  expiration: z
    .object({
      days: z.number().int().positive().optional(),
      dateMs: z.number().int().optional(),
      expiredObjectDeleteMarker: z.boolean().optional(),
    })
    .optional(),
  noncurrentExpiration: z
    .object({
      noncurrentDays: z.number().int().positive(),
      newerNoncurrentVersions: z.number().int().positive().optional(),
    })
    .optional(),
  abortIncompleteUploadDays: z.number().int().positive().optional(),
});
/** The catalog's 'lifecycle' setting: this module owns its shape. */
export const lifecycleSchema = z.array(storedRuleSchema).min(1).max(RULES_MAX);

/** The bucket's rules as stored, or undefined when it has none. */
export function readLifecycle(stored: unknown): StoredRule[] | undefined {
  if (stored === undefined) return undefined;
  // GET and HEAD ask on every request: the catalog keeps one value object per setting, checked once.
  const known = checked.get(stored as object);
  if (known) return known;
  const parsed = lifecycleSchema.safeParse(stored);
  // A shape we do not recognise is an internal fault, never a client's.
  if (!parsed.success) throw new Error('bucket lifecycle setting has an unexpected shape');
  const rules = parsed.data as StoredRule[];
  if (typeof stored === 'object' && stored !== null) checked.set(stored, rules);
  return rules;
}
const checked = new WeakMap<object, StoredRule[]>();

/** `x-amz-expiration` for a current object a rule will expire (GET, HEAD, PUT answers). */
export function expirationHeader(
  rules: readonly LifecycleRule[] | undefined,
  o: {
    key: Buffer;
    size: number;
    lastModifiedMs: number;
    tags?: ReadonlyArray<{ key: string; value: string }>;
  },
): Record<string, string> {
  if (!rules) return {};
  const e = currentExpiry(rules, o);
  if (!e) return {};
  // The rule id is the client's text: as a header value it must stay one line of visible characters.
  const ruleId = encodeURIComponent(e.ruleId);
  return { 'x-amz-expiration': `expiry-date="${httpDate(e.atMs)}", rule-id="${ruleId}"` };
}
