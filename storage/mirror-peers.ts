// The mirrors of this storage node (the other members of its syncgroup, as the tracker last reported them), one
// client each, and what mirroring and push sync share about each: whether mirrored writes go to it
// (`responsive`: a mirror that failed or timed out on one is left behind, so the writes after it do not each wait
// for it, until push sync reaches it again) and which writes it acknowledged synchronously (push sync skips those
// records instead of shipping them twice). A mirror behind on older records still gets new writes: each unit
// (key, version) is applied only if newer, independently of the others, so the order does not matter.
import type { NodeState, NodeView } from '../common/cluster-wire.ts';

/** Acknowledged units kept per mirror at most; beyond, the oldest are forgotten (push sync then ships them). */
const ACKED_MAX = 200_000;
/**
 * Units passed by push sync before their acknowledgement kept at most: only the writes in flight while push sync
 * reads can be in that race (in async mode none is acknowledged, so most would be kept for nothing).
 */
const SHIPPED_MAX = 10_000;

export class Mirror<P> {
  /** Mirrored writes go to it. False after a failed or late one, until push sync reaches the mirror again. */
  responsive = true;
  /**
   * It may lack writes of this node: it missed one (left behind, away, an async bucket) and push sync has not
   * finished a round begun after that. True at start: nothing is known of what it missed before a restart.
   */
  behind = true;
  /** Writes it missed, counted: push sync clears `behind` only after a round with none missed meanwhile. */
  misses = 0;
  /** Told when a missed write makes it behind (it was not): the node's heartbeat should say so soon. */
  onBehind: (() => void) | undefined;
  /** Units this mirror acknowledged in a mirrored write that push sync has not passed yet (unit → bytes). */
  private readonly acked = new Map<string, number>();
  /** Units push sync passed before their mirrored write was acknowledged (that ack then notes nothing). */
  private readonly shipped = new Set<string>();
  private ackedBytes = 0;

  constructor(
    readonly nodeId: string,
    public url: string,
    public state: NodeState,
    public peer: P,
  ) {}

  /** Reachable for writes and push sync: up, or recovering (it fills itself by a pull and must get new writes). */
  get reachable(): boolean {
    return this.state === 'up' || this.state === 'recovering';
  }

  /** A write of this node did not reach the mirror (push sync is to bring it). */
  noteMissed(): void {
    const was = this.behind;
    this.behind = true;
    this.misses++;
    if (!was) this.onBehind?.();
  }

  /** A mirrored write of this unit was acknowledged by the mirror. */
  noteAcked(unit: string, bytes: number): void {
    if (this.shipped.delete(unit) || this.acked.has(unit)) return;
    if (this.acked.size >= ACKED_MAX) this.takeAcked(this.acked.keys().next().value as string);
    this.acked.set(unit, bytes);
    this.ackedBytes += bytes;
  }

  /**
   * Push sync passes this unit's record: true if the mirror acknowledged it synchronously (no need to ship it
   * again). Either way the unit is passed: an acknowledgement arriving later notes nothing.
   */
  takeAcked(unit: string): boolean {
    const bytes = this.acked.get(unit);
    if (bytes !== undefined) {
      this.acked.delete(unit);
      this.ackedBytes -= bytes;
      return true;
    }
    if (this.shipped.size >= SHIPPED_MAX) this.shipped.delete(this.shipped.values().next().value as string);
    this.shipped.add(unit);
    return false;
  }

  /** What the mirror holds of the records push sync has not passed yet (subtracted from the reported lag). */
  get ahead(): { records: number; bytes: number } {
    return { records: this.acked.size, bytes: this.ackedBytes };
  }
}

/** The identity of one binlog record's effect: its key and opver (a key's ops each have their own opver). */
export function unitKey(bucket: string, key: Buffer, counter: bigint, nodeId: number): string {
  return `${bucket}\0${key.toString('latin1')}\0${counter}\0${nodeId}`;
}

export interface MirrorPeersOptions<P> {
  /** This node (never its own mirror). */
  selfId: string;
  /** A client for a mirror's storage API at `url` (pooled connections). */
  connect(url: string): P;
  /** Closes a client no longer used (its mirror moved to another address). */
  disconnect(peer: P): void;
  /** A mirror that was not behind missed a write (gateways must learn it soon: it may lack keys now). */
  onBehind?(nodeId: string): void;
}

export class MirrorPeers<P> {
  private readonly byId = new Map<string, Mirror<P>>();
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly opts: MirrorPeersOptions<P>) {}

  /** The syncgroup's other members as the tracker reports them (ClusterMember's `onMembers`). */
  update(members: readonly Pick<NodeView, 'nodeId' | 'url' | 'state'>[]): void {
    let changed = false;
    for (const m of members) {
      if (m.nodeId === this.opts.selfId) continue;
      const had = this.byId.get(m.nodeId);
      if (!had) {
        const mirror = new Mirror(m.nodeId, m.url, m.state, this.opts.connect(m.url));
        mirror.onBehind = () => this.opts.onBehind?.(m.nodeId);
        this.byId.set(m.nodeId, mirror);
        changed = true;
        continue;
      }
      if (had.url !== m.url) {
        this.opts.disconnect(had.peer);
        had.peer = this.opts.connect(m.url);
        had.url = m.url;
        changed = true;
      }
      if (had.state !== m.state) {
        // Back from silence (restarted or resumed): worth trying again at once; a failure leaves it behind again.
        if (!had.reachable) had.responsive = true;
        had.state = m.state;
        changed = true;
      }
    }
    if (changed) for (const l of this.listeners) l();
  }

  get(nodeId: string): Mirror<P> | undefined {
    return this.byId.get(nodeId);
  }

  all(): Mirror<P>[] {
    return [...this.byId.values()];
  }

  /** Where a mirrored write goes: reachable mirrors not left behind. */
  writeTargets(): Mirror<P>[] {
    return this.all().filter((m) => m.reachable && m.responsive);
  }

  /** Called after a change of membership (a mirror came, went, came back or moved). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    for (const m of this.byId.values()) this.opts.disconnect(m.peer);
    this.byId.clear();
  }
}
