// Which members of a syncgroup a call goes to, and in what order: pure choices over the nodes the tracker reports
// (state up / suspect / recovering), the same in every gateway. `router.ts` makes the calls.
//
// A syncgroup mirrors once every member that serves reports push sync (the `sync` field of its heartbeat): each
// then holds every key of the group. Members that do not (nodes of a version before mirroring, e.g. mid-upgrade)
// each hold only the keys they were primary for, so such a group is routed as before mirroring: a key to its
// rendezvous primary over every known member whatever its state (its keys would seem absent elsewhere), and a
// listing asks every member.
import type { NodeView } from '../../common/cluster-wire.ts';
import { rankMembers } from '../../common/layout.ts';

/**
 * The members of `syncgroup` among `nodes`. A suspect member at the address of a member that is heartbeating is
 * that address's former identity (a node whose data directory was wiped restarts with a new id): it is left out,
 * or reads would fall back to it and reach the new node, which may still be filling itself.
 */
export function membersOf(nodes: readonly NodeView[], syncgroup: string): NodeView[] {
  const members = nodes.filter((n) => n.syncgroup === syncgroup);
  const live = new Set(members.filter((n) => n.state !== 'suspect').map((n) => n.url));
  return members.filter((n) => n.state !== 'suspect' || !live.has(n.url));
}

/**
 * Whether the group's members mirror each other (see the file comment). A group with no member that serves counts
 * as mirrored: nothing is routed to a recovering member either way.
 */
export function mirrored(members: readonly NodeView[]): boolean {
  return members.every((m) => m.state === 'recovering' || m.sync !== undefined);
}

/**
 * The members another member reports as behind (they missed writes push sync has not delivered yet, or need a
 * recovery pull): they may lack keys, so they neither answer reads nor take writes while a member that is not
 * behind can. A silent member's last report still counts: erring towards "behind" only moves traffic.
 */
function behindIds(members: readonly NodeView[]): Set<string> {
  const ids = new Set<string>();
  for (const m of members)
    for (const r of m.sync ?? []) if (r.behind === true || r.needsPull === true) ids.add(r.nodeId);
  return ids;
}

/** The members a write may go to: up and not behind; when every up member is behind (e.g. all restarted at once), all up ones. */
function writable(members: readonly NodeView[]): NodeView[] {
  const up = members.filter((m) => m.state === 'up');
  const late = behindIds(members);
  const current = up.filter((m) => !late.has(m.nodeId));
  return current.length > 0 ? current : up;
}

function ranked(members: readonly NodeView[], bucket: string, key: Buffer): NodeView[] {
  const byId = new Map(members.map((m) => [m.nodeId, m]));
  return rankMembers([...byId.keys()], bucket, key).map((id) => byId.get(id)!);
}

/**
 * Where a write of (bucket, key) goes: the rendezvous primary over the members that are up (a suspect or
 * recovering member gets no writes, so a write fails over once the tracker marks the primary suspect). Multipart
 * calls go there too: an upload in progress is mirrored like an object, so whichever member is the primary now
 * continues it. Undefined when no member can take it.
 */
export function writeTarget(members: readonly NodeView[], bucket: string, key: Buffer): NodeView | undefined {
  if (!mirrored(members)) return ranked(members, bucket, key)[0];
  // A member behind would give the write an opver below the newer versions it has not received yet: never it.
  return ranked(writable(members), bucket, key)[0];
}

/**
 * The members a read of (bucket, key) tries, in order: the up members in rendezvous order (the first is the
 * write primary), then the suspect ones in rendezvous order; never a recovering one (it does not hold everything
 * yet). The next is tried only when one does not answer. A member reported behind is not asked while any member
 * that is not behind could be, even a slow or silent one: its answer may be a NoSuchKey, or a listing without the
 * keys it has not received yet, where a 503 after the others failed lets the client retry.
 */
export function readOrder(members: readonly NodeView[], bucket: string, key: Buffer): NodeView[] {
  if (!mirrored(members)) return ranked(members, bucket, key).slice(0, 1);
  const late = behindIds(members);
  const live = members.filter((m) => m.state === 'up' || m.state === 'suspect');
  const trusted = live.filter((m) => !late.has(m.nodeId));
  const from = trusted.length > 0 ? trusted : live;
  return [
    ...ranked(
      from.filter((m) => m.state === 'up'),
      bucket,
      key,
    ),
    ...ranked(
      from.filter((m) => m.state === 'suspect'),
      bucket,
      key,
    ),
  ];
}

/**
 * Where a whole-bucket read (a listing page, emptiness) of one syncgroup goes: one member, tried in this order.
 * The up members first, in a stable order per bucket (rendezvous on the bucket id, so different buckets' listings
 * spread over the members), then the suspect ones. Unmirrored: every member must be asked (`askAll`).
 */
export function listOrder(
  members: readonly NodeView[],
  bucket: string,
): { askAll: true; nodes: NodeView[] } | { askAll: false; nodes: NodeView[] } {
  if (!mirrored(members)) return { askAll: true, nodes: [...members] };
  return { askAll: false, nodes: readOrder(members, bucket, Buffer.alloc(0)) };
}

/**
 * Who drops a bucket's data: every member; the up ones must (mirrored: the suspect and recovering ones are asked
 * too, but a dead one's leftovers are purged when it starts again, so it cannot fail the call). Unmirrored: all.
 */
export function dropTargets(members: readonly NodeView[]): Array<{ node: NodeView; required: boolean }> {
  const all = !mirrored(members);
  return members.map((node) => ({ node, required: all || node.state === 'up' }));
}
