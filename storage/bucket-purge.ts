// Drops everything stored under one bucket id (an incarnation): its objects, its uploads and their parts.
// Used for incarnations the tracker has deleted: a delete requires the bucket to be empty, so what is left
// is only what requests admitted before the delete wrote after it. One pass in key order; a request that
// lands behind the cursor purges again itself (the gateway re-checks its incarnation after every write).
import type { DroppedBucket, ListedObject, ListedUpload, StorageApi } from './api.ts';

type Purgeable = Pick<StorageApi, 'listObjects' | 'deleteObject' | 'listUploads' | 'abortUpload'>;

const PAGE = 1000;
/** Deletes in flight at once: each is a durable commit, and group commit makes them cheap together. */
const CONCURRENCY = 16;

export async function dropBucket(store: Purgeable, bucket: string): Promise<DroppedBucket> {
  const out: DroppedBucket = { objects: 0, uploads: 0 };
  const empty = Buffer.alloc(0);
  let after: Buffer | undefined;
  for (;;) {
    const page: ListedObject[] = await store.listObjects(bucket, {
      prefix: empty,
      ...(after ? { after } : {}),
      limit: PAGE,
    });
    if (page.length === 0) break;
    await eachLimited(page, async (o) => {
      if (await store.deleteObject(bucket, o.key)) out.objects++;
    });
    after = page[page.length - 1]!.key;
  }
  let cursor: { afterKey: Buffer; afterUploadId: string } | undefined;
  for (;;) {
    const page: ListedUpload[] = await store.listUploads(bucket, { prefix: empty, ...cursor, limit: PAGE });
    if (page.length === 0) break;
    await eachLimited(page, async (u) => {
      try {
        await store.abortUpload(bucket, u.key, u.uploadId);
        out.uploads++;
      } catch (err) {
        // Completed or aborted meanwhile: nothing of it left to drop here.
        if ((err as { code?: unknown }).code !== 'NoSuchUpload') throw err;
      }
    });
    const last = page[page.length - 1]!;
    cursor = { afterKey: last.key, afterUploadId: last.uploadId };
  }
  return out;
}

async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}
