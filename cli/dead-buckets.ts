// At start, before any request is admitted: drop what deleted bucket incarnations may still hold in storage
// (writes admitted before a delete that landed after it, when the process stopped before they cleaned up),
// then forget their tombstones. Nothing admitted for them can still be running in a fresh process.
import type { Logger } from 'pino';
import type { StorageApi } from '../storage/api.ts';
import type { Catalog } from '../tracker/catalog.ts';

export async function purgeDeadBuckets(
  catalog: Pick<Catalog, 'deadBuckets' | 'forgetDeadBucket'>,
  storage: Pick<StorageApi, 'dropBucket'>,
  logger: Logger,
): Promise<void> {
  const dead = catalog.deadBuckets();
  let objects = 0;
  let uploads = 0;
  for (const bucket of dead) {
    const dropped = await storage.dropBucket(bucket.id);
    objects += dropped.objects;
    uploads += dropped.uploads;
    await catalog.forgetDeadBucket(bucket.id);
  }
  if (dead.length > 0) {
    logger.info({ incarnations: dead.length, objects, uploads }, 'purged leftovers of deleted buckets');
  }
}
