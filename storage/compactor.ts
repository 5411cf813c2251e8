// The storage node's background compaction worker: every `intervalMs` it asks each volume to rewrite the
// chunkfiles whose live ratio fell below the threshold, at most `bytesPerSecond`, one volume at a time.
// Safety comes from elsewhere and is only relied on here:
// - packing copies each live entry (same opver), makes the copies durable and reports every move;
// - the node's move router points the index at the new location (only if the row still points at the
//   old one, so a concurrent overwrite or delete wins) and moves pins and claims with it (pins.ts);
// - before a chunkfile is marked done and removed, `beforeRetire` waits until those index commits are
//   on disk, so a crash after the removal never finds an index pointing into a file that is gone;
// - reads still pinned on a moved entry are forwarded to its copy, which their pin protects; the volume
//   forgets those forwards once every read and locked write begun before the file's retirement has ended.
import { EventEmitter } from 'node:events';
import type { CompactionReport, VolumePort } from './volume-port.ts';

export interface CompactionSettings {
  /** Chunkfiles whose live bytes are below this fraction of their size are rewritten (0 turns it off). */
  liveRatioBelow: number;
  /** Copy rate limit in bytes per second (0: unlimited; the worker still yields between entries). */
  bytesPerSecond: number;
  /** How often the volumes are checked. */
  intervalMs: number;
}

/** The pino-shaped part of a logger the worker uses. */
export interface CompactorLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CompactionStats {
  /** True while a run is copying. */
  running: boolean;
  runs: number;
  filesCompacted: number;
  entriesMoved: number;
  bytesMoved: number;
  bytesReclaimed: number;
  errors: number;
}

export interface CompactorDeps {
  volumes(): Iterable<[string, VolumePort]>;
  /** Resolves once every index commit made so far is on disk. */
  indexDurable(): Promise<void>;
  log?: CompactorLog;
}

/** Emits 'compacted' ({ volumeId, report }) after each volume run that rewrote at least one chunkfile. */
export class Compactor extends EventEmitter {
  private readonly totals: CompactionStats = {
    running: false,
    runs: 0,
    filesCompacted: 0,
    entriesMoved: 0,
    bytesMoved: 0,
    bytesReclaimed: 0,
    errors: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly deps: CompactorDeps,
    private readonly settings: CompactionSettings,
  ) {
    super();
  }

  start(): void {
    if (this.settings.liveRatioBelow <= 0 || this.timer || this.stopping) return;
    this.schedule();
  }

  /** Progress so far (a copy: the worker keeps counting). */
  stats(): CompactionStats {
    return { ...this.totals };
  }

  /** One pass over every volume now (also what the timer runs); resolves when it is done. */
  runOnce(): Promise<void> {
    this.current ??= this.pass().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  /** Stops after the chunkfile in progress (a file is always finished once begun). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runOnce().finally(() => {
        if (!this.stopping) this.schedule();
      });
    }, this.settings.intervalMs);
  }

  private async pass(): Promise<void> {
    for (const [volumeId, vol] of this.deps.volumes()) {
      if (this.stopping) return;
      if (!vol.compact) continue;
      try {
        await this.compactVolume(volumeId, vol);
      } catch (err) {
        this.totals.errors += 1;
        this.deps.log?.error({ err, volumeId }, 'compaction failed; retrying at the next check');
      }
    }
  }

  private async compactVolume(volumeId: string, vol: VolumePort): Promise<void> {
    const started = performance.now();
    let last = { entriesMoved: 0, bytesMoved: 0 };
    let report: CompactionReport;
    this.totals.running = true;
    try {
      report = await vol.compact!({
        liveRatioBelow: this.settings.liveRatioBelow,
        ...(this.settings.bytesPerSecond > 0 ? { bytesPerSecond: this.settings.bytesPerSecond } : {}),
        beforeRetire: () => this.deps.indexDurable(),
        shouldStop: () => this.stopping,
        onProgress: (p) => {
          this.totals.filesCompacted += 1;
          this.totals.entriesMoved += p.entriesMoved - last.entriesMoved;
          this.totals.bytesMoved += p.bytesMoved - last.bytesMoved;
          last = p;
          this.deps.log?.info(
            { volumeId, filesDone: p.filesDone, filesTotal: p.filesTotal, entriesMoved: p.entriesMoved },
            'compaction progress',
          );
        },
      });
    } finally {
      this.totals.running = false;
    }
    if (report.filesDone === 0) return;
    this.totals.runs += 1;
    this.totals.bytesReclaimed += Math.max(0, report.bytesReclaimed);
    const seconds = (performance.now() - started) / 1000;
    this.deps.log?.info(
      {
        volumeId,
        files: report.filesDone,
        entriesMoved: report.entriesMoved,
        bytesMoved: report.bytesMoved,
        bytesReclaimed: report.bytesReclaimed,
        seconds: Number(seconds.toFixed(3)),
        mbPerSecond: Number((report.bytesMoved / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)),
      },
      'compacted sparse chunkfiles',
    );
    this.emit('compacted', { volumeId, report });
  }
}
