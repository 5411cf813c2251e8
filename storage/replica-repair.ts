// Bad bytes repaired from a mirror. A read whose bytes fail their checksum (packing's CorruptEntryError) asks
// the mirrors, in turn, for that version (copyKey with force: the same opver is taken again), which replaces
// the local copy (the bad entry is freed once its last reader lets go), then the read goes on from the
// repaired copy at the byte where it stopped: the reader gets the good bytes and never a byte twice. Without a
// mirror holding the version at the same opver the read fails as before: no bytes that fail their checksum are
// ever returned.
import type { ByteRangeInclusive, ReadHandle, VersionSelector } from './api.ts';
import { compareOpver } from './records.ts';
import type { ReplicaEnd } from './replica-api.ts';
import { copyKey } from './replica-ship.ts';

export interface RepairDeps {
  /** This node, read without repair (no recursion). */
  readonly self: ReplicaEnd;
  /** The syncgroup's other live members, as the cluster membership reports them now. */
  readonly mirrors: () => readonly ReplicaEnd[];
  readonly log?: { warn(obj: object, msg: string): void };
}

export class Repairer {
  /** Versions repaired from a mirror since the node started. */
  repairs = 0;
  /** Repairs in progress by version: concurrent readers of one bad version share one. */
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(private readonly d: RepairDeps) {}

  /** A handle whose stream repairs the version and goes on when the local bytes turn out bad. */
  wrap(h: ReadHandle, bucket: string, key: Buffer): ReadHandle {
    const self = this;
    return {
      record: h.record,
      release: () => h.release(),
      async *stream(range?: ByteRangeInclusive) {
        let sent = 0;
        try {
          for await (const c of h.stream(range)) {
            sent += c.length;
            yield c;
          }
          return;
        } catch (err) {
          if (!isCorrupt(err) || !(await self.repair(bucket, key, h.record, err))) throw err;
          const start = (range?.start ?? 0) + sent;
          const end = range?.end ?? h.record.size - 1;
          if (start > end) return;
          // The repaired copy: the same version at the same opver, or nothing to go on with.
          const which: VersionSelector = { versionId: h.record.versionId };
          const again = await self.d.self.openObject(bucket, key, which);
          if (!again) throw err;
          try {
            if (compareOpver(again.record.opver, h.record.opver) !== 0) throw err;
            yield* again.stream({ start, end });
          } finally {
            again.release();
          }
        }
      },
    };
  }

  /** True once the version was replaced by a good copy from a mirror. */
  private repair(
    bucket: string,
    key: Buffer,
    record: ReadHandle['record'],
    cause: unknown,
  ): Promise<boolean> {
    const id = `${bucket}\0${key.toString('latin1')}\0${record.versionId}`;
    let p = this.running.get(id);
    if (!p) {
      p = this.fetch(bucket, key, record.versionId, cause).finally(() => this.running.delete(id));
      this.running.set(id, p);
    }
    return p;
  }

  private async fetch(bucket: string, key: Buffer, versionId: string, cause: unknown): Promise<boolean> {
    for (const mirror of this.d.mirrors()) {
      try {
        const r = await copyKey({ from: mirror, to: this.d.self, bucket, key, versionId, force: true });
        if (r.applied > 0) {
          this.repairs += 1;
          this.d.log?.warn(
            { bucket, key: key.toString('base64url'), versionId, cause: (cause as Error).message },
            'bad bytes repaired from a mirror',
          );
          return true;
        }
      } catch {
        // This mirror is down or holds bad bytes too: the next one.
      }
    }
    return false;
  }
}

/** The volume found bytes that fail their checksum (packing's CorruptEntryError). */
export function isCorrupt(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'CORRUPT_ENTRY';
}
