// Small validators for command-line values: each error names the option it is about.
import { ConfigError } from '../errors.ts';

export function intOption(name: string, raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Parses HOST:PORT (IPv6 as [::1]:PORT). */
export function hostPortOption(name: string, raw: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw);
  if (m === null) throw new ConfigError(name, `expected HOST:PORT, got ${JSON.stringify(raw)}`);
  const port = intOption(name, m[3] ?? '', 0, 65535);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Durations such as 500ms, 10s, 2m, 1h, or a bare number of seconds. */
export function durationOption(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
  if (m === null) throw new ConfigError(name, `expected a duration like 500ms, 10s, 2m or 1h, got ${JSON.stringify(raw)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
