// The registry of storage nodes, built from their heartbeats. A node silent for `suspectAfterMs` is suspect:
// reported, and (once mirroring lets the gateway do so) routed around; it is never dropped on its own (an operator
// decides a node is gone). Which nodes exist (id, syncgroup, address) is kept in `nodes.json`, so a restarted
// tracker still lists a node that is down: without mirrors a key's node is fixed by its syncgroup's membership, and
// forgetting a member would send its keys to another. A wiped tracker relearns the members from their heartbeats.
import { readFile } from 'node:fs/promises';
import { type Heartbeat, heartbeatSchema, type NodeView } from '../common/cluster-wire.ts';
import { nodeDisk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';

const FILE = 'nodes.json';

export interface RegistryOptions {
  suspectAfterMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Where `nodes.json` lives; absent: nothing is kept (tests). */
  dir?: string;
  /** A new node id took over the address of a known member (its disk was replaced): the old entry is dropped. */
  onReplaced?: (old: NodeView, by: Heartbeat) => void;
}

export class NodeRegistry {
  private readonly nodes = new Map<string, { beat: Heartbeat; lastMs: number }>();
  private persisting: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RegistryOptions) {}

  /**
   * Loads the members a previous run knew, each as last heard at this start: a restarted tracker gives them one
   * silence limit to beat again before calling them suspect. Calling them all suspect at once would leave a
   * syncgroup with no member up, and every write would fail, until their next heartbeats (a node that did die
   * meanwhile is still reported behind by its mirrors, so nothing is routed to it).
   */
  async load(): Promise<void> {
    if (!this.opts.dir) return;
    const text = await readFile(`${this.opts.dir}/${FILE}`, 'utf8').catch(() => '[]');
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch {
      rows = [];
    }
    const since = this.opts.now();
    for (const row of Array.isArray(rows) ? rows : []) {
      const hb = heartbeatSchema.safeParse(row);
      if (!hb.success) continue;
      // The kept beat may be the node's first (still deciding whether to pull): its phase is not known now, and
      // a stale 'recovering' would route nothing to the node until it beats again.
      const { phase: _phase, recovery: _recovery, ...beat } = hb.data;
      this.nodes.set(hb.data.nodeId, { beat, lastMs: since });
    }
  }

  /** Records a heartbeat; throws when the node id is already known in another syncgroup. */
  async beat(hb: Heartbeat): Promise<void> {
    const known = this.nodes.get(hb.nodeId);
    if (known && known.beat.syncgroup !== hb.syncgroup) {
      throw new RegistryConflict(
        `node ${hb.nodeId} is registered in syncgroup ${known.beat.syncgroup}, not ${hb.syncgroup}`,
      );
    }
    // Only one process answers at an address: a new id there (a node restarted on a wiped or replaced disk)
    // means the member that had it is gone, so routing and status must not keep it as a ghost.
    const replaced = known
      ? []
      : this.list().filter((n) => n.syncgroup === hb.syncgroup && n.url === hb.url && n.nodeId !== hb.nodeId);
    for (const old of replaced) {
      this.nodes.delete(old.nodeId);
      this.opts.onReplaced?.(old, hb);
    }
    this.nodes.set(hb.nodeId, { beat: hb, lastMs: this.opts.now() });
    if (!known || known.beat.url !== hb.url || replaced.length > 0) await this.persist();
  }

  /**
   * An operator removes a node that is gone for good. Only a suspect node may be forgotten: a live one would
   * register again with its next heartbeat.
   */
  async forget(nodeId: string): Promise<'forgotten' | 'no-such-node' | 'not-suspect'> {
    const node = this.list().find((n) => n.nodeId === nodeId);
    if (!node) return 'no-such-node';
    if (node.state !== 'suspect') return 'not-suspect';
    this.nodes.delete(nodeId);
    await this.persist();
    return 'forgotten';
  }

  list(): NodeView[] {
    const now = this.opts.now();
    return [...this.nodes.values()]
      .map(({ beat, lastMs }) => {
        const silentMs = Math.max(0, now - lastMs);
        return {
          ...beat,
          state:
            silentMs >= this.opts.suspectAfterMs
              ? 'suspect'
              : beat.phase === 'recovering'
                ? 'recovering'
                : 'up',
          silentMs,
        } as NodeView;
      })
      .sort((a, b) =>
        a.syncgroup === b.syncgroup ? cmp(a.nodeId, b.nodeId) : cmp(a.syncgroup, b.syncgroup),
      );
  }

  private persist(): Promise<void> {
    const dir = this.opts.dir;
    if (!dir) return Promise.resolve();
    const rows = JSON.stringify([...this.nodes.values()].map((n) => n.beat));
    this.persisting = this.persisting
      .catch(() => undefined)
      .then(() => writeFileDurable(nodeDisk, dir, FILE, rows));
    return this.persisting;
  }
}

export class RegistryConflict extends Error {}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
