// What x-amz-content-sha256 says about the body, and the streaming headers that go with it.
import { type ChecksumAlgorithm, parseChecksumAlgorithm } from '../checksums/index.ts';
import { S3Error } from '../errors.ts';
import type { HeaderMap } from './canonical.ts';
import type { PayloadMode } from './types.ts';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export function headerString(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function parsePayloadHash(value: string): PayloadMode {
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case STREAMING_SIGNED:
      return { kind: 'streaming-signed', trailer: false };
    case STREAMING_SIGNED_TRAILER:
      return { kind: 'streaming-signed', trailer: true };
    case STREAMING_UNSIGNED_TRAILER:
      return { kind: 'streaming-unsigned-trailer' };
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'sha256', hex: value.toLowerCase() };
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new S3Error('NotImplemented', 'SigV4a streaming uploads are not supported.');
  }
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value.slice(0, 128) },
  );
}

export function isStreaming(mode: PayloadMode): boolean {
  return mode.kind === 'streaming-signed' || mode.kind === 'streaming-unsigned-trailer';
}

/** x-amz-decoded-content-length: the object's size inside aws-chunked framing. */
export function decodedContentLength(headers: HeaderMap, mode: PayloadMode): number | undefined {
  const raw = headerString(headers, 'x-amz-decoded-content-length');
  if (raw === undefined) {
    if (mode.kind === 'streaming-signed')
      throw new S3Error(
        'MissingContentLength',
        'x-amz-decoded-content-length is required for streaming uploads.',
      );
    return undefined;
  }
  if (!/^\d{1,16}$/.test(raw.trim())) {
    throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length is not a valid length.', {
      ArgumentName: 'x-amz-decoded-content-length',
      ArgumentValue: raw.slice(0, 64),
    });
  }
  return Number(raw.trim());
}

/** The checksum an aws-chunked trailer will carry, from `x-amz-trailer: x-amz-checksum-crc32`. */
export function trailerChecksum(headers: HeaderMap): ChecksumAlgorithm | undefined {
  const raw = headerString(headers, 'x-amz-trailer');
  if (raw === undefined || raw.trim() === '') return undefined;
  const name = raw.trim().toLowerCase();
  const algo = name.startsWith('x-amz-checksum-')
    ? parseChecksumAlgorithm(name.slice('x-amz-checksum-'.length))
    : undefined;
  if (!algo)
    throw new S3Error(
      'InvalidRequest',
      `The value specified in the x-amz-trailer header is not supported: ${raw.slice(0, 64)}`,
    );
  return algo;
}
