// Small validators for command-line values: each error names the option it is about.
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';
import { parseHostPort, type HostPort } from '../util/host-port.ts';

export function intOption(name: string, raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** `HOST:PORT` or `[v6]:PORT` from the CLI (the one parser in util/host-port.ts); ConfigError names the flag. */
export function hostPortOption(name: string, raw: string): HostPort {
  const hp = parseHostPort(raw);
  if (hp === undefined || hp.host === '') throw new ConfigError(name, `expected HOST:PORT, got ${JSON.stringify(raw)}`);
  return hp;
}

/** Durations such as 500ms, 10s, 2m, 1h, or a bare number of seconds. */
export function durationOption(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw);
  if (m === null)
    throw new ConfigError(name, `expected a duration like 500ms, 10s, 2m or 1h, got ${JSON.stringify(raw)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string; default?: string | boolean };

/** The values parseArgs produces for `O`: strings or booleans, never undefined when a default is given. */
export type CommandValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends { type: 'boolean' }
    ? O[K] extends { default: boolean }
      ? boolean
      : boolean | undefined
    : O[K] extends { default: string }
      ? string
      : string | undefined;
};

/**
 * parseArgs for a subcommand: strict, no positionals, `-h/--help` built in. Returns null after printing `help`;
 * an unknown or malformed flag becomes a ConfigError naming it (exit status 2).
 */
export function parseCommandArgs<const O extends Record<string, OptionSpec>>(
  argv: readonly string[],
  options: O,
  help: string,
): CommandValues<O> | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const flag = /'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? 'arguments';
    throw new ConfigError(flag, message);
  }
  if (values.help === true) {
    process.stdout.write(help);
    return null;
  }
  // parseArgs fills each option with its declared type (and its default), which is what CommandValues states.
  return values as CommandValues<O>;
}
