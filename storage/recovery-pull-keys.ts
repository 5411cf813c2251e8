// The copying half of a recovery pull: walks the source's keys in (bucket, key) order, page by page (`scanKeys`),
// and brings each key of the local node up to the source's (`copy`, storage/replica-ship.ts copyKey), with a
// bounded number of keys in flight. Keys finish out of order; the cursor handed to `onCursor` is the last key of
// the finished prefix, so resuming after it never skips a key (keys after it that were done already are copied
// again, which apply-if-newer turns into cheap 'stale' answers).
import type { KeyRef } from './recovery-pull-file.ts';
import type { ScannedKey } from './replica-scan.ts';

export interface PullSource {
  /** Every key of the node after `after` (all buckets), in order, at most `limit`. */
  scanKeys(opts: { after?: KeyRef; limit: number }): Promise<KeyRef[]>;
  /** The same page with each key's states and small versions' bytes (replica-scan.ts): used when offered. */
  scanStates?(opts: { after?: KeyRef; limit: number }): Promise<ScannedKey[]>;
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
  /** Copies one key; `scanned`: what its page brought of it (absent on a retry: everything asked again). */
  copy: (ref: KeyRef, scanned?: ScannedKey) => Promise<KeyCopied>;
  /** Resume after this key (the persisted cursor); absent: from the first key. */
  after?: KeyRef;
  /**
   * Keys copied at once (default 32): enough that the local node's commits group many applies and the source's disk
   * and the network stay busy; memory stays bounded (a page, and one body in flight per key).
   */
  concurrency?: number;
  /** Keys per scanKeys page (default 512). */
  pageSize?: number;
  /** Attempts per key before the pull stops with its error (default 3; the caller retries the pull later). */
  attempts?: number;
  /**
   * Called after each key is copied and the cursor moved past what is finished, before its worker takes the next
   * key: a throttle waits here, so it slows the pull without holding back the cursor of keys already copied.
   */
  pace?: (copied: KeyCopied) => Promise<void>;
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
  const concurrency = Math.max(1, opts.concurrency ?? 32);
  const pageSize = Math.max(1, opts.pageSize ?? 512);
  const attempts = Math.max(1, opts.attempts ?? 3);

  // The keys handed out and not yet part of the finished prefix, in scan order.
  type Slot = { ref: KeyRef; scanned?: ScannedKey; done: boolean; copied?: KeyCopied };
  const window: Slot[] = [];
  type Page = Array<{ ref: KeyRef; scanned?: ScannedKey }>;
  let page: Page = [];
  let pageAt = 0;
  let after = opts.after;
  /** The scan handed out its last page: nothing more to fetch. */
  let exhausted = false;
  /** The next page, fetched while the current one is halfway through (the workers never wait a whole fetch). */
  let ahead: Promise<Page> | undefined;
  let failure: unknown;

  const fetchPage = async (at: { after?: KeyRef; limit: number }): Promise<Page> =>
    opts.source.scanStates
      ? (await opts.source.scanStates(at)).map((s) => ({ ref: { bucket: s.bucket, key: s.key }, scanned: s }))
      : (await opts.source.scanKeys(at)).map((ref) => ({ ref }));

  const fetchAhead = () => {
    if (ahead || exhausted) return;
    ahead = fetchPage({ ...(after ? { after } : {}), limit: pageSize });
    ahead.catch(() => undefined); // awaited by take(), which reports it; never unhandled meanwhile
  };

  /** The next key to copy, or undefined at the end (one page fetch at a time, shared by every worker). */
  const take = async (): Promise<Slot | undefined> => {
    for (;;) {
      if (failure !== undefined || opts.signal?.aborted) return undefined;
      if (pageAt < page.length) {
        const slot: Slot = { ...page[pageAt++]!, done: false };
        window.push(slot);
        if (pageAt * 2 >= page.length) fetchAhead();
        return slot;
      }
      fetchAhead();
      if (!ahead) return undefined;
      const fetching = ahead;
      const next = await fetching;
      if (ahead !== fetching) continue; // another worker took this page in already
      ahead = undefined;
      page = next;
      pageAt = 0;
      if (next.length < pageSize) exhausted = true;
      if (next.length > 0) after = next[next.length - 1]!.ref;
    }
  };

  const settle = () => {
    while (window.length > 0 && window[0]!.done) {
      const slot = window.shift()!;
      opts.onCursor(slot.ref, slot.copied!);
    }
  };

  const copyWithRetry = async (ref: KeyRef, scanned: ScannedKey | undefined): Promise<KeyCopied> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await opts.copy(ref, attempt === 1 ? scanned : undefined);
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
        const copied = await copyWithRetry(slot.ref, slot.scanned);
        slot.copied = copied;
        slot.scanned = undefined; // its bytes are not held while the slot waits for the prefix
        slot.done = true;
        settle();
        await opts.pace?.(copied);
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
