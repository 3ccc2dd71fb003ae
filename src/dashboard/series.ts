// Fixed-length history of a spearlet's or agent's load for the sparklines: one point per poll, oldest dropped.

export interface SeriesPoint {
  /** Unix ms of the poll. */
  readonly t: number;
  readonly rps: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
}

/** Column arrays, which JSON-encode smaller than an array of objects. */
export interface SeriesColumns {
  readonly t: readonly number[];
  readonly rps: readonly (number | null)[];
  readonly p50: readonly (number | null)[];
  readonly p99: readonly (number | null)[];
}

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 100) / 100);

export class Series {
  readonly #max: number;
  readonly #points: SeriesPoint[] = [];

  constructor(maxPoints: number) {
    this.#max = maxPoints;
  }

  push(p: SeriesPoint): void {
    this.#points.push({ t: p.t, rps: round(p.rps), p50: round(p.p50), p99: round(p.p99) });
    if (this.#points.length > this.#max) this.#points.splice(0, this.#points.length - this.#max);
  }

  get last(): SeriesPoint | undefined {
    return this.#points[this.#points.length - 1];
  }

  columns(): SeriesColumns {
    return {
      t: this.#points.map((p) => p.t),
      rps: this.#points.map((p) => p.rps),
      p50: this.#points.map((p) => p.p50),
      p99: this.#points.map((p) => p.p99),
    };
  }
}
