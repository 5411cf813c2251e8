// The bucket's CORS configuration (catalog kind 'cors'): parsed from PutBucketCors's XML with AWS's errors,
// kept in the zod-checked shape below, written back as GetBucketCors's XML.
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

export const CORS_METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'DELETE'] as const;
export type CorsMethod = (typeof CORS_METHODS)[number];
/** AWS's limit on rules per configuration. */
export const MAX_CORS_RULES = 100;

const corsRuleSchema = z.object({
  id: z.string().max(255).optional(),
  allowedOrigins: z.array(z.string()).min(1),
  allowedMethods: z.array(z.enum(CORS_METHODS)).min(1),
  allowedHeaders: z.array(z.string()),
  exposeHeaders: z.array(z.string()),
  maxAgeSeconds: z.number().int().optional(),
});

export const corsConfigSchema = z.object({ rules: z.array(corsRuleSchema).min(1).max(MAX_CORS_RULES) });

export type CorsConfig = z.infer<typeof corsConfigSchema>;
export type CorsRule = z.infer<typeof corsRuleSchema>;

const malformed = () => new S3Error('MalformedXML');

function texts(el: XmlElement, name: string): string[] {
  return el.children
    .filter((c) => c.name === name)
    .map((c) => {
      if (c.children.length > 0) throw malformed();
      return c.text.trim();
    });
}

function oneWildcard(kind: 'AllowedOrigin' | 'AllowedHeader', value: string): string {
  if (value.indexOf('*') !== value.lastIndexOf('*')) {
    throw new S3Error('InvalidRequest', `${kind} "${value}" can not have more than one wildcard.`);
  }
  return value;
}

function parseRule(el: XmlElement): CorsRule {
  const many = Number.POSITIVE_INFINITY;
  expectChildren(el, {
    ID: 1,
    AllowedMethod: many,
    AllowedOrigin: many,
    AllowedHeader: many,
    ExposeHeader: many,
    MaxAgeSeconds: 1,
  });
  const methods = texts(el, 'AllowedMethod');
  const origins = texts(el, 'AllowedOrigin');
  if (methods.length === 0 || origins.length === 0) throw malformed();
  for (const m of methods) {
    if (!(CORS_METHODS as readonly string[]).includes(m)) {
      throw new S3Error(
        'InvalidRequest',
        `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`,
      );
    }
  }
  const rule: CorsRule = {
    allowedOrigins: origins.map((o) => oneWildcard('AllowedOrigin', o)),
    allowedMethods: methods as CorsMethod[],
    allowedHeaders: texts(el, 'AllowedHeader').map((h) => oneWildcard('AllowedHeader', h)),
    exposeHeaders: texts(el, 'ExposeHeader'),
  };
  const id = leafText(el, 'ID');
  if (id !== undefined) {
    if (id.length > 255)
      throw new S3Error('InvalidRequest', 'The ID of a CORS rule is limited to 255 characters.');
    rule.id = id;
  }
  const maxAge = leafText(el, 'MaxAgeSeconds');
  if (maxAge !== undefined) {
    if (!/^\s*-?\d{1,10}\s*$/.test(maxAge)) throw malformed();
    rule.maxAgeSeconds = Number(maxAge.trim());
  }
  return rule;
}

/** Parses and validates a PutBucketCors body. */
export function parseCorsConfiguration(xml: string): CorsConfig {
  const root = parseDocument(xml, 'CORSConfiguration');
  expectChildren(root, { CORSRule: Number.POSITIVE_INFINITY });
  if (root.children.length === 0 || root.children.length > MAX_CORS_RULES) throw malformed();
  return corsConfigSchema.parse({ rules: root.children.map(parseRule) });
}

/** The stored configuration, or undefined when there is none (or it does not have our shape). */
export function readCorsConfig(value: unknown): CorsConfig | undefined {
  if (value === undefined) return undefined;
  const parsed = corsConfigSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** GetBucketCors's answer. */
export function corsConfigurationXml(config: CorsConfig): string {
  const rules = config.rules.map((r): XmlNode => {
    const nodes: XmlNode[] = [];
    if (r.id !== undefined) nodes.push(['ID', r.id]);
    for (const h of r.allowedHeaders) nodes.push(['AllowedHeader', h]);
    for (const m of r.allowedMethods) nodes.push(['AllowedMethod', m]);
    for (const o of r.allowedOrigins) nodes.push(['AllowedOrigin', o]);
    for (const h of r.exposeHeaders) nodes.push(['ExposeHeader', h]);
    if (r.maxAgeSeconds !== undefined) nodes.push(['MaxAgeSeconds', String(r.maxAgeSeconds)]);
    return ['CORSRule', nodes];
  });
  return buildDocument(['CORSConfiguration', rules]);
}
