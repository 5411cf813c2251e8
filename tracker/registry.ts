// The registry of storage nodes, built only from their heartbeats (so a wiped tracker rebuilds it within one
// heartbeat interval). A node silent for `suspectAfterMs` is suspect: reported, and routed around once
// mirroring lets the gateway do so; it is never dropped on its own (an operator decides a node is gone).
import type { Heartbeat, NodeView } from '../common/cluster-wire.ts';

export interface RegistryOptions {
  suspectAfterMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

export class NodeRegistry {
  private readonly nodes = new Map<string, { beat: Heartbeat; lastMs: number }>();

  constructor(private readonly opts: RegistryOptions) {}

  /** Records a heartbeat; throws when the node id is already known in another syncgroup. */
  beat(hb: Heartbeat): void {
    const known = this.nodes.get(hb.nodeId);
    if (known && known.beat.syncgroup !== hb.syncgroup) {
      throw new RegistryConflict(
        `node ${hb.nodeId} is registered in syncgroup ${known.beat.syncgroup}, not ${hb.syncgroup}`,
      );
    }
    this.nodes.set(hb.nodeId, { beat: hb, lastMs: this.opts.now() });
  }

  list(): NodeView[] {
    const now = this.opts.now();
    return [...this.nodes.values()]
      .map(({ beat, lastMs }) => {
        const silentMs = Math.max(0, now - lastMs);
        return {
          ...beat,
          state: silentMs >= this.opts.suspectAfterMs ? 'suspect' : 'up',
          silentMs,
        } as NodeView;
      })
      .sort((a, b) =>
        a.syncgroup === b.syncgroup ? cmp(a.nodeId, b.nodeId) : cmp(a.syncgroup, b.syncgroup),
      );
  }
}

export class RegistryConflict extends Error {}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
