// The benchmark report: figures (name, value, unit, optional target and verdict), a text table and results.json.
export interface Target {
  readonly op: '>=' | '<=' | '<';
  readonly value: number;
}

export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: Target;
  /** Set when there is a target. */
  readonly pass?: boolean;
}

export function figure(suite: string, name: string, value: number, unit: string, target?: Target): Figure {
  if (target === undefined) return { suite, name, value, unit };
  const pass =
    target.op === '>=' ? value >= target.value : target.op === '<=' ? value <= target.value : value < target.value;
  return { suite, name, value, unit, target, pass: Number.isFinite(value) && pass };
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) >= 1000) return value.toLocaleString('en');
  return String(value);
}

/** A fixed-width table, one line per figure, with the target and PASS/MISS where there is one. */
export function formatTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.suite,
    f.name,
    fmt(f.value),
    f.unit,
    f.target === undefined ? '' : `${f.target.op} ${fmt(f.target.value)}`,
    f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS',
  ]);
  const header = ['suite', 'figure', 'value', 'unit', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
