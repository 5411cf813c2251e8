// `recovery.json` in a storage node's data directory: where a recovery pull stands, so a node killed at any point
// resumes instead of starting over, and a restarted node is told apart from an empty one. Written durably (tmp →
// fdatasync → rename → fsync dir) before the first key is copied and then every few hundred keys.
//   absent            no pull ever began here: an empty node pulls, a node holding data serves
//   done: false       a pull is under way: resume it (from `cursor`, or only the join and catch-up when `pulled`)
//   done: true        the pull finished; the node is an ordinary member (`resyncFor`: the silent members whose
//                     missed writes it brought, reported with heartbeats)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Disk } from '../common/disk.ts';
import { writeFileDurable } from '../common/durable-file.ts';
import type { BinlogPosition } from './binlog-record.ts';

export const RECOVERY_FILE = 'recovery.json';

/** One key of a node, in the order `scanKeys` walks them: (bucket incarnation id, key bytes). */
export interface KeyRef {
  bucket: string;
  key: Buffer;
}

const position = z.object({ file: z.number().int().min(1), offset: z.number().int().min(0) });

const fileSchema = z.object({
  /** The mirror the pull copies from; another source means starting the scan over. */
  sourceNodeId: z.string().regex(/^[0-9a-f]{8}$/),
  startedMs: z.number().int().min(0),
  /** The last key such that it and every key before it is copied (base64 key bytes); absent: none yet. */
  cursor: z.object({ bucket: z.string().min(1).max(255), key: z.string().max(8192) }).optional(),
  /** Keys and bytes copied so far (progress survives a restart). */
  objects: z.number().int().min(0),
  bytes: z.number().min(0),
  /** The source's counts when the pull began. */
  totalObjects: z.number().int().min(0).optional(),
  totalBytes: z.number().min(0).optional(),
  /**
   * Per live member when the pull began, where in its binlog push sync toward this node must start so that
   * nothing the scan cannot see is missed (the source: its binlog's end; another member: what the source had
   * applied of its binlog). Handed to each member's push sync once the scan is done.
   */
  joinAt: z.record(z.string().regex(/^[0-9a-f]{8}$/), position),
  /** The scan reached the source's last key. */
  pulled: z.boolean(),
  /** The members' push sync was told where to start (joinAt); what is left is catching up. */
  joined: z.boolean(),
  done: z.boolean(),
  /**
   * A pull of a serving node that a silent member had left behind: those members (with the start time they
   * reported), whose missed writes the pull brought from a current member instead.
   */
  resyncFor: z
    .array(z.object({ nodeId: z.string().regex(/^[0-9a-f]{8}$/), startedMs: z.number() }))
    .optional(),
});

export interface RecoveryState {
  sourceNodeId: string;
  startedMs: number;
  cursor?: KeyRef;
  objects: number;
  bytes: number;
  totalObjects?: number;
  totalBytes?: number;
  joinAt: Record<string, BinlogPosition>;
  pulled: boolean;
  joined: boolean;
  done: boolean;
  resyncFor?: Array<{ nodeId: string; startedMs: number }>;
}

export class RecoveryFileError extends Error {}

/** The pull's state in `dataDir`, undefined when no pull ever began there. A damaged file is an error to report. */
export async function loadRecoveryState(dataDir: string): Promise<RecoveryState | undefined> {
  const path = join(dataDir, RECOVERY_FILE);
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  let parsed: z.infer<typeof fileSchema>;
  try {
    parsed = fileSchema.parse(JSON.parse(text));
  } catch {
    // Written atomically, so this is not a torn write: someone edited it. Starting over is always safe.
    throw new RecoveryFileError(
      `${path} is damaged; remove it and restart the node to begin its recovery pull again`,
    );
  }
  const { cursor, ...rest } = parsed;
  return {
    ...rest,
    ...(cursor ? { cursor: { bucket: cursor.bucket, key: Buffer.from(cursor.key, 'base64') } } : {}),
  };
}

export async function saveRecoveryState(disk: Disk, dataDir: string, state: RecoveryState): Promise<void> {
  const { cursor, ...rest } = state;
  const wire = {
    ...rest,
    ...(cursor ? { cursor: { bucket: cursor.bucket, key: cursor.key.toString('base64') } } : {}),
  };
  await writeFileDurable(disk, dataDir, RECOVERY_FILE, JSON.stringify(wire));
}
