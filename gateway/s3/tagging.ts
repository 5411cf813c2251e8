// Object and bucket tags: the one place that parses (Tagging XML, the x-amz-tagging header), validates (AWS's
// limits and errors) and serialises them. AWS checks each tag in order and counts them last, so a bad tag among
// too many is reported as the bad tag.
import { z } from 'zod';
import { S3Error } from '../errors.ts';
import {
  buildDocument,
  expectChildren,
  leafText,
  parseDocument,
  type XmlElement,
  type XmlNode,
} from './xml-codec.ts';

export interface Tag {
  key: string;
  value: string;
}

export type TagTarget = 'object' | 'bucket';

export const OBJECT_TAGS_MAX = 10;
export const BUCKET_TAGS_MAX = 50;
export const TAG_KEY_CHARS_MAX = 128;
export const TAG_VALUE_CHARS_MAX = 256;

// AWS: letters, numbers and spaces representable in UTF-8, and + - = . _ : / @.
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Unicode characters (code points), as AWS counts a tag's length. */
const chars = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Checks tags against AWS's rules; returns them unchanged. */
export function validateTags(tags: readonly Tag[], target: TagTarget): Tag[] {
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (key === '' || chars(key) > TAG_KEY_CHARS_MAX || !TAG_CHARS.test(key))
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (chars(value) > TAG_VALUE_CHARS_MAX || !TAG_CHARS.test(value))
      throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (key.toLowerCase().startsWith('aws:'))
      throw new S3Error('InvalidTag', 'System tags cannot be added/updated by requester');
    if (seen.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(key);
  }
  const max = target === 'object' ? OBJECT_TAGS_MAX : BUCKET_TAGS_MAX;
  if (tags.length > max) {
    throw new S3Error(
      'BadRequest',
      `${target === 'object' ? 'Object' : 'Bucket'} tags cannot be greater than ${max}`,
    );
  }
  return [...tags];
}

/** Tag elements (Key, Value) of a TagSet, in order; shared with lifecycle filters. */
export function parseTagElement(el: XmlElement): Tag {
  expectChildren(el, { Key: 1, Value: 1 });
  const key = leafText(el, 'Key');
  const value = leafText(el, 'Value');
  if (key === undefined || value === undefined) throw new S3Error('MalformedXML');
  return { key, value };
}

/** The body of PutObjectTagging / PutBucketTagging: `<Tagging><TagSet><Tag>...`. */
export function parseTaggingXml(xml: string, target: TagTarget): Tag[] {
  const root = parseDocument(xml, 'Tagging');
  expectChildren(root, { TagSet: 1 });
  const set = root.children[0];
  if (set === undefined) throw new S3Error('MalformedXML');
  expectChildren(set, { Tag: Number.MAX_SAFE_INTEGER });
  return validateTags(set.children.map(parseTagElement), target);
}

/**
 * `x-amz-tagging` on PUT, copy and multipart create: URL-encoded query parameters (`k1=v1&k2=v2`). A key
 * given twice is InvalidArgument here, as AWS answers for this header.
 */
export function parseTaggingHeader(raw: string): Tag[] {
  const tags: Tag[] = [];
  const keys = new Set<string>();
  if (raw === '') return tags;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1));
    if (keys.has(key)) {
      throw new S3Error(
        'InvalidArgument',
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
        { ArgumentName: 'x-amz-tagging', ArgumentValue: raw.slice(0, 256) },
      );
    }
    keys.add(key);
    tags.push({ key, value });
  }
  return validateTags(tags, 'object');
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new S3Error('InvalidArgument', "The header 'x-amz-tagging' is not valid URL encoding.", {
      ArgumentName: 'x-amz-tagging',
    });
  }
}

type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The tags a PUT or CreateMultipartUpload asks for with `x-amz-tagging`, or undefined without one. */
export function requestTags(h: Headers): Tag[] | undefined {
  const raw = header(h, 'x-amz-tagging');
  return raw === undefined ? undefined : parseTaggingHeader(raw);
}

/**
 * CopyObject's tags: `x-amz-tagging-directive` COPY (the default) keeps the source's, so undefined; REPLACE
 * takes `x-amz-tagging` (none: no tags).
 */
export function copyTags(h: Headers): Tag[] | undefined {
  const directive = (header(h, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown tagging directive.', {
      ArgumentName: 'x-amz-tagging-directive',
      ArgumentValue: directive.slice(0, 256),
    });
  }
  if (directive === 'COPY') return undefined;
  return requestTags(h) ?? [];
}

/** `x-amz-tagging-count` on GET and HEAD answers, when the version has tags. */
export function taggingCountHeader(tags: readonly Tag[] | undefined): Record<string, string> {
  return tags?.length ? { 'x-amz-tagging-count': String(tags.length) } : {};
}

/** GetObjectTagging / GetBucketTagging answer. */
export function taggingXml(tags: readonly Tag[]): string {
  const set: XmlNode[] = tags.map((t) => [
    'Tag',
    [
      ['Key', t.key],
      ['Value', t.value],
    ],
  ]);
  return buildDocument(['Tagging', [['TagSet', set]]]);
}

/** The catalog's 'tagging' setting of a bucket (stored opaquely; this module owns its shape). */
export const bucketTagsSchema = z
  .array(z.object({ key: z.string(), value: z.string() }))
  .max(BUCKET_TAGS_MAX);

/** The bucket's tags as stored, or undefined when none are set. */
export function readBucketTags(stored: unknown): Tag[] | undefined {
  if (stored === undefined) return undefined;
  const parsed = bucketTagsSchema.safeParse(stored);
  // A shape we do not recognise is an internal fault, never a client's.
  if (!parsed.success) throw new Error('bucket tagging setting has an unexpected shape');
  return parsed.data;
}
