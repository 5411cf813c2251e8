// S3 XML: every builder and parser the gateway uses, over one fast-xml-parser configuration
// (xml-codec.ts). Builders return the whole document, declaration included.

export { buildDocument, escapeText, S3_XMLNS } from './xml-codec.ts';
export * from './xml-list.ts';
export * from './xml-lock.ts';
export * from './xml-requests.ts';
export * from './xml-responses.ts';
