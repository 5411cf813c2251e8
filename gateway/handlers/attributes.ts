// GetObjectAttributes: an object's ETag, checksum, parts, storage class and size without its body. Which of
// them come back is named by the required x-amz-object-attributes header; the parts page is chosen by the
// x-amz-part-number-marker and x-amz-max-parts headers (AWS ignores values of those it cannot read).
import type { ObjectRecord } from '../../storage/api.ts';
import { absentObjectError, requireObjectGrant } from '../authz/admission.ts';
import { S3Error } from '../errors.ts';
import { sendXml } from '../http/respond.ts';
import { httpDate } from '../s3/headers.ts';
import { headerValue, type Operation } from '../s3/operation.ts';
import { deleteMarkerError, notFound, requestedVersionId, versionIdHeader } from '../s3/version-id.ts';
import { buildDocument, type XmlNode } from '../s3/xml-codec.ts';
import { checksumNodes } from '../s3/xml-responses.ts';
import { inIncarnation, requireBucket } from './access.ts';
import type { Handler } from './deps.ts';
import { versioningOf } from './versioning.ts';

type Op<K extends Operation['op']> = Extract<Operation, { op: K }>;

export const OBJECT_ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
export type ObjectAttribute = (typeof OBJECT_ATTRIBUTES)[number];

const MAX_PARTS_DEFAULT = 1000;

/** The attributes the header names (comma-separated, possibly repeated); AWS's errors for none or a bad one. */
export function parseObjectAttributes(raw: string | undefined): Set<ObjectAttribute> {
  const names = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) {
    throw new S3Error(
      'InvalidRequest',
      'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty',
    );
  }
  const out = new Set<ObjectAttribute>();
  for (const name of names) {
    if (!(OBJECT_ATTRIBUTES as readonly string[]).includes(name)) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', {
        ArgumentName: 'x-amz-object-attributes',
        ArgumentValue: name.slice(0, 256),
      });
    }
    out.add(name as ObjectAttribute);
  }
  return out;
}

/** A non-negative integer header, or the fallback when absent or unreadable (as AWS treats these two). */
function intHeader(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || !/^\s*\d{1,10}\s*$/.test(raw)) return fallback;
  return Math.min(Number(raw), max);
}

export interface PartsPage {
  marker: number;
  maxParts: number;
}

export function objectAttributesXml(
  record: ObjectRecord,
  wanted: ReadonlySet<ObjectAttribute>,
  page: PartsPage,
): string {
  const nodes: XmlNode[] = [];
  // GetObjectAttributes sends the ETag without quotes.
  if (wanted.has('ETag')) nodes.push(['ETag', record.etag]);
  if (wanted.has('Checksum')) {
    const sums = checksumNodes(record.checksums);
    if (sums.length > 0) {
      nodes.push(['Checksum', [...sums, ['ChecksumType', record.checksumType ?? 'FULL_OBJECT']]]);
    }
  }
  if (wanted.has('ObjectParts') && record.parts) {
    const after = record.parts.filter((p) => p.partNumber > page.marker);
    const shown = after.slice(0, page.maxParts);
    const truncated = after.length > shown.length;
    const parts: XmlNode[] = [
      ['IsTruncated', truncated],
      ['MaxParts', page.maxParts],
    ];
    if (truncated && shown.length > 0)
      parts.push(['NextPartNumberMarker', shown[shown.length - 1]!.partNumber]);
    parts.push(['PartNumberMarker', page.marker]);
    for (const p of shown) {
      parts.push([
        'Part',
        [
          ['PartNumber', p.partNumber],
          ['Size', p.size],
        ],
      ]);
    }
    parts.push(['PartsCount', record.parts.length]);
    nodes.push(['ObjectParts', parts]);
  }
  if (wanted.has('StorageClass')) nodes.push(['StorageClass', 'STANDARD']);
  if (wanted.has('ObjectSize')) nodes.push(['ObjectSize', record.size]);
  return buildDocument(['GetObjectAttributesOutput', nodes]);
}

export const getObjectAttributes: Handler<Op<'GetObjectAttributes'>> = async ({
  deps,
  ex,
  verified,
  target,
  op,
}) => {
  const bucket = requireBucket(deps, op.bucket, verified);
  const versionId = requestedVersionId(target.query);
  const h = ex.req.headers;
  const wanted = parseObjectAttributes(headerValue(h, 'x-amz-object-attributes'));
  const page = {
    marker: intHeader(headerValue(h, 'x-amz-part-number-marker'), 0, 10000),
    maxParts: intHeader(headerValue(h, 'x-amz-max-parts'), MAX_PARTS_DEFAULT, MAX_PARTS_DEFAULT),
  };
  const record = await inIncarnation(deps, bucket, { writes: false }, () =>
    deps.storage.headObject(
      bucket.id,
      Buffer.from(op.key, 'utf8'),
      versionId === undefined ? {} : { versionId },
    ),
  );
  const admitted = verified.access.target;
  if (!record) throw absentObjectError(deps, admitted, notFound(op.key, versionId));
  requireObjectGrant(deps, admitted, undefined);
  if (record.deleteMarker) throw deleteMarkerError(op.key, record, versionId !== undefined, 'GET');
  sendXml(ex, 200, objectAttributesXml(record, wanted, page), {
    'last-modified': httpDate(record.lastModifiedMs),
    ...versionIdHeader(versioningOf(deps, bucket), record),
  });
};
