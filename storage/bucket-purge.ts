// Drops everything stored under one bucket id (an incarnation): its objects (every version and delete
// marker), its uploads and their parts.
// Used for incarnations the tracker has deleted: a delete requires the bucket to be empty, so what is left
// is only what requests admitted before the delete wrote after it. One pass in key order; a request that
// lands behind the cursor purges again itself (the gateway re-checks its incarnation after every write).
import type { DroppedBucket, ListedUpload, ListedVersion, StorageApi } from './api.ts';

type Purgeable = Pick<StorageApi, 'listObjectVersions' | 'removeObject' | 'listUploads' | 'abortUpload'>;

const PAGE = 1000;
/** Deletes in flight at once: each is a durable commit, and group commit makes them cheap together. */
const CONCURRENCY = 16;

export async function dropBucket(store: Purgeable, bucket: string): Promise<DroppedBucket> {
  const out: DroppedBucket = { objects: 0, uploads: 0 };
  const empty = Buffer.alloc(0);
  let after: { afterKey: Buffer; afterVersionId: string } | undefined;
  for (;;) {
    const page: ListedVersion[] = await store.listObjectVersions(bucket, {
      prefix: empty,
      ...after,
      limit: PAGE,
    });
    if (page.length === 0) break;
    // One key at a time, newest version first: removing the current one promotes the next.
    const byKey = new Map<string, ListedVersion[]>();
    for (const v of page) {
      const k = v.key.toString('latin1');
      byKey.set(k, [...(byKey.get(k) ?? []), v]);
    }
    await eachLimited([...byKey.values()], async (versions) => {
      for (const v of versions) {
        const r = await store.removeObject({ bucket, key: v.key, versionId: v.versionId, nowMs: 0 });
        if (r.existed) out.objects++;
      }
    });
    const last = page[page.length - 1]!;
    after = { afterKey: last.key, afterVersionId: last.versionId };
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
