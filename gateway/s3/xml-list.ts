// ListBucketResult (v2 and v1), ListPartsResult and ListMultipartUploadsResult. With
// `encoding-type=url`, AWS URL-encodes Key, Prefix (also inside CommonPrefixes), Delimiter, StartAfter,
// Marker/NextMarker and KeyMarker/NextKeyMarker; tokens and upload ids are never encoded.

import type { ChecksumAlgorithm, Checksums } from '../../storage/api.ts';
import { s3UrlEncode } from './percent.ts';
import { buildDocument, type XmlNode } from './xml-codec.ts';
import { checksumNodes, isoDate, type Owner, ownerNodes, quoteEtag } from './xml-responses.ts';

/** Keys reach the builders as the index's bytes or as strings; both are UTF-8. */
export type KeyBytes = string | Buffer;

function keyValue(key: KeyBytes, encodingType: 'url' | undefined): string {
  if (encodingType === 'url') return s3UrlEncode(key);
  return typeof key === 'string' ? key : key.toString('utf8');
}

export interface ListedContent {
  key: KeyBytes;
  lastModified: Date;
  etag: string;
  size: number;
  storageClass?: string;
  owner?: Owner;
  checksumAlgorithm?: ChecksumAlgorithm;
}

function contentsNode(c: ListedContent, enc: 'url' | undefined): XmlNode {
  const nodes: XmlNode[] = [
    ['Key', keyValue(c.key, enc)],
    ['LastModified', isoDate(c.lastModified)],
    ['ETag', quoteEtag(c.etag)],
  ];
  if (c.checksumAlgorithm !== undefined) nodes.push(['ChecksumAlgorithm', c.checksumAlgorithm]);
  nodes.push(['Size', c.size], ['StorageClass', c.storageClass ?? 'STANDARD']);
  if (c.owner !== undefined) nodes.push(['Owner', ownerNodes(c.owner)]);
  return ['Contents', nodes];
}

function commonPrefixNodes(prefixes: readonly KeyBytes[], enc: 'url' | undefined): XmlNode[] {
  return prefixes.map((p) => ['CommonPrefixes', [['Prefix', keyValue(p, enc)]]]);
}

interface ListCommon {
  bucket: string;
  prefix: KeyBytes;
  delimiter?: KeyBytes;
  maxKeys: number;
  encodingType?: 'url';
  isTruncated: boolean;
  contents: readonly ListedContent[];
  commonPrefixes: readonly KeyBytes[];
}

export interface ListV2Input extends ListCommon {
  continuationToken?: string;
  nextContinuationToken?: string;
  startAfter?: KeyBytes;
}

export function listObjectsV2Xml(r: ListV2Input): string {
  const enc = r.encodingType;
  const nodes: XmlNode[] = [
    ['Name', r.bucket],
    ['Prefix', keyValue(r.prefix, enc)],
  ];
  if (r.startAfter !== undefined) nodes.push(['StartAfter', keyValue(r.startAfter, enc)]);
  if (r.continuationToken !== undefined) nodes.push(['ContinuationToken', r.continuationToken]);
  if (r.nextContinuationToken !== undefined) nodes.push(['NextContinuationToken', r.nextContinuationToken]);
  nodes.push(['KeyCount', r.contents.length + r.commonPrefixes.length], ['MaxKeys', r.maxKeys]);
  if (r.delimiter !== undefined) nodes.push(['Delimiter', keyValue(r.delimiter, enc)]);
  if (enc !== undefined) nodes.push(['EncodingType', enc]);
  nodes.push(['IsTruncated', r.isTruncated]);
  nodes.push(...r.contents.map((c) => contentsNode(c, enc)), ...commonPrefixNodes(r.commonPrefixes, enc));
  return buildDocument(['ListBucketResult', nodes]);
}

export interface ListV1Input extends ListCommon {
  marker: KeyBytes;
  /** AWS sends NextMarker only when a delimiter was given. */
  nextMarker?: KeyBytes;
}

export function listObjectsV1Xml(r: ListV1Input): string {
  const enc = r.encodingType;
  const nodes: XmlNode[] = [
    ['Name', r.bucket],
    ['Prefix', keyValue(r.prefix, enc)],
    ['Marker', keyValue(r.marker, enc)],
  ];
  if (r.nextMarker !== undefined) nodes.push(['NextMarker', keyValue(r.nextMarker, enc)]);
  nodes.push(['MaxKeys', r.maxKeys]);
  if (r.delimiter !== undefined) nodes.push(['Delimiter', keyValue(r.delimiter, enc)]);
  if (enc !== undefined) nodes.push(['EncodingType', enc]);
  nodes.push(['IsTruncated', r.isTruncated]);
  nodes.push(...r.contents.map((c) => contentsNode(c, enc)), ...commonPrefixNodes(r.commonPrefixes, enc));
  return buildDocument(['ListBucketResult', nodes]);
}

export interface ListPartsInput {
  bucket: string;
  key: string;
  uploadId: string;
  partNumberMarker: number;
  nextPartNumberMarker?: number;
  maxParts: number;
  isTruncated: boolean;
  initiator: Owner;
  owner: Owner;
  storageClass?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  parts: ReadonlyArray<{
    partNumber: number;
    lastModified: Date;
    etag: string;
    size: number;
    checksums?: Checksums;
  }>;
}

export function listPartsResultXml(r: ListPartsInput): string {
  const nodes: XmlNode[] = [
    ['Bucket', r.bucket],
    ['Key', r.key],
    ['UploadId', r.uploadId],
    ['Initiator', ownerNodes(r.initiator)],
    ['Owner', ownerNodes(r.owner)],
    ['StorageClass', r.storageClass ?? 'STANDARD'],
  ];
  if (r.checksumAlgorithm !== undefined) nodes.push(['ChecksumAlgorithm', r.checksumAlgorithm]);
  nodes.push(['PartNumberMarker', r.partNumberMarker]);
  if (r.nextPartNumberMarker !== undefined) nodes.push(['NextPartNumberMarker', r.nextPartNumberMarker]);
  nodes.push(['MaxParts', r.maxParts], ['IsTruncated', r.isTruncated]);
  for (const p of r.parts) {
    nodes.push([
      'Part',
      [
        ['PartNumber', p.partNumber],
        ['LastModified', isoDate(p.lastModified)],
        ['ETag', quoteEtag(p.etag)],
        ['Size', p.size],
        ...checksumNodes(p.checksums),
      ],
    ]);
  }
  return buildDocument(['ListPartsResult', nodes]);
}

export interface ListUploadsInput {
  bucket: string;
  keyMarker: KeyBytes;
  uploadIdMarker: string;
  nextKeyMarker?: KeyBytes;
  nextUploadIdMarker?: string;
  prefix?: KeyBytes;
  delimiter?: KeyBytes;
  maxUploads: number;
  encodingType?: 'url';
  isTruncated: boolean;
  uploads: ReadonlyArray<{
    key: KeyBytes;
    uploadId: string;
    initiated: Date;
    initiator: Owner;
    owner: Owner;
    storageClass?: string;
    checksumAlgorithm?: ChecksumAlgorithm;
  }>;
  commonPrefixes: readonly KeyBytes[];
}

export function listMultipartUploadsResultXml(r: ListUploadsInput): string {
  const enc = r.encodingType;
  const nodes: XmlNode[] = [
    ['Bucket', r.bucket],
    ['KeyMarker', keyValue(r.keyMarker, enc)],
    ['UploadIdMarker', r.uploadIdMarker],
  ];
  if (r.nextKeyMarker !== undefined) nodes.push(['NextKeyMarker', keyValue(r.nextKeyMarker, enc)]);
  if (r.nextUploadIdMarker !== undefined) nodes.push(['NextUploadIdMarker', r.nextUploadIdMarker]);
  if (r.delimiter !== undefined) nodes.push(['Delimiter', keyValue(r.delimiter, enc)]);
  if (r.prefix !== undefined && r.prefix.length > 0) nodes.push(['Prefix', keyValue(r.prefix, enc)]);
  if (enc !== undefined) nodes.push(['EncodingType', enc]);
  nodes.push(['MaxUploads', r.maxUploads], ['IsTruncated', r.isTruncated]);
  for (const u of r.uploads) {
    const inner: XmlNode[] = [
      ['Key', keyValue(u.key, enc)],
      ['UploadId', u.uploadId],
      ['Initiator', ownerNodes(u.initiator)],
      ['Owner', ownerNodes(u.owner)],
      ['StorageClass', u.storageClass ?? 'STANDARD'],
      ['Initiated', isoDate(u.initiated)],
    ];
    if (u.checksumAlgorithm !== undefined) inner.push(['ChecksumAlgorithm', u.checksumAlgorithm]);
    nodes.push(['Upload', inner]);
  }
  nodes.push(...commonPrefixNodes(r.commonPrefixes, enc));
  return buildDocument(['ListMultipartUploadsResult', nodes]);
}

export interface ListedVersionEntry {
  key: KeyBytes;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  lastModified: Date;
  etag: string;
  size: number;
  owner: Owner;
}

export interface ListVersionsInput {
  bucket: string;
  prefix: KeyBytes;
  keyMarker: KeyBytes;
  versionIdMarker: string;
  nextKeyMarker?: KeyBytes;
  nextVersionIdMarker?: string;
  delimiter?: KeyBytes;
  maxKeys: number;
  encodingType?: 'url';
  isTruncated: boolean;
  /** Versions and delete markers in S3's order (key ascending, newest first): sent interleaved. */
  versions: readonly ListedVersionEntry[];
  commonPrefixes: readonly KeyBytes[];
}

function versionNode(v: ListedVersionEntry, enc: 'url' | undefined): XmlNode {
  const head: XmlNode[] = [
    ['Key', keyValue(v.key, enc)],
    ['VersionId', v.versionId],
    ['IsLatest', v.isLatest],
    ['LastModified', isoDate(v.lastModified)],
  ];
  if (v.deleteMarker) return ['DeleteMarker', [...head, ['Owner', ownerNodes(v.owner)]]];
  return [
    'Version',
    [
      ...head,
      ['ETag', quoteEtag(v.etag)],
      ['Size', v.size],
      ['StorageClass', 'STANDARD'],
      ['Owner', ownerNodes(v.owner)],
    ],
  ];
}

export function listVersionsResultXml(r: ListVersionsInput): string {
  const enc = r.encodingType;
  const nodes: XmlNode[] = [
    ['Name', r.bucket],
    ['Prefix', keyValue(r.prefix, enc)],
    ['KeyMarker', keyValue(r.keyMarker, enc)],
    ['VersionIdMarker', r.versionIdMarker],
  ];
  if (r.nextKeyMarker !== undefined) nodes.push(['NextKeyMarker', keyValue(r.nextKeyMarker, enc)]);
  if (r.nextVersionIdMarker !== undefined) nodes.push(['NextVersionIdMarker', r.nextVersionIdMarker]);
  nodes.push(['MaxKeys', r.maxKeys]);
  if (r.delimiter !== undefined) nodes.push(['Delimiter', keyValue(r.delimiter, enc)]);
  if (enc !== undefined) nodes.push(['EncodingType', enc]);
  nodes.push(['IsTruncated', r.isTruncated]);
  nodes.push(...r.versions.map((v) => versionNode(v, enc)), ...commonPrefixNodes(r.commonPrefixes, enc));
  return buildDocument(['ListVersionsResult', nodes]);
}
