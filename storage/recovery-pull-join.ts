// The member's side of a recovery pull's join (PushSyncControl, served as `syncPosition` and `joinPushSync`): where
// push sync toward a pulling node must start, and starting it there once the pull's scan is done.
import type { SyncReport } from '../common/cluster-wire.ts';
import type { BinlogPosition } from './binlog-record.ts';
import type { JoinResult, PushSyncControl } from './recovery-pull.ts';

/** What the join needs of this node's push sync (storage/push-sync.ts). */
export interface JoinablePushSync {
  /** Where this node's binlog ends now (confirmed records). */
  readonly end: BinlogPosition;
  /** Where the oldest binlog segment still kept starts. */
  oldest(): Promise<BinlogPosition>;
  /** What `nodeId` has applied of this node's binlog (undefined: never seen, or it needs a pull). */
  position(nodeId: string): BinlogPosition | undefined;
  /** Push sync to `nodeId` resumes from `at`; a needsPull mark is cleared. */
  join(nodeId: string, at: BinlogPosition): Promise<void>;
  /** Resolves once `nodeId` has applied everything confirmed in the binlog now. */
  caughtUp(nodeId: string, opts: { signal?: AbortSignal }): Promise<void>;
  report(): SyncReport[];
}

export function pushSyncControl(selfId: string, sync: JoinablePushSync): PushSyncControl {
  return {
    async position(toward, forNode) {
      // The source: everything before its binlog's end is in its store, which the pull scans. Another member: what
      // the source has applied of this node's binlog is in the source's store; from there on this node ships it
      // itself. Unknown: everything kept (replays are harmless).
      const at = toward === selfId ? sync.end : (sync.position(toward) ?? (await sync.oldest()));
      // Set even when push sync was further for that node id: its store may be new (a replaced disk).
      if (forNode !== undefined && forNode !== selfId) await sync.join(forNode, at);
      return at;
    },
    async join(nodeId, at, waitMs) {
      const now = sync.position(nodeId);
      // Push sync already shipped past `at` to this node (it saw the node as a member during the pull): keep it;
      // moving it back would only replay, and could fall into a segment removed meanwhile.
      if (!now || before(now, at)) await sync.join(nodeId, at);
      if (needsPull(sync, nodeId)) return { caughtUp: false, needsPull: true };
      // Bounded: the caller asks again (the wait itself may not notice the timeout until push sync settles).
      const ctl = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((done) => {
        timer = setTimeout(() => {
          ctl.abort();
          done(false);
        }, waitMs);
      });
      const caughtUp = await Promise.race([
        sync.caughtUp(nodeId, { signal: ctl.signal }).then(
          () => true,
          () => false,
        ),
        timedOut,
      ]);
      clearTimeout(timer);
      const result: JoinResult = { caughtUp };
      if (!caughtUp && needsPull(sync, nodeId)) result.needsPull = true;
      return result;
    },
  };
}

function needsPull(sync: JoinablePushSync, nodeId: string): boolean {
  return sync.report().some((r) => r.nodeId === nodeId && r.needsPull === true);
}

function before(a: BinlogPosition, b: BinlogPosition): boolean {
  return a.file < b.file || (a.file === b.file && a.offset < b.offset);
}
