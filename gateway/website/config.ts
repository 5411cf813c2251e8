// The bucket's website configuration (catalog kind 'website'): parsed from PutBucketWebsite's XML with AWS's
// errors, kept in the catalog in the zod-checked shape below, and written back as GetBucketWebsite's XML.
import { z } from 'zod';
import { S3Error } from '../errors.ts';
import {
  buildDocument,
  expectChildren,
  leafText,
  parseDocument,
  type XmlElement,
  type XmlNode,
} from '../s3/xml-codec.ts';

const protocol = z.enum(['http', 'https']);

const redirectSchema = z.object({
  protocol: protocol.optional(),
  hostName: z.string().optional(),
  replaceKeyPrefixWith: z.string().optional(),
  replaceKeyWith: z.string().optional(),
  httpRedirectCode: z.number().int().min(301).max(399).optional(),
});

const routingRuleSchema = z.object({
  condition: z
    .object({
      keyPrefixEquals: z.string().optional(),
      httpErrorCodeReturnedEquals: z.number().int().min(400).max(599).optional(),
    })
    .optional(),
  redirect: redirectSchema,
});

export const websiteConfigSchema = z.union([
  z.object({ redirectAll: z.object({ hostName: z.string().min(1), protocol: protocol.optional() }) }),
  z.object({
    indexSuffix: z.string().min(1),
    errorKey: z.string().min(1).optional(),
    routingRules: z.array(routingRuleSchema).max(50),
  }),
]);

export type WebsiteConfig = z.infer<typeof websiteConfigSchema>;
export type RoutingRule = z.infer<typeof routingRuleSchema>;
export type WebsiteRedirect = z.infer<typeof redirectSchema>;

export const MAX_ROUTING_RULES = 50;

const malformed = () => new S3Error('MalformedXML');
const invalidRequest = (message: string) => new S3Error('InvalidRequest', message);
const BAD_PROTOCOL =
  'Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.';

function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

function parseProtocol(el: XmlElement): 'http' | 'https' | undefined {
  const text = leafText(el, 'Protocol');
  if (text === undefined) return undefined;
  if (text !== 'http' && text !== 'https') throw invalidRequest(BAD_PROTOCOL);
  return text;
}

function parseCode(text: string): number {
  if (!/^\s*\d{1,3}\s*$/.test(text)) throw malformed();
  return Number(text.trim());
}

/** Parses and validates a PutBucketWebsite body; every refusal is the error AWS gives for it. */
export function parseWebsiteConfiguration(xml: string): WebsiteConfig {
  const root = parseDocument(xml, 'WebsiteConfiguration');
  expectChildren(root, { IndexDocument: 1, ErrorDocument: 1, RedirectAllRequestsTo: 1, RoutingRules: 1 });
  const redirectAll = child(root, 'RedirectAllRequestsTo');
  if (redirectAll !== undefined) {
    if (root.children.length > 1) {
      throw new S3Error(
        'InvalidArgument',
        'RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.',
        { ArgumentName: 'RedirectAllRequestsTo', ArgumentValue: 'not null' },
      );
    }
    expectChildren(redirectAll, { HostName: 1, Protocol: 1 });
    const hostName = leafText(redirectAll, 'HostName');
    if (hostName === undefined) throw malformed();
    if (hostName.trim() === '') {
      throw invalidRequest('A host name must be provided to redirect all requests (e.g. "example.com").');
    }
    const proto = parseProtocol(redirectAll);
    return { redirectAll: { hostName: hostName.trim(), ...(proto ? { protocol: proto } : {}) } };
  }
  const index = child(root, 'IndexDocument');
  if (index === undefined) {
    throw new S3Error(
      'InvalidArgument',
      'A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty',
      { ArgumentName: 'IndexDocument', ArgumentValue: 'null' },
    );
  }
  expectChildren(index, { Suffix: 1 });
  const suffix = leafText(index, 'Suffix');
  if (suffix === undefined) throw malformed();
  if (suffix === '' || suffix.includes('/')) {
    throw new S3Error('InvalidArgument', 'The IndexDocument Suffix is not well formed', {
      ArgumentName: 'IndexDocument',
      ArgumentValue: suffix,
    });
  }
  const config: WebsiteConfig = { indexSuffix: suffix, routingRules: [] };
  const error = child(root, 'ErrorDocument');
  if (error !== undefined) {
    expectChildren(error, { Key: 1 });
    const key = leafText(error, 'Key');
    if (key === undefined) throw malformed();
    if (key === '') {
      throw new S3Error('InvalidArgument', 'The ErrorDocument Key is not well formed', {
        ArgumentName: 'ErrorDocument',
        ArgumentValue: key,
      });
    }
    config.errorKey = key;
  }
  const rules = child(root, 'RoutingRules');
  if (rules !== undefined) {
    expectChildren(rules, { RoutingRule: Number.POSITIVE_INFINITY });
    if (rules.children.length === 0) throw malformed();
    if (rules.children.length > MAX_ROUTING_RULES) {
      throw invalidRequest(
        `The number of routing rules must not exceed the allowed limit of ${MAX_ROUTING_RULES} rules.`,
      );
    }
    config.routingRules = rules.children.map(parseRoutingRule);
  }
  return websiteConfigSchema.parse(config);
}

function parseRoutingRule(el: XmlElement): RoutingRule {
  expectChildren(el, { Condition: 1, Redirect: 1 });
  const redirectEl = child(el, 'Redirect');
  if (redirectEl === undefined) throw malformed();
  const rule: RoutingRule = { redirect: parseRedirect(redirectEl) };
  const conditionEl = child(el, 'Condition');
  if (conditionEl !== undefined) {
    expectChildren(conditionEl, { KeyPrefixEquals: 1, HttpErrorCodeReturnedEquals: 1 });
    const prefix = leafText(conditionEl, 'KeyPrefixEquals');
    const codeText = leafText(conditionEl, 'HttpErrorCodeReturnedEquals');
    if (prefix === undefined && codeText === undefined) {
      throw invalidRequest(
        "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
      );
    }
    const condition: NonNullable<RoutingRule['condition']> = {};
    if (prefix !== undefined) condition.keyPrefixEquals = prefix;
    if (codeText !== undefined) {
      const code = parseCode(codeText);
      if (code < 400 || code > 599) {
        throw invalidRequest(
          `The provided HTTP error code (${code}) is not valid. Valid codes are 4XX or 5XX.`,
        );
      }
      condition.httpErrorCodeReturnedEquals = code;
    }
    rule.condition = condition;
  }
  return rule;
}

function parseRedirect(el: XmlElement): WebsiteRedirect {
  expectChildren(el, {
    Protocol: 1,
    HostName: 1,
    ReplaceKeyPrefixWith: 1,
    ReplaceKeyWith: 1,
    HttpRedirectCode: 1,
  });
  if (el.children.length === 0) {
    throw invalidRequest('Redirect cannot be empty. Please provide at least one of the redirect elements.');
  }
  const redirect: WebsiteRedirect = {};
  const proto = parseProtocol(el);
  if (proto !== undefined) redirect.protocol = proto;
  const hostName = leafText(el, 'HostName');
  if (hostName !== undefined) redirect.hostName = hostName.trim();
  const prefix = leafText(el, 'ReplaceKeyPrefixWith');
  const key = leafText(el, 'ReplaceKeyWith');
  if (prefix !== undefined && key !== undefined) {
    throw invalidRequest('You can only define ReplaceKeyPrefix or ReplaceKey but not both.');
  }
  if (prefix !== undefined) redirect.replaceKeyPrefixWith = prefix;
  if (key !== undefined) redirect.replaceKeyWith = key;
  const codeText = leafText(el, 'HttpRedirectCode');
  if (codeText !== undefined) {
    const code = parseCode(codeText);
    if (code < 301 || code > 399) {
      throw invalidRequest(
        `The provided HTTP redirect code (${code}) is not valid. Valid codes are 3XX except 300.`,
      );
    }
    redirect.httpRedirectCode = code;
  }
  return redirect;
}

/** The stored configuration, or undefined when there is none (or it does not have our shape). */
export function readWebsiteConfig(value: unknown): WebsiteConfig | undefined {
  if (value === undefined) return undefined;
  const parsed = websiteConfigSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** GetBucketWebsite's answer. */
export function websiteConfigurationXml(config: WebsiteConfig): string {
  if ('redirectAll' in config) {
    const r = config.redirectAll;
    const nodes: XmlNode[] = [['HostName', r.hostName]];
    if (r.protocol !== undefined) nodes.push(['Protocol', r.protocol]);
    return buildDocument(['WebsiteConfiguration', [['RedirectAllRequestsTo', nodes]]]);
  }
  const nodes: XmlNode[] = [['IndexDocument', [['Suffix', config.indexSuffix]]]];
  if (config.errorKey !== undefined) nodes.push(['ErrorDocument', [['Key', config.errorKey]]]);
  if (config.routingRules.length > 0) {
    nodes.push(['RoutingRules', config.routingRules.map((r): XmlNode => ['RoutingRule', ruleNodes(r)])]);
  }
  return buildDocument(['WebsiteConfiguration', nodes]);
}

function ruleNodes(rule: RoutingRule): XmlNode[] {
  const out: XmlNode[] = [];
  const c = rule.condition;
  if (c !== undefined) {
    const cond: XmlNode[] = [];
    if (c.httpErrorCodeReturnedEquals !== undefined) {
      cond.push(['HttpErrorCodeReturnedEquals', String(c.httpErrorCodeReturnedEquals)]);
    }
    if (c.keyPrefixEquals !== undefined) cond.push(['KeyPrefixEquals', c.keyPrefixEquals]);
    out.push(['Condition', cond]);
  }
  const r = rule.redirect;
  const red: XmlNode[] = [];
  if (r.hostName !== undefined) red.push(['HostName', r.hostName]);
  if (r.httpRedirectCode !== undefined) red.push(['HttpRedirectCode', String(r.httpRedirectCode)]);
  if (r.protocol !== undefined) red.push(['Protocol', r.protocol]);
  if (r.replaceKeyPrefixWith !== undefined) red.push(['ReplaceKeyPrefixWith', r.replaceKeyPrefixWith]);
  if (r.replaceKeyWith !== undefined) red.push(['ReplaceKeyWith', r.replaceKeyWith]);
  out.push(['Redirect', red]);
  return out;
}
