// Where a key lives in a cluster: pure functions, the same in every tracker, storage node and gateway.
//
// partition(bucketId, key) = first 4 bytes (big-endian u32) of SHA-256(bucketId UTF-8 ‖ 0x00 ‖ key bytes)
//                            mod PARTITIONS.
// This formula is fixed forever: every object ever written was placed by it, so changing it would strand data.
// The bucket's incarnation id (not its name) goes in, so a recreated bucket spreads its keys afresh.
//
// The layout maps each partition to a syncgroup. It is created once, with the cluster (an even spread:
// partition p goes to syncgroup p mod n, in the order the operator named them), and numbered by its version;
// later versions (adding a syncgroup) will move only the partitions the new group takes over.
//
// Inside a syncgroup the primary for a key is chosen by rendezvous (highest random weight) hashing over the
// live members: weight(member) = first 8 bytes of SHA-256(member ‖ 0x00 ‖ bucketId ‖ 0x00 ‖ key). Every
// gateway computes the same choice, and when a member leaves only the keys it was primary for move.
import { createHash } from 'node:crypto';

export const PARTITIONS = 4096;

export interface Layout {
  /** Starts at 1; a new version only when syncgroups are added (not yet implemented). */
  readonly version: number;
  /** Syncgroup names, in the order the operator gave them at creation. */
  readonly syncgroups: readonly string[];
  /** partition → index into `syncgroups`; length PARTITIONS. */
  readonly owners: readonly number[];
}

const SEP = Buffer.from([0]);

export function partitionOf(bucketId: string, key: Buffer): number {
  const h = createHash('sha256').update(bucketId, 'utf8').update(SEP).update(key).digest();
  return h.readUInt32BE(0) % PARTITIONS;
}

/** The cluster's first layout: partitions spread evenly over the named syncgroups. */
export function initialLayout(syncgroups: readonly string[]): Layout {
  if (syncgroups.length === 0) throw new Error('a layout needs at least one syncgroup');
  if (new Set(syncgroups).size !== syncgroups.length) throw new Error('syncgroup names must be distinct');
  const owners = Array.from({ length: PARTITIONS }, (_, p) => p % syncgroups.length);
  return { version: 1, syncgroups: [...syncgroups], owners };
}

export function syncgroupOf(layout: Layout, partition: number): string {
  const owner = layout.owners[partition];
  if (owner === undefined) throw new RangeError(`partition ${partition} is out of range`);
  return layout.syncgroups[owner]!;
}

/** The syncgroup that holds (bucketId, key) under `layout`. */
export function routeKey(layout: Layout, bucketId: string, key: Buffer): string {
  return syncgroupOf(layout, partitionOf(bucketId, key));
}

/** Rendezvous weight of `member` for a key; higher wins. */
export function rendezvousWeight(member: string, bucketId: string, key: Buffer): bigint {
  const h = createHash('sha256')
    .update(member, 'utf8')
    .update(SEP)
    .update(bucketId, 'utf8')
    .update(SEP)
    .update(key)
    .digest();
  return h.readBigUInt64BE(0);
}

/**
 * The members of a syncgroup in the order a key tries them: the primary first, then its fallbacks. Ties (never
 * seen in practice with 64-bit weights) are broken by member id, so the order is total and the same everywhere.
 */
export function rankMembers(members: readonly string[], bucketId: string, key: Buffer): string[] {
  return members
    .map((m) => ({ m, w: rendezvousWeight(m, bucketId, key) }))
    .sort((a, b) => (a.w === b.w ? (a.m < b.m ? -1 : a.m > b.m ? 1 : 0) : a.w > b.w ? -1 : 1))
    .map((x) => x.m);
}

/** The key's primary among `members`, or undefined when none is live. */
export function primaryOf(members: readonly string[], bucketId: string, key: Buffer): string | undefined {
  return rankMembers(members, bucketId, key)[0];
}

/** Checks a layout received from elsewhere (a file, the network) before it is used to route anything. */
export function validLayout(x: Layout): boolean {
  return (
    Number.isInteger(x.version) &&
    x.version >= 1 &&
    x.syncgroups.length >= 1 &&
    new Set(x.syncgroups).size === x.syncgroups.length &&
    x.owners.length === PARTITIONS &&
    x.owners.every((o) => Number.isInteger(o) && o >= 0 && o < x.syncgroups.length)
  );
}
