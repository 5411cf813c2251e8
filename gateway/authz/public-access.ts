// Block public access: a bucket's four switches, OR-ed with the server-wide default (--block-public-access),
// which plays the part of AWS's account-level setting.

export interface PublicAccessBlock {
  readonly blockPublicAcls: boolean;
  readonly ignorePublicAcls: boolean;
  readonly blockPublicPolicy: boolean;
  readonly restrictPublicBuckets: boolean;
}

export const NO_BLOCK: PublicAccessBlock = {
  blockPublicAcls: false,
  ignorePublicAcls: false,
  blockPublicPolicy: false,
  restrictPublicBuckets: false,
};

export const FULL_BLOCK: PublicAccessBlock = {
  blockPublicAcls: true,
  ignorePublicAcls: true,
  blockPublicPolicy: true,
  restrictPublicBuckets: true,
};

/** The bucket's `public-access-block` setting. */
export interface StoredPublicAccessBlock extends PublicAccessBlock {
  readonly v: 1;
}

export function effectiveBlock(
  bucket: PublicAccessBlock | undefined,
  server: PublicAccessBlock,
): PublicAccessBlock {
  if (bucket === undefined) return server;
  return {
    blockPublicAcls: bucket.blockPublicAcls || server.blockPublicAcls,
    ignorePublicAcls: bucket.ignorePublicAcls || server.ignorePublicAcls,
    blockPublicPolicy: bucket.blockPublicPolicy || server.blockPublicPolicy,
    restrictPublicBuckets: bucket.restrictPublicBuckets || server.restrictPublicBuckets,
  };
}

export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

/** The bucket's `ownership` setting (absent: ObjectWriter, ACLs in force, as buckets were before 2023). */
export interface StoredOwnership {
  readonly v: 1;
  readonly objectOwnership: ObjectOwnership;
}
