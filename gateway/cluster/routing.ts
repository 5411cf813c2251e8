// Which members of a syncgroup a call goes to, and in what order: pure choices over the nodes the tracker reports
// (state up / suspect / recovering), the same in every gateway. `router.ts` makes the calls.
//
// A syncgroup mirrors once every member that serves reports push sync (the `sync` field of its heartbeat): each
// then holds every key of the group. Members that do not (nodes of a version before mirroring, e.g. mid-upgrade)
// each hold only the keys they were primary for, so such a group is routed as before mirroring: a key to its
// rendezvous primary over every known member whatever its state (its keys would seem absent elsewhere), and a
// listing asks every member.
import { type NodeView, reportStands } from '../../common/cluster-wire.ts';
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
 * How far behind each member is, as the other members report it (0: not behind). A member another reports behind
 * (it missed writes push sync has not delivered yet) or needing a recovery pull may lack keys, so it neither answers
 * reads nor takes writes while a member that is not behind can. So is a member that another member that is up does
 * not mirror to yet (absent from its `mirrors`: it joined or registered after that member last heard the member
 * list, and that member's writes since went to nobody else). A silent member's report of what it pushes still
 * counts: erring towards "behind" only moves traffic; what it does not know of does not, since it takes no writes.
 * Until the member it reported behind pulled the missed writes from a current member (`reportStands`).
 * The number orders the members when every one is behind (say all restarted at once): the least behind first.
 */
function lateness(members: readonly NodeView[]): Map<string, number> {
  const late = new Map<string, number>();
  const mark = (id: string, n: number) => late.set(id, Math.max(late.get(id) ?? 0, n));
  const byId = new Map(members.map((m) => [m.nodeId, m]));
  for (const m of members) {
    for (const r of m.sync ?? []) {
      if (!reportStands(m, byId.get(r.nodeId))) continue;
      if (r.needsPull === true) mark(r.nodeId, Number.POSITIVE_INFINITY);
      else if (r.behind === true) mark(r.nodeId, Math.max(1, r.lagOps));
    }
    if (m.state !== 'up' || m.mirrors === undefined) continue;
    const knows = new Set(m.mirrors);
    // Less than any report of missed writes: a node restarted a moment ago knows no member yet, and the member
    // it missed writes of is still the one to read from.
    for (const other of members)
      if (other.nodeId !== m.nodeId && !knows.has(other.nodeId)) mark(other.nodeId, 0.5);
  }
  return late;
}

/**
 * The members that hold a layout, as their heartbeats say, unless none does: a member without one refuses every key.
 * A node learns the layout from its heartbeat replies (a new cluster's first nodes are up a moment before the
 * tracker has decided it) and reports it with its next beat, soon after; when no member reports one yet, they are
 * tried anyway (one may have it since) rather than failing at once.
 */
function withLayout(among: readonly NodeView[]): NodeView[] {
  const ready = among.filter((m) => m.layoutVersion !== undefined);
  return ready.length > 0 ? ready : [...among];
}

/** Of `among`, the ones no member reports behind; when every one is, the least behind ones. */
function leastBehind(among: readonly NodeView[], late: ReadonlyMap<string, number>): NodeView[] {
  const by = (m: NodeView) => late.get(m.nodeId) ?? 0;
  const least = Math.min(...among.map(by));
  return among.filter((m) => by(m) === least);
}

/** The members a write may go to: up, with a layout, and the least behind of those (not behind at all, normally). */
function writable(members: readonly NodeView[]): NodeView[] {
  const up = withLayout(members.filter((m) => m.state === 'up'));
  return up.length > 0 ? leastBehind(up, lateness(members)) : [];
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
  return writeOrder(members, bucket, key)[0];
}

/**
 * The members a write of (bucket, key) may go to, in order: the primary (`writeTarget`), then the other members
 * that take writes in rendezvous order. A write moves on only when a member could not even be connected to (a
 * killed node refuses connections at once: nothing of the write reached it), so a dead primary costs no write its
 * failure while the tracker has not called it suspect yet. Unmirrored: the primary only.
 */
export function writeOrder(members: readonly NodeView[], bucket: string, key: Buffer): NodeView[] {
  if (!mirrored(members)) return ranked(members, bucket, key).slice(0, 1);
  // A member behind would give the write an opver below the newer versions it has not received yet: never it.
  return ranked(writable(members), bucket, key);
}

/**
 * The members a read of (bucket, key) tries, in order: the up members in rendezvous order (the first is the
 * write primary), then the suspect ones in rendezvous order; never a recovering one (it does not hold everything
 * yet). The next is tried only when one does not answer. A member reported behind is not asked while any member
 * that is not behind could be, even a slow or silent one: its answer may be a NoSuchKey, or a listing without the
 * keys it has not received yet, where a 503 after the others failed lets the client retry. Once every member that
 * is not behind is suspect, the up members behind come last (below).
 */
export function readOrder(members: readonly NodeView[], bucket: string, key: Buffer): NodeView[] {
  if (!mirrored(members)) return ranked(members, bucket, key).slice(0, 1);
  const live = members.filter((m) => m.state === 'up' || m.state === 'suspect');
  if (live.length === 0) return [];
  const late = lateness(members);
  const from = leastBehind(live, late);
  const tier = (state: NodeView['state'], layout: boolean) =>
    ranked(
      from.filter((m) => m.state === state && (m.layoutVersion !== undefined) === layout),
      bucket,
      key,
    );
  // Members without a layout refuse every key: tried last (one may have it since its last heartbeat).
  const order = [
    ...tier('up', true),
    ...tier('suspect', true),
    ...tier('up', false),
    ...tier('suspect', false),
  ];
  // Every member that is not behind is silent (suspect: most likely dead, maybe for good): the up members it left
  // behind come after it, the least behind first. What they hold beats a 503 for as long as it stays away.
  if (!from.every((m) => m.state === 'suspect')) return order;
  const up = live.filter((m) => m.state === 'up');
  return up.length === 0 ? order : [...order, ...ranked(leastBehind(up, late), bucket, key)];
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
