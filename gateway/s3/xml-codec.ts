// S3 XML in one place: the one fast-xml-parser configuration for request bodies, and the serialiser of our
// typed element trees for responses.
// We escape text ourselves (the builder passes it through) so that what reaches the client is exact:
// `&`, `<`, `>`, `"` as entities; CR as `&#13;` (AWS documents this, XML would turn a raw CR into LF);
// characters XML 1.0 cannot carry as numeric references (see escapeText).

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from '../errors.ts';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** An element to build: text (already a string, number or boolean) or child elements, in order. */
export type XmlNode = readonly [name: string, content: string | number | boolean | readonly XmlNode[]];

const parser = new XMLParser({
  preserveOrder: true,
  processEntities: false,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreAttributes: false,
  ignoreDeclaration: true,
  cdataPropName: '#cdata',
  commentPropName: '#comment',
  maxNestedTags: 16,
});

/**
 * Text content escaped for S3 XML. Characters XML 1.0 forbids (C0 controls other than TAB/LF/CR,
 * U+FFFE, U+FFFF) become numeric references: the key survives for lenient parsers, and a client that
 * needs strict XML 1.0 asks for `encoding-type=url`, which AWS itself recommends for such keys.
 */
const NEEDS_ESCAPE = /[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

export function escapeText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return `&#${c === '\r' ? '13' : `x${c.charCodeAt(0).toString(16).toUpperCase()}`};`;
    }
  });
}

/**
 * Serialises our element tree directly. Responses are written here, not by fast-xml-parser's builder: the
 * tree is already escaped and ordered, and a 1,000-key listing is built ~10x faster as plain string joins
 * (the list path's largest cost otherwise). fast-xml-parser still parses every request body.
 */
function serialise(node: XmlNode, out: string[]): void {
  const [name, content] = node;
  if (Array.isArray(content)) {
    out.push(`<${name}>`);
    for (const child of content as readonly XmlNode[]) serialise(child, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeText(String(content))}</${name}>`);
}

/** A full S3 XML document; `xmlns` goes on the root as AWS puts it (not on Error). */
export function buildDocument(root: XmlNode, opts: { xmlns?: boolean } = { xmlns: true }): string {
  const [name, content] = root;
  const open = opts.xmlns !== false ? `<${name} xmlns="${S3_XMLNS}">` : `<${name}>`;
  const out: string[] = [DECLARATION, open];
  if (Array.isArray(content)) for (const child of content as readonly XmlNode[]) serialise(child, out);
  else out.push(escapeText(String(content)));
  out.push(`</${name}>`);
  return out.join('');
}

/** A parsed element: its name, child elements in order, and its decoded character data. */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// Chars XML 1.0 allows (its `Char` production); anything else, even as a reference, is malformed.
const XML_CHAR = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;

function malformed(): S3Error {
  return new S3Error('MalformedXML');
}

/** Decodes the five predefined entities and numeric references; anything else is MalformedXML. */
function decodeEntities(raw: string): string {
  return raw.replace(/&([^;&]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(';')) throw malformed();
    if (body in ENTITIES) return ENTITIES[body]!;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(body);
    if (!m) throw malformed();
    const cp = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
    if (cp > 0x10ffff) throw malformed();
    const ch = String.fromCodePoint(cp);
    if (!XML_CHAR.test(ch)) throw malformed();
    return ch;
  });
}

type Parsed = Record<string, unknown>;

// XML end-of-line handling: a literal CR or CRLF reads as LF; only `&#13;` yields a CR.
const normalizeNewlines = (raw: string) => raw.replace(/\r\n?/g, '\n');

function toElement(node: Parsed): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (name === undefined || name === '#comment') return undefined;
  const el: XmlElement = { name, children: [], text: '' };
  for (const child of (node[name] as Parsed[]) ?? []) {
    if ('#text' in child) el.text += decodeEntities(normalizeNewlines(String(child['#text'])));
    else if ('#cdata' in child) {
      el.text += normalizeNewlines(
        ((child['#cdata'] as Parsed[]) ?? []).map((t) => String(t['#text'])).join(''),
      );
    } else {
      const sub = toElement(child);
      if (sub !== undefined) el.children.push(sub);
    }
  }
  return el;
}

/**
 * Parses a request body strictly: well-formed, no DOCTYPE (no entity games), one root of the expected
 * name with S3's namespace or none, no characters XML 1.0 forbids. Every failure is MalformedXML.
 */
export function parseDocument(xml: string, rootName: string): XmlElement {
  if (!XML_CHAR.test(xml) || /<!DOCTYPE/i.test(xml) || XMLValidator.validate(xml) !== true) throw malformed();
  let tree: Parsed[];
  try {
    tree = parser.parse(xml) as Parsed[];
  } catch {
    throw malformed();
  }
  const roots: XmlElement[] = [];
  for (const node of tree) {
    if ('#text' in node) {
      if (String(node['#text']).trim() !== '') throw malformed();
      continue;
    }
    const el = toElement(node);
    if (el === undefined) continue;
    const attrs = (node[':@'] ?? {}) as Record<string, string>;
    const ns = attrs['@_xmlns'];
    if (ns !== undefined && ns !== S3_XMLNS) throw malformed();
    roots.push(el);
  }
  if (roots.length !== 1 || roots[0]!.name !== rootName) throw malformed();
  return roots[0]!;
}

/** Checks that an element holds only the named children (each at most `max` times) and no stray text. */
export function expectChildren(el: XmlElement, allowed: Record<string, number>): void {
  if (el.children.length > 0 && el.text.trim() !== '') throw malformed();
  const seen = new Map<string, number>();
  for (const child of el.children) {
    const max = allowed[child.name];
    const n = (seen.get(child.name) ?? 0) + 1;
    if (max === undefined || n > max) throw malformed();
    seen.set(child.name, n);
  }
}

/** The text of a leaf child, or undefined if absent; a child with children of its own is malformed. */
export function leafText(el: XmlElement, name: string): string | undefined {
  const child = el.children.find((c) => c.name === name);
  if (child === undefined) return undefined;
  if (child.children.length > 0) throw malformed();
  return child.text;
}
