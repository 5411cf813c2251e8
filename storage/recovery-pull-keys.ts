// The copying half of a recovery pull: walks the source's keys in (bucket, key) order, page by page (`scanKeys`),
// and brings each key of the local node up to the source's (`copy`, storage/replica-ship.ts copyKey), with a
// bounded number of keys in flight. Keys finish out of order; the cursor handed to `onCursor` is the last key of
// the finished prefix, so resuming after it never skips a key (keys after it that were done already are copied
// again, which apply-if-newer turns into cheap 'stale' answers).
import type { KeyRef } from './recovery-pull-file.ts';

export interface PullSource {
  /** Every key of the node after `after` (all buckets), in order, at most `limit`. */
  scanKeys(opts: { after?: KeyRef; limit: number }): Promise<KeyRef[]>;
}

/** What copying one key did on the local node. */
export interface KeyCopied {
  /** Versions (and tombstones) applied: 0 when the node already held the key as the source does. */
  applied: number;
  /** Object bytes applied. */
  bytes: number;
}

export interface PullKeysOptions {
  source: PullSource;
  copy: (ref: KeyRef) => Promise<KeyCopied>;
  /** Resume after this key (the persisted cursor); absent: from the first key. */
  after?: KeyRef;
  /** Keys copied at once (default 12): enough to keep the source's disk and the network busy, bounded memory. */
  concurrency?: number;
  /** Keys per scanKeys page (default 512). */
  pageSize?: number;
  /** Attempts per key before the pull stops with its error (default 3; the caller retries the pull later). */
  attempts?: number;
  /** The finished prefix grew: its last key, and the key just finished. */
  onCursor: (cursor: KeyRef, copied: KeyCopied) => void;
  /** Stops the pull between keys (in-flight keys finish). */
  signal?: AbortSignal;
}

export class PullAborted extends Error {
  constructor() {
    super('recovery pull stopped');
  }
}

/** Copies every key of the source after `after`; resolves when the scan reached the end. */
export async function pullKeys(opts: PullKeysOptions): Promise<void> {
  const concurrency = Math.max(1, opts.concurrency ?? 12);
  const pageSize = Math.max(1, opts.pageSize ?? 512);
  const attempts = Math.max(1, opts.attempts ?? 3);

  // The keys handed out and not yet part of the finished prefix, in scan order.
  const window: Array<{ ref: KeyRef; done: boolean; copied?: KeyCopied }> = [];
  let page: KeyRef[] = [];
  let pageAt = 0;
  let after = opts.after;
  let exhausted = false;
  let fetching: Promise<void> | undefined;
  let failure: unknown;

  const fetchPage = async () => {
    const next = await opts.source.scanKeys({ ...(after ? { after } : {}), limit: pageSize });
    page = next;
    pageAt = 0;
    if (next.length < pageSize) exhausted = true;
    if (next.length > 0) after = next[next.length - 1];
  };

  /** The next key to copy, or undefined at the end (one page fetch at a time, shared by every worker). */
  const take = async (): Promise<{ ref: KeyRef; done: boolean; copied?: KeyCopied } | undefined> => {
    for (;;) {
      if (failure !== undefined || opts.signal?.aborted) return undefined;
      if (pageAt < page.length) {
        const slot = { ref: page[pageAt++]!, done: false };
        window.push(slot);
        return slot;
      }
      if (exhausted) return undefined;
      fetching ??= fetchPage().finally(() => {
        fetching = undefined;
      });
      await fetching;
    }
  };

  const settle = () => {
    while (window.length > 0 && window[0]!.done) {
      const slot = window.shift()!;
      opts.onCursor(slot.ref, slot.copied!);
    }
  };

  const copyWithRetry = async (ref: KeyRef): Promise<KeyCopied> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await opts.copy(ref);
      } catch (err) {
        if (attempt >= attempts || opts.signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  };

  const worker = async () => {
    for (;;) {
      let slot: Awaited<ReturnType<typeof take>>;
      try {
        slot = await take();
      } catch (err) {
        failure ??= err;
        return;
      }
      if (!slot) return;
      try {
        slot.copied = await copyWithRetry(slot.ref);
        slot.done = true;
        settle();
      } catch (err) {
        failure ??= err;
        return;
      }
    }
  };

  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failure !== undefined) throw failure;
  if (opts.signal?.aborted) throw new PullAborted();
}
