// Prometheus metrics of the gateway and the node it serves (prom-client), exposed at GET /metrics.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface VolumeUsage {
  readonly volumeId: string;
  readonly liveBytes: number;
  readonly holeBytes: number;
  readonly diskBytes: number;
  readonly liveEntries: number;
}

/** What the storage node's compaction worker has done so far. */
export interface CompactionProgressTotals {
  readonly running: boolean;
  readonly filesCompacted: number;
  readonly entriesMoved: number;
  readonly bytesMoved: number;
  readonly bytesReclaimed: number;
  readonly errors: number;
}

/** What the storage node's lifecycle worker has done so far. */
export interface LifecycleProgressTotals {
  readonly running: boolean;
  readonly passes: number;
  readonly objectsScanned: number;
  readonly objectsExpired: number;
  readonly versionsExpired: number;
  readonly markersRemoved: number;
  readonly uploadsAborted: number;
  readonly errors: number;
}

/** One storage node as the tracker last reported it (cluster gateways): its state and its heartbeat's figures. */
export interface ClusterNodeMetrics {
  readonly nodeId: string;
  readonly syncgroup: string;
  readonly state: 'up' | 'suspect' | 'recovering';
  readonly objects: number;
  /** Bad checksums it repaired from a mirror since it started. */
  readonly repairs?: number;
  /** Per mirror, what of this node's binlog the mirror has not applied yet. */
  readonly sync?: ReadonlyArray<{
    readonly nodeId: string;
    readonly lagOps: number;
    readonly lagBytes: number;
  }>;
}

const NODE_STATES = ['up', 'suspect', 'recovering'] as const;

export class GatewayMetrics {
  readonly registry = new Registry();
  /** Requests per (op, status) counted here and handed to prom-client at scrape time: no label hashing per request. */
  private readonly requestCounts = new Map<
    string,
    { op: string; status: string; count: number; reported: number }
  >();
  private readonly requests = new Counter({
    name: 'quire_s3_requests_total',
    help: 'S3 requests by operation and HTTP status',
    labelNames: ['op', 'status'] as const,
    registers: [this.registry],
    collect: () => this.reportRequestCounts(),
  });
  private readonly latency = new Histogram({
    name: 'quire_s3_request_duration_seconds',
    help: 'S3 request latency by operation, from first byte in to last byte out',
    labelNames: ['op'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly bytesIn = new Counter({
    name: 'quire_s3_bytes_in_total',
    help: 'Object bytes received',
    registers: [this.registry],
  });
  private readonly bytesOut = new Counter({
    name: 'quire_s3_bytes_out_total',
    help: 'Object bytes sent',
    registers: [this.registry],
  });

  constructor(volumeUsage: () => Promise<VolumeUsage[]>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'quire_' });
    const gauge = (name: string, help: string, pick: (v: VolumeUsage) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['volume'] as const,
        registers: [this.registry],
        async collect() {
          for (const v of await volumeUsage()) this.set({ volume: v.volumeId }, pick(v));
        },
      });
    gauge('quire_volume_live_bytes', 'Bytes of live object data per volume', (v) => v.liveBytes);
    gauge(
      'quire_volume_hole_bytes',
      'Bytes freed by deletes and not yet reused, per volume',
      (v) => v.holeBytes,
    );
    gauge('quire_volume_disk_bytes', 'Bytes the volume occupies on disk', (v) => v.diskBytes);
    gauge('quire_volume_live_objects', 'Live entries per volume', (v) => v.liveEntries);
  }

  /** A counter that follows a running total kept elsewhere (read at scrape time; only increases are added). */
  private totalCounter(name: string, help: string, total: () => number): Counter {
    let reported = 0;
    return new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const now = total();
        if (now > reported) this.inc(now - reported);
        reported = now;
      },
    });
  }

  /** Exports the storage node's background compaction progress (read at scrape time). */
  addCompaction(read: () => CompactionProgressTotals): void {
    const counter = (name: string, help: string, pick: (t: CompactionProgressTotals) => number) =>
      this.totalCounter(name, help, () => pick(read()));
    counter('quire_compaction_files_total', 'Chunkfiles compacted', (t) => t.filesCompacted);
    counter(
      'quire_compaction_entries_moved_total',
      'Live entries copied by compaction',
      (t) => t.entriesMoved,
    );
    counter('quire_compaction_bytes_moved_total', 'Bytes copied by compaction', (t) => t.bytesMoved);
    counter(
      'quire_compaction_bytes_reclaimed_total',
      'Disk bytes compaction gave back (retired chunkfiles minus what their live entries took)',
      (t) => t.bytesReclaimed,
    );
    counter('quire_compaction_errors_total', 'Compaction passes that failed', (t) => t.errors);
    new Gauge({
      name: 'quire_compaction_running',
      help: '1 while the compaction worker is copying',
      registers: [this.registry],
      collect() {
        this.set(read().running ? 1 : 0);
      },
    });
  }

  /** Exports the storage node's lifecycle worker progress (read at scrape time). */
  addLifecycle(read: () => LifecycleProgressTotals): void {
    const counter = (name: string, help: string, pick: (t: LifecycleProgressTotals) => number) =>
      this.totalCounter(name, help, () => pick(read()));
    counter('quire_lifecycle_passes_total', 'Lifecycle passes over every bucket completed', (t) => t.passes);
    counter(
      'quire_lifecycle_objects_scanned_total',
      'Objects the lifecycle worker looked at',
      (t) => t.objectsScanned,
    );
    counter(
      'quire_lifecycle_objects_expired_total',
      'Objects removed by an Expiration rule',
      (t) => t.objectsExpired,
    );
    counter(
      'quire_lifecycle_versions_expired_total',
      'Noncurrent versions removed by a NoncurrentVersionExpiration rule',
      (t) => t.versionsExpired,
    );
    counter(
      'quire_lifecycle_delete_markers_removed_total',
      'Delete markers without older versions removed (ExpiredObjectDeleteMarker)',
      (t) => t.markersRemoved,
    );
    counter(
      'quire_lifecycle_uploads_aborted_total',
      'Incomplete multipart uploads aborted by an AbortIncompleteMultipartUpload rule',
      (t) => t.uploadsAborted,
    );
    counter('quire_lifecycle_errors_total', 'Lifecycle passes that failed', (t) => t.errors);
    new Gauge({
      name: 'quire_lifecycle_running',
      help: '1 while a lifecycle pass is running',
      registers: [this.registry],
      collect() {
        this.set(read().running ? 1 : 0);
      },
    });
  }

  /**
   * Exports the cluster's storage nodes as the tracker last reported them (read at scrape time): state, objects,
   * checksum repairs and push-sync lag per mirror. The figures are the nodes' own since they started, so gauges.
   */
  addCluster(read: () => readonly ClusterNodeMetrics[]): void {
    const perNode = (name: string, help: string, pick: (n: ClusterNodeMetrics) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['node', 'syncgroup'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const n of read()) {
            const v = pick(n);
            if (v !== undefined) this.set({ node: n.nodeId, syncgroup: n.syncgroup }, v);
          }
        },
      });
    new Gauge({
      name: 'quire_node_state',
      help: 'Storage node state as the tracker reports it: 1 for the state it is in (up, suspect, recovering)',
      labelNames: ['node', 'syncgroup', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const n of read())
          for (const state of NODE_STATES)
            this.set({ node: n.nodeId, syncgroup: n.syncgroup, state }, n.state === state ? 1 : 0);
      },
    });
    perNode('quire_node_objects', 'Objects the storage node holds (its last heartbeat)', (n) => n.objects);
    perNode(
      'quire_node_checksum_repairs',
      'Bad checksums the storage node repaired from a mirror since it started (its last heartbeat)',
      (n) => n.repairs ?? 0,
    );
    const lag = (name: string, help: string, pick: (r: { lagOps: number; lagBytes: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['node', 'mirror'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const n of read())
            for (const r of n.sync ?? []) this.set({ node: n.nodeId, mirror: r.nodeId }, pick(r));
        },
      });
    lag(
      'quire_sync_lag_operations',
      "Operations of the node's binlog the mirror has not applied yet",
      (r) => r.lagOps,
    );
    lag(
      'quire_sync_lag_bytes',
      "Bytes of the node's binlog the mirror has not applied yet",
      (r) => r.lagBytes,
    );
    this.failovers = new Counter({
      name: 'quire_read_failovers_total',
      help: 'Reads that moved on to another member because a storage node did not answer',
      registers: [this.registry],
    });
  }

  /** Counts a read that left a storage node that did not answer for the next member (cluster gateways). */
  readFailedOver(): void {
    this.failovers?.inc();
  }
  private failovers: Counter | undefined;

  /** The latency histogram's child per op, so the label object is built and checked once. */
  private readonly latencyChildren = new Map<string, { observe(value: number): void }>();

  observe(op: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const key = `${op} ${status}`;
    const counted = this.requestCounts.get(key);
    if (counted === undefined)
      this.requestCounts.set(key, { op, status: String(status), count: 1, reported: 0 });
    else counted.count++;
    let latency = this.latencyChildren.get(op);
    if (latency === undefined) {
      latency = this.latency.labels(op);
      this.latencyChildren.set(op, latency);
    }
    latency.observe(seconds);
    if (bytesIn > 0) this.bytesIn.inc(bytesIn);
    if (bytesOut > 0) this.bytesOut.inc(bytesOut);
  }

  private reportRequestCounts(): void {
    for (const c of this.requestCounts.values()) {
      if (c.count === c.reported) continue;
      this.requests.inc({ op: c.op, status: c.status }, c.count - c.reported);
      c.reported = c.count;
    }
  }
}
