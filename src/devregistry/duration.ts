// Go time.Duration parsing and formatting, as Consul's JSON bodies and query strings use them (values in nanoseconds).

const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

// int64 max (9223372036854775807) as the nearest double.
const MAX_NS = 2 ** 63;

/** Thrown with Go's exact message (`time: invalid duration "x"`). */
export class DurationError extends Error {}

/** Parses a Go duration string to nanoseconds. */
export function parseGoDuration(input: string): number {
  const quoted = JSON.stringify(input);
  let s = input;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`time: invalid duration ${quoted}`);
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? '';
    const frac = num?.[2];
    if (whole === '' && (frac === undefined || frac === ''))
      throw new DurationError(`time: invalid duration ${quoted}`);
    s = s.slice(num?.[0].length ?? 0);
    const unitMatch = /^[^\d.]+/.exec(s);
    if (unitMatch === null) throw new DurationError(`time: missing unit in duration ${quoted}`);
    const unitName = unitMatch[0];
    const unit = UNITS[unitName];
    if (unit === undefined)
      throw new DurationError(`time: unknown unit ${JSON.stringify(unitName)} in duration ${quoted}`);
    s = s.slice(unitName.length);
    const value = Number(`${whole === '' ? '0' : whole}.${frac ?? '0'}`) * unit;
    total += value;
    if (!Number.isFinite(total) || total >= MAX_NS) throw new DurationError(`time: invalid duration ${quoted}`);
  }
  return neg ? -Math.round(total) : Math.round(total);
}

function fmtFrac(value: number, digits: number): string {
  // value is an integer count of the smallest unit; print value / 10^digits without trailing zeros.
  const str = String(value).padStart(digits + 1, '0');
  const intPart = str.slice(0, str.length - digits);
  const fracPart = str.slice(str.length - digits).replace(/0+$/, '');
  return fracPart === '' ? intPart : `${intPart}.${fracPart}`;
}

/** Formats nanoseconds the way Go's Duration.String() does: "10s", "1m0s", "1.5ms", "0s". */
export function formatGoDuration(nsInput: number): string {
  let ns = Math.round(nsInput);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${fmtFrac(ns, 3)}µs`;
  if (ns < 1e9) return `${sign}${fmtFrac(ns, 6)}ms`;
  const h = Math.floor(ns / 3600e9);
  ns -= h * 3600e9;
  const m = Math.floor(ns / 60e9);
  ns -= m * 60e9;
  const s = fmtFrac(ns, 9);
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}
