// A Prometheus histogram with one label whose observations are plain array increments; the exposition is built at
// scrape time. prom-client's Histogram merges and hashes the label object on every observe, which showed in the
// spearlet's request profile.
import type { Histogram, Registry } from 'prom-client';

/** Bucket counts, sum and count of one label value. */
export class HistogramSeries {
  readonly #bounds: readonly number[];
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(value: number): void {
    this.observeMany(value, 1);
  }

  /** `n` observations of the same value. */
  observeMany(value: number, n: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number) += n;
    this.sum += value * n;
    this.count += n;
  }
}

interface ExportValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  metricName: string;
  /** prom-client's shape: null on bucket lines, undefined on _sum and _count (no exemplars are kept). */
  exemplar: null | undefined;
}

/**
 * Registered in a prom-client Registry like a Histogram: same name, type and exposition lines (cumulative
 * `_bucket{le}` lines, `+Inf`, `_sum`, `_count` per label value).
 */
export class TallyHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #label: L;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(config: { name: string; help: string; label: L; buckets: readonly number[]; registry: Registry }) {
    this.name = config.name;
    this.help = config.help;
    this.#label = config.label;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    // prom-client's Registry takes any object with its metrics' shape; it types the parameter as its own classes.
    config.registry.registerMetric(this as unknown as Histogram<L>);
  }

  /** The series of one label value, created on first use; keep it to observe without a map lookup. */
  series(labelValue: string): HistogramSeries {
    let s = this.#series.get(labelValue);
    if (s === undefined) {
      s = new HistogramSeries(this.#bounds);
      this.#series.set(labelValue, s);
    }
    return s;
  }

  observe(labelValue: string, value: number): void {
    this.series(labelValue).observe(value);
  }

  /**
   * Zeroes every series in place: a series a caller holds (see series()) keeps counting after a reset, and series
   * with no observation are left out of the exposition until they get one.
   */
  reset(): void {
    for (const s of this.#series.values()) s.clear();
  }

  /** What the registry renders as text: the label of the series rides in sharedLabels, as prom-client does. */
  getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportValue[] }> {
    const values: ExportValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [labelValue, s] of this.#series) {
      // A label value with no observation (new, or zeroed by reset()) is not exported, as with prom-client.
      if (s.count === 0) continue;
      const shared = { [this.#label]: labelValue };
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += s.counts[i] as number;
        values.push({
          value: acc,
          labels: { le: this.#bounds[i] as number },
          sharedLabels: shared,
          metricName: bucketName,
          exemplar: null,
        });
      }
      values.push(
        { value: s.count, labels: { le: '+Inf' }, sharedLabels: shared, metricName: bucketName, exemplar: null },
        { value: s.sum, labels: {}, sharedLabels: shared, metricName: `${this.name}_sum`, exemplar: undefined },
        { value: s.count, labels: {}, sharedLabels: shared, metricName: `${this.name}_count`, exemplar: undefined },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  /** The JSON form (getMetricsAsJSON): shared labels folded into each value's labels. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportValue[] }> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return data;
  }
}
