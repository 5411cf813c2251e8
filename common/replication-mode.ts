// The bucket setting 'replication-mode' (catalog kind): how a write to the bucket is acknowledged in a syncgroup
// of several nodes. 'mirrored' (the default, also when the setting is absent): after every live mirror has it
// durable. 'async': after the primary; mirrors catch up by push sync, so a read served by a mirror can be behind.
import { z } from 'zod';

export const replicationModeSchema = z.enum(['mirrored', 'async']);
export type ReplicationMode = z.infer<typeof replicationModeSchema>;

/** The mode a stored setting says; anything absent or unreadable is the default, mirrored. */
export function readReplicationMode(value: unknown): ReplicationMode {
  const parsed = replicationModeSchema.safeParse(value);
  return parsed.success ? parsed.data : 'mirrored';
}
