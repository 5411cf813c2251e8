// A write this node takes for a key whose rendezvous primary is another member (a failover: that member was
// refused, suspect or behind) must get an opver above every opver that member may have handed out, or the
// member's own write of the key, older and perhaps never acknowledged (it was in flight when the member died, or
// the member is behind and took it before), replaces this acknowledged one when push sync delivers it.
//
// This node knows each member's opver counter as of its last heartbeat (`opver` in the tracker's member list)
// and has applied the member's writes it received. What the member may have handed out since its last report
// is bounded by its write rate over a heartbeat or two, far below TAKEOVER_MARGIN; so before such a write the
// counter is moved to at least the member's reported counter plus the margin. The counter only moves forward:
// the opver stays a logical counter (DESIGN.md), never a wall clock.
import type { NodeView } from '../common/cluster-wire.ts';
import { rankMembers } from '../common/layout.ts';

/**
 * How far past a member's last reported counter a takeover write goes: 2^28 opvers (a member writing a million
 * ops a second for two minutes after its last report). A member that stays behind moves this node's counter by at
 * most this much per heartbeat it reports: 2^64 lasts millennia at one heartbeat a second.
 */
export const TAKEOVER_MARGIN = 1n << 28n;

export interface TakeoverClockOptions {
  selfId: string;
  /** The node's opver clock. */
  clock: { readonly counter: bigint; advanceTo(counter: bigint): void };
}

export class TakeoverClock {
  /** The other members and their last reported counters (undefined: none reported). */
  private members: Array<{ nodeId: string; counter: bigint | undefined }> = [];

  constructor(private readonly o: TakeoverClockOptions) {}

  /** The tracker's member list (heartbeat replies). A recovering member hands out no opvers: left out. */
  update(members: readonly NodeView[]): void {
    this.members = members
      .filter((m) => m.nodeId !== this.o.selfId && m.state !== 'recovering')
      .map((m) => ({ nodeId: m.nodeId, counter: m.opver === undefined ? undefined : BigInt(m.opver) }));
  }

  /** Called before this node takes a write of (bucket, key): past every member ranked above it for the key. */
  beforeWrite(bucket: string, key: Buffer): void {
    if (this.members.length === 0) return;
    const ids = [this.o.selfId, ...this.members.map((m) => m.nodeId)];
    for (const id of rankMembers(ids, bucket, key)) {
      if (id === this.o.selfId) return;
      const counter = this.members.find((m) => m.nodeId === id)?.counter;
      // A member that never reported one runs an older version: nothing to go by (its writes reach this node
      // through mirroring and push sync, which move the counter past them as they are applied).
      if (counter !== undefined) this.o.clock.advanceTo(counter + TAKEOVER_MARGIN);
    }
  }
}
