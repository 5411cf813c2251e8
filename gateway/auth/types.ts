// The contract between authentication and the rest of the gateway. Handlers take a VerifiedRequest, which
// only verifyRequest() produces: an unauthenticated request cannot reach them by construction.
import type { ChecksumAlgorithm } from '../checksums/index.ts';
import type { QueryPairs } from '../s3/query.ts';

export type { ChecksumAlgorithm };

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export type CredentialLookup = (accessKeyId: string) => Credentials | undefined;

export interface RawRequest {
  method: string;
  /** Request target exactly as on the wire, e.g. '/bucket/a%20b?uploads='. */
  rawTarget: string;
  /** Node IncomingMessage.headers (lower-cased names). */
  headers: Record<string, string | string[] | undefined>;
  /**
   * The target as the request parser already read it from `rawTarget` (s3/target.ts), so the query is
   * decoded once and the signature covers exactly what the handlers see; read here when absent.
   */
  parsed?: SignedTarget;
}

/** Raw path and decoded query, as s3/target.ts produces them. */
export interface SignedTarget {
  readonly rawPath: string;
  readonly params: QueryPairs;
}

export type PayloadMode =
  | { kind: 'unsigned' } // UNSIGNED-PAYLOAD (or presigned)
  | { kind: 'sha256'; hex: string } // must match the body
  | { kind: 'streaming-signed'; trailer: boolean } // aws-chunked with chunk signatures
  | { kind: 'streaming-unsigned-trailer' };

/** What the aws-chunked decoder needs to chain chunk signatures from the seed (header) signature. */
export interface StreamingSigningContext {
  signingKey: Buffer;
  /** Credential scope, e.g. '20130524/us-east-1/s3/aws4_request'. */
  scope: string;
  amzDate: string;
  seedSignature: string;
}

export interface VerifiedRequest {
  /** Who signed the request; undefined for an anonymous (unsigned) one, which authorization then decides. */
  readonly accessKeyId: string | undefined;
  readonly payload: PayloadMode;
  /** x-amz-decoded-content-length for aws-chunked. */
  readonly decodedContentLength?: number;
  /** internal: what the chunk decoder needs to chain signatures */
  readonly streaming?: StreamingSigningContext;
  /** The checksum x-amz-trailer announces for the aws-chunked trailer, if any. */
  readonly trailerChecksum?: ChecksumAlgorithm;
}

export interface ExpectedDigests {
  /** Content-MD5, base64. */
  contentMd5?: string;
  /** x-amz-checksum-* header values, base64. */
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

export interface BodyDigests {
  md5Hex: string;
  /** base64 of every checksum computed (requested by header, trailer or algorithm header). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** Decoded (object) bytes. */
  bytes: number;
}

export interface DecodedBody extends AsyncIterable<Buffer> {
  /** resolves after the body has been fully iterated and every check passed. */
  readonly digests: Promise<BodyDigests>;
}
