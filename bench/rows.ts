// Turns each section's figures into table rows with the goals the project set.
import type { DiskFigures } from './disk.ts';
import type { HttpReport, Measured } from './http.ts';
import { mean } from './http.ts';
import type { Row } from './report.ts';
import { ratioRow } from './report.ts';

export function diskRows(d: DiskFigures | null): Row[] {
  if (d === null) return [];
  return [
    { section: 'disk', figure: 'sequential 1 MiB writes + fsync', unit: 'MiB/s', value: d.sequentialMiBps },
    { section: 'disk', figure: '4 KiB append + fdatasync', unit: 'ops/s', value: d.syncOpsPerSec },
    {
      section: 'disk',
      figure: '4 KiB in-place write + fdatasync',
      unit: 'ops/s',
      value: d.syncInPlaceOpsPerSec,
    },
  ];
}

/** Packing figures; the 4 KiB and 512 KiB durable-put bandwidths also as ratios of raw sequential. */
export function packingRows(p: Record<string, number> | null, d: DiskFigures | null): Row[] {
  if (p === null) return [];
  const rows: Row[] = [];
  for (const [key, value] of Object.entries(p)) {
    const unit = unitOf(key);
    const goal = putBandwidthGoal(key);
    if (goal === null || d === null) {
      rows.push({ section: 'packing', figure: key, unit, value });
      continue;
    }
    const baseline = /mib/i.test(key) ? d.sequentialMiBps : d.sequentialMBps;
    rows.push(
      ratioRow({ section: 'packing', figure: key, unit, value, versus: 'raw disk seq', baseline }, goal),
    );
  }
  return rows;
}

/** Goals from the packing brief: 4 KiB durable puts ≥ 60 % of raw sequential, 512 KiB ≥ 85 %. */
function putBandwidthGoal(key: string): number | null {
  if (!/mi?b\/?s|mbps|mibps|mb_s|mbPerSec/i.test(key) || /read|get|scan|recover|reopen/i.test(key))
    return null;
  if (/(^|[^0-9])512\s*_?ki?b/i.test(key)) return 0.85;
  if (/(^|[^0-9])4\s*_?ki?b/i.test(key)) return 0.6;
  return null;
}

function unitOf(key: string): string {
  if (/mib\/?s|mibps/i.test(key)) return 'MiB/s';
  if (/mb\/?s|mbps|mbPerSec/i.test(key)) return 'MB/s';
  if (/ops|\/s|PerSec/i.test(key)) return '/s';
  if (/ms$|Ms$/.test(key)) return 'ms';
  if (/pct$|percent/i.test(key)) return '%';
  return '';
}

const RATIO_GOALS: Record<Measured['id'], number | undefined> = {
  put4k: 0.5,
  get4k: 0.7,
  get1m: 0.6,
  put64m: undefined,
  list: undefined,
};

export function httpRows(h: HttpReport | null, d: DiskFigures | null): Row[] {
  if (h === null) return [];
  const rows: Row[] = [];
  for (const m of h.measured) rows.push(...measuredRows(m, d));
  rows.push(...latencyRows(h));
  rows.push(...fillRows(h));
  return rows;
}

/** The name of a round-by-round probe that sits beside a workload's targets (see http.ts Probe). */
export const DISK_PROBE = 'raw disk seq';

function subjectName(m: Measured): string | undefined {
  const isSubject = (n: string) => n !== 'ceiling' && n !== DISK_PROBE;
  return Object.keys(m.values).find(isSubject) ?? Object.keys(m.errors).find(isSubject);
}

function measuredRows(m: Measured, d: DiskFigures | null): Row[] {
  const ceiling = mean(m.values.ceiling);
  const subject = subjectName(m);
  if (subject === undefined) {
    return [{ section: 'http', figure: `${m.label} (ceiling only)`, unit: m.unit, value: ceiling }];
  }
  const value = mean(m.values[subject]);
  const figure =
    m.errors[subject] === undefined ? m.label : `${m.label} (failed: ${m.errors[subject].slice(0, 60)})`;
  const base = {
    section: 'http' as const,
    figure,
    unit: m.unit,
    value,
    versus: 'ceiling',
    baseline: ceiling,
  };
  if (m.id === 'list') {
    const row = ratioRow(base);
    return [{ ...row, goal: '≥ 250,000 keys/s', met: value >= 250_000 }];
  }
  if (m.id === 'put64m') {
    // Prefer the disk probed in the same rounds as the PUTs: the machine's disk is shared and drifts.
    const probed = mean(m.values[DISK_PROBE]);
    const disk = Number.isFinite(probed) ? probed : d?.sequentialMBps;
    const rows = [ratioRow(base)];
    if (disk !== undefined) {
      const versus = Number.isFinite(probed) ? 'raw disk seq (same rounds)' : 'raw disk seq';
      rows.push(ratioRow({ ...base, figure: `${figure} vs disk`, versus, baseline: disk }, 0.9));
    }
    return rows;
  }
  return [ratioRow(base, RATIO_GOALS[m.id])];
}

function latencyRows(h: HttpReport): Row[] {
  const rows: Row[] = [];
  for (const [name, l] of Object.entries(h.latency)) {
    const ratio = l.loadedP99Ms / l.idleP99Ms;
    rows.push({
      section: 'http',
      figure: `${name}: 4 KiB GET p99 during 64 MiB PUTs`,
      unit: 'ms',
      value: l.loadedP99Ms,
      versus: 'idle p99',
      baseline: l.idleP99Ms,
      ratio,
      ...(name === 'ceiling' ? {} : { goal: '≤ 300 %', met: ratio <= 3 }),
    });
  }
  return rows;
}

function fillRows(h: HttpReport): Row[] {
  if (h.fill.length === 0) return [];
  const first = h.fill[0]!;
  const last = h.fill[h.fill.length - 1]!;
  const rates = h.fill.map((s) => s.putsPerSec);
  const max = Math.max(...rates);
  const min = Math.min(...rates);
  const reached =
    last.level + (h.fill.length > 1 ? last.level - h.fill[h.fill.length - 2]!.level : h.fillTarget);
  const at = (n: number) => n.toLocaleString('en-US');
  return [
    {
      section: 'http',
      figure: `PUT 4 KiB at ${at(first.level)} objects`,
      unit: 'ops/s',
      value: first.putsPerSec,
    },
    {
      section: 'http',
      figure: `PUT 4 KiB at ${at(last.level)} objects (filled to ${at(Math.min(reached, h.fillTarget))})`,
      unit: 'ops/s',
      value: last.putsPerSec,
      versus: `at ${at(first.level)}`,
      baseline: first.putsPerSec,
      ratio: last.putsPerSec / first.putsPerSec,
    },
    {
      section: 'http',
      figure: `PUT 4 KiB slowest fill step (${h.fill.length} steps to ${at(h.fillTarget)})`,
      unit: 'ops/s',
      value: min,
      versus: 'fastest step',
      baseline: max,
      ratio: min / max,
      goal: '≥ 80 % (flat)',
      met: min / max >= 0.8 && reached >= h.fillTarget,
    },
  ];
}
