// The syncgroup's other members as replication ends: one HTTP client per member URL (kept while the member is),
// from the membership the tracker reports with each heartbeat reply (cluster-member.ts). Only members marked up
// are offered: a suspect or recovering node is not asked for good bytes.
import type { NodeView } from '../common/cluster-wire.ts';
import { StorageClient } from './http-client.ts';
import type { ReplicaEnd } from './replica-api.ts';

export class ReplicaPeers {
  private readonly clients = new Map<string, StorageClient>();

  constructor(private readonly opts: { secret?: string; connections?: number } = {}) {}

  /** The live members of `members`, as clients; clients of members no longer listed are closed. */
  ends(members: readonly NodeView[]): ReplicaEnd[] {
    const out: ReplicaEnd[] = [];
    const listed = new Set(members.map((m) => m.url));
    for (const [url, c] of this.clients)
      if (!listed.has(url)) {
        this.clients.delete(url);
        c.close().catch(() => undefined);
      }
    for (const m of members) {
      if (m.state !== 'up') continue;
      let c = this.clients.get(m.url);
      if (!c) {
        c = new StorageClient(m.url, {
          connections: this.opts.connections ?? 4,
          ...(this.opts.secret !== undefined ? { secret: this.opts.secret } : {}),
        });
        this.clients.set(m.url, c);
      }
      out.push(c);
    }
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }
}
