// What every handler receives, and what the gateway needs from the rest of Quire.
import type { Logger } from 'pino';
import type { StorageApi } from '../../storage/api.ts';
import type {
  BucketConfigKind,
  BucketInfo,
  BucketRef,
  CreateBucketOutcome,
  DeleteBucketOutcome,
  InitialBucketConfig,
  NewBucket,
} from '../../tracker/catalog.ts';
import type { CredentialLookup } from '../auth/types.ts';
import type { AuthorizedRequest } from '../authz/admission.ts';
import type { PublicAccessBlock } from '../authz/public-access.ts';
import type { HashingPool } from '../checksums/index.ts';
import type { Exchange } from '../http/respond.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Operation, ParsedTarget } from '../s3/operation.ts';

/** The tracker's bucket catalog as the gateway sees it (in-process today, a client over HTTP in a cluster). */
export interface BucketDirectory {
  getBucket(name: string): BucketInfo | undefined;
  listBuckets(owner?: string): BucketInfo[];
  /** The catalog assigns the new incarnation's id. */
  createBucket(spec: NewBucket, initial?: InitialBucketConfig): Promise<CreateBucketOutcome>;
  /** One setting of the incarnation (versioning, policy, CORS, ...), or undefined; synchronous, from memory. */
  getBucketConfig<T = unknown>(bucket: BucketRef, kind: BucketConfigKind): T | undefined;
  /** Sets (`undefined` removes) a setting durably; false when the incarnation was deleted meanwhile. */
  putBucketConfig(bucket: BucketRef, kind: BucketConfigKind, value: unknown): Promise<boolean>;
  /** Whether `bucket` is still the current incarnation of its name (waits while a delete of it decides). */
  isCurrent(bucket: BucketRef): Promise<boolean>;
  /**
   * `isCurrent` answered now, without a promise (every request asks); undefined while a delete of it decides or
   * when the directory cannot tell without asking (then `isCurrent` is awaited). Optional: remote directories.
   */
  currentNow?(bucket: BucketRef): boolean | undefined;
  /** Removes exactly this incarnation, if `isEmpty` (asked while it is closing) agrees. */
  deleteBucket(bucket: BucketRef, isEmpty: () => Promise<boolean>): Promise<DeleteBucketOutcome>;
}

export interface GatewayLimits {
  /** Largest single PUT or part. */
  readonly maxObjectBytes: number;
  /** Smallest part size for all parts but the last. */
  readonly minPartBytes: number;
  /** A request body that sends nothing for this long fails with RequestTimeout (default 60 s). */
  readonly bodyTimeoutMs?: number;
}

export interface GatewayDeps {
  readonly buckets: BucketDirectory;
  readonly storage: StorageApi;
  readonly credentials: CredentialLookup;
  readonly region: string;
  readonly baseDomains: string[];
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly hasher?: HashingPool;
  readonly limits: GatewayLimits;
  /** Wall-clock ms: for signatures' skew checks and Last-Modified only, never for ordering. */
  readonly clock: () => number;
  readonly isReady: () => boolean;
  /** When set, /metrics needs `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string;
  /** The website endpoint's domain: `<bucket>.<websiteDomain>` Host names select a bucket there. */
  readonly websiteDomain?: string;
  /** Server-wide public access block (--block-public-access), on top of each bucket's own. */
  readonly blockPublicAccess?: PublicAccessBlock;
  /** Accept signature version 2 (default true; `--no-sigv2`). */
  readonly sigV2?: boolean;
}

export interface RequestState {
  op: string;
  bucket?: string;
  key?: string;
}

export interface HandlerInput<O extends Operation> {
  readonly deps: GatewayDeps;
  readonly ex: Exchange;
  /** Authenticated and admitted by the authorization step (gateway/authz), with its decision. */
  readonly verified: AuthorizedRequest;
  readonly target: ParsedTarget;
  readonly op: O;
}

export type Handler<O extends Operation> = (input: HandlerInput<O>) => Promise<void>;

export type HandlerTable = { [K in Operation['op']]: Handler<Extract<Operation, { op: K }>> };
