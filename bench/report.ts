// The final table: every figure, what it is compared with, the ratio, and the goal beside it.

export interface Row {
  readonly section: 'disk' | 'packing' | 'http' | 'cluster';
  readonly figure: string;
  readonly unit: string;
  /** The measured figure (Quire's, the disk's or the packing engine's). */
  readonly value: number;
  /** What the figure is compared with, e.g. "ceiling" or "raw disk seq". */
  readonly versus?: string;
  readonly baseline?: number;
  /** value / baseline. */
  readonly ratio?: number;
  readonly goal?: string;
  readonly met?: boolean;
}

/** A row whose ratio and goal come from a baseline and a minimum ratio. */
export function ratioRow(
  base: Omit<Row, 'ratio' | 'met' | 'goal'>,
  minRatio?: number,
  goalText?: string,
): Row {
  const ratio = base.baseline !== undefined && base.baseline > 0 ? base.value / base.baseline : undefined;
  const row: Row = { ...base, ...(ratio === undefined ? {} : { ratio }) };
  if (minRatio === undefined) return row;
  return {
    ...row,
    goal: goalText ?? `≥ ${Math.round(minRatio * 100)} %`,
    ...(ratio === undefined ? {} : { met: ratio >= minRatio }),
  };
}

export function formatNumber(n: number | undefined): string {
  if (n === undefined) return '';
  if (!Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function formatRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? '' : `${(r * 100).toFixed(0)} %`;
}

export function markdownTable(rows: readonly Row[]): string {
  const header = ['section', 'figure', 'value', 'unit', 'versus', 'baseline', 'ratio', 'goal', 'met'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    const cells = [
      r.section,
      r.figure,
      formatNumber(r.value),
      r.unit,
      r.versus ?? '',
      formatNumber(r.baseline),
      formatRatio(r.ratio),
      r.goal ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
