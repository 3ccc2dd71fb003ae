// One table comparing balancing policies under the same drill: success within the deadline, latency, detection.
import type { DrillReport } from './report.ts';

export interface PolicyRow extends DrillReport {
  readonly policy: string;
  readonly deadlineMs: number;
  /** Requests that succeeded within the caller's deadline (every success did: requests carry the deadline). */
  readonly withinDeadline: number;
}

/** A Markdown table, one row per policy; p50 and p99 over every successful request of the drill. */
export function formatPolicyTable(rows: readonly PolicyRow[]): string {
  const ms = (v: number | null): string => (v === null ? '-' : v.toFixed(1));
  const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(3)}%`);
  const lines = [
    '| policy | success within deadline | p50 ms | p99 ms | sent | failed | lost | duplicated | detection ms | throughput vs healthy |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const o = r.latency.overall;
    lines.push(
      `| ${r.policy} | ${pct(r.withinDeadline, r.sent)} | ${ms(o.p50Ms)} | ${ms(o.p99Ms)} | ${r.sent} | ${r.failed} | ${r.lost} | ${r.duplicated} | ${ms(r.detectionMs)} | ${r.throughput.ratio === null ? '-' : `${(100 * r.throughput.ratio).toFixed(1)}%`} |`,
    );
  }
  return lines.join('\n') + '\n';
}
