// Builders for S3's small XML answers: Error, bucket listing/location/versioning, copy, multipart, delete.

import type { ChecksumAlgorithm, Checksums } from '../../storage/api.ts';
import { buildDocument, type XmlNode } from './xml-codec.ts';

export interface Owner {
  id: string;
  displayName?: string;
}

/** AWS timestamps in XML: ISO 8601 with milliseconds, UTC. */
export const isoDate = (d: Date): string => d.toISOString();
/** ETags are sent quoted in XML, as in the ETag header. */
export const quoteEtag = (etag: string): string => (etag.startsWith('"') ? etag : `"${etag}"`);

export function ownerNodes(owner: Owner): XmlNode[] {
  const nodes: XmlNode[] = [['ID', owner.id]];
  if (owner.displayName !== undefined) nodes.push(['DisplayName', owner.displayName]);
  return nodes;
}

const CHECKSUM_ORDER: ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

/** ChecksumCRC32, ChecksumCRC32C, ... in AWS's order, only those present. */
export function checksumNodes(checksums: Checksums | undefined): XmlNode[] {
  const nodes: XmlNode[] = [];
  for (const algo of CHECKSUM_ORDER) {
    const value = checksums?.[algo];
    if (value !== undefined) nodes.push([`Checksum${algo}`, value]);
  }
  return nodes;
}

export interface ErrorXmlInput {
  code: string;
  message: string;
  resource?: string;
  requestId: string;
  hostId?: string;
  /** Extra elements (BucketName, Key, ArgumentName, ...) in order, between Message and Resource. */
  details?: Readonly<Record<string, string>>;
}

/** `<Error>`: no namespace, as AWS sends it. */
export function errorXml(e: ErrorXmlInput): string {
  const nodes: XmlNode[] = [
    ['Code', e.code],
    ['Message', e.message],
  ];
  for (const [name, value] of Object.entries(e.details ?? {})) nodes.push([name, value]);
  if (e.resource !== undefined) nodes.push(['Resource', e.resource]);
  nodes.push(['RequestId', e.requestId]);
  if (e.hostId !== undefined) nodes.push(['HostId', e.hostId]);
  return buildDocument(['Error', nodes], { xmlns: false });
}

export interface BucketEntry {
  name: string;
  creationDate: Date;
  region?: string;
}

export function listAllMyBucketsXml(r: { owner: Owner; buckets: readonly BucketEntry[] }): string {
  const buckets: XmlNode[] = r.buckets.map((b) => {
    const nodes: XmlNode[] = [
      ['Name', b.name],
      ['CreationDate', isoDate(b.creationDate)],
    ];
    if (b.region !== undefined) nodes.push(['BucketRegion', b.region]);
    return ['Bucket', nodes];
  });
  return buildDocument([
    'ListAllMyBucketsResult',
    [
      ['Owner', ownerNodes(r.owner)],
      ['Buckets', buckets],
    ],
  ]);
}

/** us-east-1 is reported as an empty LocationConstraint, as AWS does; pass ''. */
export function locationConstraintXml(region: string): string {
  return buildDocument(['LocationConstraint', region]);
}

/** Without a status the configuration is empty: versioning has never been enabled (always, for us). */
export function versioningConfigurationXml(status?: 'Enabled' | 'Suspended'): string {
  return buildDocument(['VersioningConfiguration', status === undefined ? [] : [['Status', status]]]);
}

export interface CopyResultInput {
  etag: string;
  lastModified: Date;
  checksums?: Checksums;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

function copyResult(root: string, r: CopyResultInput): string {
  const nodes: XmlNode[] = [
    ['LastModified', isoDate(r.lastModified)],
    ['ETag', quoteEtag(r.etag)],
  ];
  if (r.checksumType !== undefined && Object.keys(r.checksums ?? {}).length > 0) {
    nodes.push(['ChecksumType', r.checksumType]);
  }
  nodes.push(...checksumNodes(r.checksums));
  return buildDocument([root, nodes]);
}

export const copyObjectResultXml = (r: CopyResultInput): string => copyResult('CopyObjectResult', r);
export const copyPartResultXml = (r: CopyResultInput): string => copyResult('CopyPartResult', r);

export function initiateMultipartUploadResultXml(r: {
  bucket: string;
  key: string;
  uploadId: string;
}): string {
  return buildDocument([
    'InitiateMultipartUploadResult',
    [
      ['Bucket', r.bucket],
      ['Key', r.key],
      ['UploadId', r.uploadId],
    ],
  ]);
}

export interface CompleteResultInput {
  location: string;
  bucket: string;
  key: string;
  etag: string;
  checksums?: Checksums;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
}

export function completeMultipartUploadResultXml(r: CompleteResultInput): string {
  const nodes: XmlNode[] = [
    ['Location', r.location],
    ['Bucket', r.bucket],
    ['Key', r.key],
    ['ETag', quoteEtag(r.etag)],
    ...checksumNodes(r.checksums),
  ];
  if (r.checksumType !== undefined) nodes.push(['ChecksumType', r.checksumType]);
  return buildDocument(['CompleteMultipartUploadResult', nodes]);
}

export interface DeleteResultInput {
  quiet: boolean;
  deleted: ReadonlyArray<{
    key: string;
    versionId?: string;
    deleteMarker?: boolean;
    deleteMarkerVersionId?: string;
  }>;
  errors: ReadonlyArray<{ key: string; versionId?: string; code: string; message: string }>;
}

/** In quiet mode AWS reports only the failures. */
export function deleteResultXml(r: DeleteResultInput): string {
  const nodes: XmlNode[] = [];
  if (!r.quiet) {
    for (const d of r.deleted) {
      const inner: XmlNode[] = [['Key', d.key]];
      if (d.versionId !== undefined) inner.push(['VersionId', d.versionId]);
      if (d.deleteMarker) inner.push(['DeleteMarker', true]);
      if (d.deleteMarkerVersionId !== undefined)
        inner.push(['DeleteMarkerVersionId', d.deleteMarkerVersionId]);
      nodes.push(['Deleted', inner]);
    }
  }
  for (const e of r.errors) {
    const inner: XmlNode[] = [['Key', e.key]];
    if (e.versionId !== undefined) inner.push(['VersionId', e.versionId]);
    inner.push(['Code', e.code], ['Message', e.message]);
    nodes.push(['Error', inner]);
  }
  return buildDocument(['DeleteResult', nodes]);
}
