// Counts and latency percentiles over a sliding set of recent samples: the numbers live views and drills print.
export interface WindowSnapshot {
  readonly count: number;
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/** Percentile of an ascending array (nearest rank); null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

export class LatencyWindow {
  #samples: number[] = [];
  #errors = 0;

  record(durationMs: number): void {
    this.#samples.push(durationMs);
  }

  recordError(): void {
    this.#errors++;
  }

  /** Summarises what was recorded since the last take() and starts a new window. */
  take(): WindowSnapshot {
    const sorted = this.#samples.sort((a, b) => a - b);
    const snapshot: WindowSnapshot = {
      count: sorted.length,
      errors: this.#errors,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] ?? null) : null,
    };
    this.#samples = [];
    this.#errors = 0;
    return snapshot;
  }
}
