// Strict parsers for the request bodies S3 accepts as XML. Anything unexpected is MalformedXML:
// unknown elements, repeated singletons, stray text, bad numbers, more than 1000 keys to delete.

import type { Checksums } from '../../storage/api.ts';
import { S3Error } from '../errors.ts';
import { expectChildren, leafText, parseDocument, type XmlElement } from './xml-codec.ts';

const malformed = () => new S3Error('MalformedXML');
export const DELETE_KEYS_MAX = 1000;

export function parseCreateBucketConfiguration(xml: string): { locationConstraint?: string } {
  const root = parseDocument(xml, 'CreateBucketConfiguration');
  expectChildren(root, { LocationConstraint: 1 });
  const location = leafText(root, 'LocationConstraint');
  return location === undefined ? {} : { locationConstraint: location.trim() };
}

export interface DeleteObjectEntry {
  key: string;
  versionId?: string;
  /** Conditional delete: the ETag the object must have. */
  etag?: string;
}

function parseBoolean(text: string | undefined): boolean {
  if (text === undefined) return false;
  const t = text.trim().toLowerCase();
  if (t === 'true') return true;
  if (t === 'false') return false;
  throw malformed();
}

function parseDeleteObject(el: XmlElement): DeleteObjectEntry {
  expectChildren(el, { Key: 1, VersionId: 1, ETag: 1, LastModifiedTime: 1, Size: 1 });
  // The key is taken verbatim: leading and trailing spaces are part of it.
  const key = leafText(el, 'Key');
  if (key === undefined) throw malformed();
  const entry: DeleteObjectEntry = { key };
  const versionId = leafText(el, 'VersionId');
  if (versionId !== undefined) entry.versionId = versionId.trim();
  const etag = leafText(el, 'ETag');
  if (etag !== undefined) entry.etag = etag.trim().replace(/^"(.*)"$/, '$1');
  return entry;
}

/** The DeleteObjects body: 1..1000 objects, optional Quiet. */
export function parseDeleteRequest(xml: string): { quiet: boolean; objects: DeleteObjectEntry[] } {
  const root = parseDocument(xml, 'Delete');
  expectChildren(root, { Object: DELETE_KEYS_MAX, Quiet: 1 });
  const objects = root.children.filter((c) => c.name === 'Object').map(parseDeleteObject);
  if (objects.length === 0) throw malformed();
  return { quiet: parseBoolean(leafText(root, 'Quiet')), objects };
}

export interface CompletedPart {
  partNumber: number;
  /** Without quotes. */
  etag: string;
  checksums: Checksums;
}

const PART_CHECKSUMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;

function parsePart(el: XmlElement): CompletedPart {
  expectChildren(el, {
    PartNumber: 1,
    ETag: 1,
    ChecksumCRC32: 1,
    ChecksumCRC32C: 1,
    ChecksumCRC64NVME: 1,
    ChecksumSHA1: 1,
    ChecksumSHA256: 1,
  });
  const number = leafText(el, 'PartNumber')?.trim();
  const etag = leafText(el, 'ETag')?.trim();
  if (number === undefined || etag === undefined || !/^\d{1,5}$/.test(number)) throw malformed();
  const partNumber = Number(number);
  if (partNumber < 1 || partNumber > 10000) throw malformed();
  const checksums: Checksums = {};
  for (const algo of PART_CHECKSUMS) {
    const value = leafText(el, `Checksum${algo}`);
    if (value !== undefined) checksums[algo] = value.trim();
  }
  return { partNumber, etag: etag.replace(/^"(.*)"$/, '$1'), checksums };
}

/** The CompleteMultipartUpload body: one or more parts (order is the caller's to check: InvalidPartOrder). */
export function parseCompleteMultipartUpload(xml: string): { parts: CompletedPart[] } {
  const root = parseDocument(xml, 'CompleteMultipartUpload');
  expectChildren(root, { Part: 10000 });
  const parts = root.children.map(parsePart);
  if (parts.length === 0) throw malformed();
  return { parts };
}

export interface VersioningConfiguration {
  status: 'Enabled' | 'Suspended';
  mfaDelete?: 'Enabled' | 'Disabled';
}

/**
 * PutBucketVersioning's body. A Status other than Enabled/Suspended (or an MfaDelete other than
 * Enabled/Disabled) does not validate against AWS's schema: MalformedXML; no Status at all is
 * IllegalVersioningConfigurationException, as AWS answers.
 */
export function parseVersioningConfiguration(xml: string): VersioningConfiguration {
  const root = parseDocument(xml, 'VersioningConfiguration');
  expectChildren(root, { Status: 1, MfaDelete: 1 });
  const status = leafText(root, 'Status');
  const mfa = leafText(root, 'MfaDelete');
  if (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled') throw malformed();
  if (status === undefined)
    throw new S3Error('IllegalVersioningConfigurationException', 'The Versioning element must be specified');
  if (status !== 'Enabled' && status !== 'Suspended') throw malformed();
  return { status, ...(mfa !== undefined ? { mfaDelete: mfa } : {}) };
}
