// Reads the Prometheus text exposition format just enough for the dashboard: sums of counters and the cumulative
// buckets of a histogram, and turns two scrapes into a rate and latency quantiles.

/** One scrape: sample name -> summed value, and per histogram its buckets summed over the other labels. */
export interface Scrape {
  readonly atMs: number;
  readonly sums: ReadonlyMap<string, number>;
  /** histogram base name -> upper bound (`le`) -> cumulative count. */
  readonly buckets: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Label values of every sample, for metrics the caller asks to keep (e.g. codes of an errors counter). */
  readonly labelled: ReadonlyMap<string, readonly { labels: Readonly<Record<string, string>>; value: number }[]>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const m of raw.matchAll(LABEL)) {
    out[m[1] ?? ''] = (m[2] ?? '').replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return out;
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  return Number(raw);
}

/** Parses `text`; `keepLabels` names the sample names whose labelled samples are kept as they are. */
export function parseScrape(text: string, atMs: number, keepLabels: readonly string[] = []): Scrape {
  const sums = new Map<string, number>();
  const buckets = new Map<string, Map<number, number>>();
  const labelled = new Map<string, { labels: Record<string, string>; value: number }[]>();
  const keep = new Set(keepLabels);
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const name = m[1] ?? '';
    const value = parseValue(m[3] ?? '');
    if (Number.isNaN(value)) continue;
    if (name.endsWith('_bucket')) {
      const labels = parseLabels(m[2]);
      const le = parseValue(labels.le ?? '');
      if (Number.isNaN(le)) continue;
      const base = name.slice(0, -'_bucket'.length);
      let byLe = buckets.get(base);
      if (byLe === undefined) {
        byLe = new Map<number, number>();
        buckets.set(base, byLe);
      }
      byLe.set(le, (byLe.get(le) ?? 0) + value);
      continue;
    }
    sums.set(name, (sums.get(name) ?? 0) + value);
    if (keep.has(name)) {
      let list = labelled.get(name);
      if (list === undefined) {
        list = [];
        labelled.set(name, list);
      }
      list.push({ labels: parseLabels(m[2]), value });
    }
  }
  return { atMs, sums, buckets, labelled };
}

/** Per-second increase of `name` between two scrapes; null without a previous scrape or after a counter reset. */
export function ratePerSec(prev: Scrape | undefined, cur: Scrape, name: string): number | null {
  if (prev === undefined) return null;
  const a = prev.sums.get(name) ?? 0;
  const b = cur.sums.get(name) ?? 0;
  const dt = (cur.atMs - prev.atMs) / 1000;
  if (dt <= 0 || b < a) return null;
  return (b - a) / dt;
}

/**
 * The q-quantile (0..1) in milliseconds of the observations made between two scrapes of histogram `base`, by linear
 * interpolation inside the bucket (as Prometheus' histogram_quantile does); null when nothing was observed.
 */
export function quantileMs(prev: Scrape | undefined, cur: Scrape, base: string, q: number): number | null {
  const now = cur.buckets.get(base);
  if (now === undefined) return null;
  const before = prev?.buckets.get(base);
  const bounds = [...now.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => Math.max(0, (now.get(le) ?? 0) - (before?.get(le) ?? 0)));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i] ?? 0;
    if (c >= rank) {
      const upper = bounds[i] ?? 0;
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
      // Above the last finite bound Prometheus answers the highest finite bound.
      if (!Number.isFinite(upper)) return lower * 1000;
      const share = c === below ? 1 : (rank - below) / (c - below);
      return (lower + (upper - lower) * share) * 1000;
    }
  }
  return null;
}
