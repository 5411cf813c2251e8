// `quire status`: what the tracker knows of the cluster, for a person (default) or a script (--json, stable: the
// tracker's report as it sends it, plus a `summary` per syncgroup in the words the person sees).
import { parseArgs } from 'node:util';
import { type ClusterStatus, statusSchema, TRACKER } from '../common/cluster-wire.ts';
import { urlFlag } from './cluster-process.ts';
import { callTracker } from './tracker-call.ts';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      tracker: { type: 'string' },
      json: { type: 'boolean' },
      'cluster-secret-file': { type: 'string' },
    },
  });
  const url = urlFlag(values.tracker, '--tracker');
  const status = await callTracker(
    { url, secretFile: values['cluster-secret-file'] },
    TRACKER.status,
    undefined,
    statusSchema,
  );
  process.stdout.write(
    values.json ? `${JSON.stringify(statusJson(status), null, 2)}\n` : describeStatus(status),
  );
  return 0;
}

type Group = ClusterStatus['syncgroups'][number];
type GroupNode = Group['nodes'][number];

/** How safe and how available a syncgroup is, in plain words. */
export interface GroupSummary {
  safety: string;
  availability: string;
}

/** The `--json` report: the tracker's fields unchanged, and each syncgroup's summary. */
export function statusJson(s: ClusterStatus) {
  return { ...s, syncgroups: s.syncgroups.map((g) => ({ ...g, summary: summarize(g, generatedAt(s)) })) };
}

const GiB = 1024 ** 3;

function bytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** HH:MM UTC. */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

function generatedAt(s: ClusterStatus): number {
  return s.generatedMs ?? Date.now();
}

function isBehind(n: GroupNode): boolean {
  return n.state === 'up' && n.behind !== undefined && (n.behind.ops > 0 || n.behind.needsPull);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function recoveryProgress(n: GroupNode): string {
  const r = n.recovery;
  if (!r) return 'refilling from a mirror';
  const parts = [
    r.totalObjects ? `${r.objects} of ${r.totalObjects} objects` : `${r.objects} objects`,
    r.totalBytes ? `${bytes(r.bytes)} of ${bytes(r.totalBytes)}` : bytes(r.bytes),
  ];
  const pct =
    r.totalBytes && r.totalBytes > 0
      ? ` (${Math.min(100, Math.floor((100 * r.bytes) / r.totalBytes))}%)`
      : r.totalObjects && r.totalObjects > 0
        ? ` (${Math.min(100, Math.floor((100 * r.objects) / r.totalObjects))}%)`
        : '';
  const eta = r.etaSeconds !== undefined ? `, about ${duration(r.etaSeconds)} left` : '';
  return `refilling from ${r.fromNodeId}: ${parts.join(', ')}${pct}${eta}`;
}

/** The syncgroup's safety (where its objects are) and availability (what is served), in plain words. */
export function summarize(g: Group, generatedMs: number): GroupSummary {
  const total = g.nodes.length;
  if (total === 0)
    return {
      safety: 'no storage node: nothing of this syncgroup is stored',
      availability: 'unavailable: its keys cannot be read or written until a node joins',
    };
  const down = g.nodes.filter((n) => n.state === 'suspect');
  const refilling = g.nodes.filter((n) => n.state === 'recovering');
  const behind = g.nodes.filter(isBehind);
  const serving = g.nodes.filter((n) => n.state === 'up');
  const healthy = serving.length - behind.length;
  const safety: string[] = [];
  if (down.length === total) {
    safety.push(`all ${plural(total, 'node')} down: nothing of this syncgroup can be read until one returns`);
  } else if (healthy === total) {
    safety.push(
      total === 1
        ? 'every object on 1 node only (no mirror): losing its disk loses them'
        : `every object on ${total} nodes`,
    );
  } else {
    if (down.length > 0) {
      const since = Math.min(...down.map((n) => generatedMs - n.silentMs));
      const left = total - down.length;
      safety.push(
        `${down.length} of ${plural(total, 'node')} down: objects written since ${clock(since)} are on ${plural(left, 'node')} only`,
      );
    }
    if (refilling.length > 0)
      safety.push(
        `${refilling.map((n) => n.nodeId).join(', ')} refilling from a mirror: until done, objects are on ${plural(Math.max(0, serving.length), 'node')}`,
      );
    for (const n of behind)
      safety.push(
        n.behind?.needsPull
          ? `${n.nodeId} stayed away too long for push sync: it needs a recovery pull, which it starts by itself while it is up (it then shows as recovering)`
          : `${n.nodeId} is catching up (${n.behind?.ops} operations, ${bytes(n.behind?.bytes ?? 0)} behind): the newest writes are on fewer nodes until it has`,
      );
  }
  const availability =
    serving.length === 0
      ? 'unavailable: its keys cannot be read or written'
      : serving.length === total
        ? 'reads and writes served'
        : `reads and writes served by ${plural(serving.length, 'node')} of ${total}`;
  return { safety: safety.join('; '), availability };
}

function nodeState(n: GroupNode, generatedMs: number): string {
  if (n.state === 'suspect')
    return `suspect (silent ${duration(n.silentMs / 1000)}, last heard ${clock(generatedMs - n.silentMs)})`;
  if (n.state === 'recovering') return `recovering: ${recoveryProgress(n)}`;
  if (n.behind?.needsPull) return 'up, needs a recovery pull (away longer than the binlog retention)';
  if (isBehind(n))
    return `up, catching up: ${n.behind?.ops} operations, ${bytes(n.behind?.bytes ?? 0)} behind`;
  return 'up';
}

/** The report a person reads: one block per syncgroup with its summary, then what needs attention. */
export function describeStatus(s: ClusterStatus): string {
  const at = generatedAt(s);
  const lines: string[] = [];
  for (const t of s.trackers)
    lines.push(`tracker ${t.url} (up since ${new Date(t.startedMs).toISOString()})`);
  if (s.catalog?.state === 'rebuilding')
    lines.push(
      "catalog: being rebuilt from the storage nodes' copies (this tracker's directory was fresh); bucket changes answer 503 until then",
    );
  else if (s.catalog) lines.push(`catalog: change ${s.catalog.seq}, ${plural(s.catalog.buckets, 'bucket')}`);
  lines.push(
    s.layout.version > 0
      ? `layout version ${s.layout.version}: ${s.layout.partitions} partitions over ${plural(s.layout.syncgroups.length, 'syncgroup')}`
      : 'layout: not known yet (waiting for the storage nodes)',
    '',
  );
  const problems: string[] = [];
  for (const g of s.syncgroups) {
    const summary = summarize(g, at);
    const up = g.nodes.filter((n) => n.state === 'up').length;
    lines.push(`syncgroup ${g.name}: ${g.partitions} partitions, ${g.nodes.length} node(s), ${up} up`);
    lines.push(`  ${summary.safety}; ${summary.availability}`);
    for (const n of g.nodes) {
      const free = n.volumes.reduce((a, v) => a + v.freeBytes, 0);
      const used = n.volumes.reduce((a, v) => a + v.diskBytes, 0);
      const extra = [
        n.layoutVersion !== undefined ? `layout v${n.layoutVersion}` : undefined,
        n.repairs ? `${n.repairs} repaired from a mirror` : undefined,
      ].filter((x) => x !== undefined);
      lines.push(
        `  node ${n.nodeId}  ${nodeState(n, at)}  ${n.url}  ${n.objects} objects  ${plural(n.volumes.length, 'volume')}, ${bytes(used)} used, ${bytes(free)} free${extra.length ? `  ${extra.join(', ')}` : ''}`,
      );
      if (n.state === 'suspect')
        problems.push(
          `node ${n.nodeId} of syncgroup ${g.name} is silent; if it is gone for good, replace it (a new node at the same address takes its place) or run: quire node forget --tracker URL ${n.nodeId}`,
        );
      if (s.catalog?.state === 'ready' && n.catalogSeq !== undefined && n.catalogSeq > s.catalog.seq)
        problems.push(
          `node ${n.nodeId} holds catalog change ${n.catalogSeq}, newer than the tracker's ${s.catalog.seq}: the tracker's directory is older than the cluster (restored from a backup?); to rebuild it from the nodes, start it on an empty directory`,
        );
      if (n.layoutVersion !== undefined && s.layout.version > 0 && n.layoutVersion !== s.layout.version)
        problems.push(`node ${n.nodeId} holds layout version ${n.layoutVersion}, not ${s.layout.version}`);
    }
    if (g.nodes.length === 0)
      problems.push(`syncgroup ${g.name} has no storage node: its keys cannot be served`);
    else if (!summary.availability.startsWith('reads and writes served') || summary.safety.includes(' down'))
      problems.push(`syncgroup ${g.name}: ${summary.safety}`);
  }
  lines.push('');
  const asyncBuckets = s.catalog?.asyncBuckets ?? [];
  lines.push(
    asyncBuckets.length > 0
      ? `buckets in async mode (acknowledged after the primary; a read served by a mirror can be behind by the lag shown): ${asyncBuckets.join(', ')}`
      : 'replication: every bucket mirrored (a write is acknowledged once every live node of its syncgroup has it)',
  );
  lines.push(`gateways holding a lease: ${s.gateways.length}`);
  lines.push(
    '',
    problems.length ? `attention:\n${problems.map((p) => `  - ${p}`).join('\n')}` : 'all nodes up',
  );
  return `${lines.join('\n')}\n`;
}
