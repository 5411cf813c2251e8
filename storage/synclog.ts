// The synclog: per mirror, how far it has applied this node's binlog (the position push sync resumes from),
// whether it stayed away past the binlog retention (it then needs a recovery pull: its records are no longer
// kept), and since when it has been away. One small file per mirror in DIR, `<node id>.json`, replaced
// atomically and durably (common/durable-file.ts), so push sync can be killed at any point and resume: the
// position is written only after the batch before it was acknowledged, and replaying a batch is harmless
// (the mirror applies a state only if it is newer).
import { join } from 'node:path';
import { z } from 'zod';
import { type Disk, isNotFound } from '../common/disk.ts';
import { mkdirDurable, writeFileDurable } from '../common/durable-file.ts';
import type { BinlogPosition } from './binlog.ts';

export interface SyncEntry {
  /** Every record of this node's binlog before this position is applied by the mirror. */
  at: BinlogPosition;
  /** The mirror stayed away past the retention: push sync cannot bring it back; a recovery pull must. */
  needsPull?: boolean;
  /** When push sync last failed to reach the mirror without a success since (absent: reachable). */
  awaySinceMs?: number;
}

const entrySchema = z.object({
  at: z.object({ file: z.number().int().min(1), offset: z.number().int().min(0) }),
  needsPull: z.boolean().optional(),
  awaySinceMs: z.number().optional(),
});

const FILE = /^([0-9a-f]{8})\.json$/;

export class Synclog {
  private constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly entries: Map<string, SyncEntry>,
  ) {}

  /** Writes of one mirror's file, one at a time (they share its tmp file). */
  private readonly chains = new Map<string, Promise<void>>();

  /**
   * Reads every mirror's entry. A damaged file (never half-written: the rename is atomic) counts as absent:
   * push sync then starts that mirror from the oldest record kept, which replays but loses nothing kept.
   */
  static async open(disk: Disk, dir: string): Promise<Synclog> {
    await mkdirDurable(disk, dir);
    const entries = new Map<string, SyncEntry>();
    for (const name of await disk.readdir(dir)) {
      const id = FILE.exec(name)?.[1];
      if (!id) continue;
      try {
        const parsed = entrySchema.safeParse(JSON.parse((await disk.readFile(join(dir, name))).toString()));
        if (parsed.success) entries.set(id, parsed.data);
      } catch (err) {
        if (!isNotFound(err) && !(err instanceof SyntaxError)) throw err;
      }
    }
    return new Synclog(disk, dir, entries);
  }

  get(nodeId: string): SyncEntry | undefined {
    return this.entries.get(nodeId);
  }

  /** Mirrors with an entry. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Replaces a mirror's entry durably; `get` shows it once it survives a crash (the retention floor reads it:
   * a segment is never removed on the strength of a position a crash could take back).
   */
  set(nodeId: string, entry: SyncEntry): Promise<void> {
    const clean: SyncEntry = { at: { file: entry.at.file, offset: entry.at.offset } };
    if (entry.needsPull) clean.needsPull = true;
    if (entry.awaySinceMs !== undefined) clean.awaySinceMs = entry.awaySinceMs;
    const write = (this.chains.get(nodeId) ?? Promise.resolve()).then(async () => {
      await writeFileDurable(this.disk, this.dir, `${nodeId}.json`, JSON.stringify(clean));
      this.entries.set(nodeId, clean);
    });
    this.chains.set(
      nodeId,
      write.catch(() => undefined),
    );
    return write;
  }
}
