// Outlier detection options: named defaults, validated in one pass with errors naming the option, frozen.
import { ConfigError } from '../errors.ts';

export const DEFAULT_CONSECUTIVE_FAILURES = 5;
export const DEFAULT_OUTLIER_INTERVAL_MS = 1_000;
export const DEFAULT_BASE_EJECTION_MS = 2_000;
export const DEFAULT_MAX_EJECTION_MS = 60_000;
export const DEFAULT_MAX_EJECTION_PERCENT = 50;
export const DEFAULT_FAIL_OPEN_PERCENT = 50;
export const DEFAULT_STALL_MS = 500;
export const DEFAULT_SUCCESS_RATE_STDEV_FACTOR = 1.9;
export const DEFAULT_SUCCESS_RATE_MIN_GAP_PERCENT = 10;
export const DEFAULT_SUCCESS_RATE_MINIMUM_HOSTS = 3;
export const DEFAULT_SUCCESS_RATE_REQUEST_VOLUME = 20;
export const DEFAULT_FAILURE_PERCENTAGE_THRESHOLD = 85;
export const DEFAULT_FAILURE_PERCENTAGE_MINIMUM_HOSTS = 2;
export const DEFAULT_FAILURE_PERCENTAGE_REQUEST_VOLUME = 20;

export interface SuccessRateOptions {
  /** Below the mean success rate of the other spearlets by more than this many of their standard deviations... */
  readonly stdevFactor?: number;
  /** ...and by at least this many percentage points (so a few failures among perfect peers do not eject). */
  readonly minGapPercent?: number;
  /** Spearlets with enough requests in the interval needed before any is judged (this one included). */
  readonly minimumHosts?: number;
  /** Attempts in the interval a spearlet needs to be judged or to count as a peer. */
  readonly requestVolume?: number;
}

export interface FailurePercentageOptions {
  /** Eject a spearlet whose attempts in the interval failed at this percentage (0-100) or more. */
  readonly threshold?: number;
  /** Spearlets with enough requests in the interval needed before any is judged. */
  readonly minimumHosts?: number;
  readonly requestVolume?: number;
}

export interface OutlierDetectorOptions {
  /** Failures in a row (request outcomes and connection losses) that eject a spearlet at once. */
  readonly consecutiveFailures?: number;
  /** How often success rates and failure percentages are judged; their counts restart every interval. */
  readonly intervalMs?: number;
  /** The n-th ejection of a spearlet lasts n * baseEjectionMs, at most maxEjectionMs. */
  readonly baseEjectionMs?: number;
  readonly maxEjectionMs?: number;
  /** Never more than this share (0-100) of the known spearlets is ejected at once. */
  readonly maxEjectionPercent?: number;
  /**
   * When more than this share (0-100) of the spearlets look bad (ejected, or failing but kept by the cap; a stall the
   * cap kept in does not count), the problem is probably on our side: nothing is treated as ejected until that
   * changes (fail open).
   */
  readonly failOpenPercent?: number;
  /**
   * A spearlet with requests in flight that has answered nothing for this long, while another spearlet answered
   * since it began to wait, is ejected (a stalled or very slow spearlet); false turns this off.
   */
  readonly stallMs?: number | false;
  /** Success rate relative to the other spearlets; false turns it off. */
  readonly successRate?: SuccessRateOptions | false;
  /** Absolute failure percentage; false turns it off. */
  readonly failurePercentage?: FailurePercentageOptions | false;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

export interface ResolvedOutlierOptions {
  readonly consecutiveFailures: number;
  readonly intervalMs: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  readonly failOpenPercent: number;
  readonly stallMs: number;
  readonly successRate: Required<SuccessRateOptions> | undefined;
  readonly failurePercentage: Required<FailurePercentageOptions> | undefined;
  readonly now: () => number;
}

const KNOWN = new Set([
  'consecutiveFailures',
  'intervalMs',
  'baseEjectionMs',
  'maxEjectionMs',
  'maxEjectionPercent',
  'failOpenPercent',
  'stallMs',
  'successRate',
  'failurePercentage',
  'now',
]);

function num(name: string, v: unknown, fallback: number, min: number, max = Infinity, integer = false): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw new ConfigError(
      `outlier.${name}`,
      `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max === Infinity ? 'inf' : max}]`,
    );
  return v;
}

function known(prefix: string, o: object, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ConfigError(`${prefix}.${k}`, 'unknown option');
}

/** Validates the options in one pass; errors name the option (outlier.<name>). */
export function resolveOutlierOptions(o: OutlierDetectorOptions = {}): ResolvedOutlierOptions {
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new ConfigError(`outlier.${k}`, 'unknown option');
  const baseEjectionMs = num('baseEjectionMs', o.baseEjectionMs, DEFAULT_BASE_EJECTION_MS, 1);
  const maxEjectionMs = num('maxEjectionMs', o.maxEjectionMs, Math.max(DEFAULT_MAX_EJECTION_MS, baseEjectionMs), 1);
  if (maxEjectionMs < baseEjectionMs) throw new ConfigError('outlier.maxEjectionMs', 'must be >= baseEjectionMs');
  let successRate: Required<SuccessRateOptions> | undefined;
  if (o.successRate !== false) {
    const s = o.successRate ?? {};
    known('outlier.successRate', s, ['stdevFactor', 'minGapPercent', 'minimumHosts', 'requestVolume']);
    successRate = Object.freeze({
      stdevFactor: num('successRate.stdevFactor', s.stdevFactor, DEFAULT_SUCCESS_RATE_STDEV_FACTOR, 0),
      minGapPercent: num('successRate.minGapPercent', s.minGapPercent, DEFAULT_SUCCESS_RATE_MIN_GAP_PERCENT, 0, 100),
      minimumHosts: num('successRate.minimumHosts', s.minimumHosts, DEFAULT_SUCCESS_RATE_MINIMUM_HOSTS, 2, 1e6, true),
      requestVolume: num(
        'successRate.requestVolume',
        s.requestVolume,
        DEFAULT_SUCCESS_RATE_REQUEST_VOLUME,
        1,
        1e9,
        true,
      ),
    });
  }
  let failurePercentage: Required<FailurePercentageOptions> | undefined;
  if (o.failurePercentage !== false) {
    const f = o.failurePercentage ?? {};
    known('outlier.failurePercentage', f, ['threshold', 'minimumHosts', 'requestVolume']);
    failurePercentage = Object.freeze({
      threshold: num('failurePercentage.threshold', f.threshold, DEFAULT_FAILURE_PERCENTAGE_THRESHOLD, 0, 100),
      minimumHosts: num(
        'failurePercentage.minimumHosts',
        f.minimumHosts,
        DEFAULT_FAILURE_PERCENTAGE_MINIMUM_HOSTS,
        1,
        1e6,
        true,
      ),
      requestVolume: num(
        'failurePercentage.requestVolume',
        f.requestVolume,
        DEFAULT_FAILURE_PERCENTAGE_REQUEST_VOLUME,
        1,
        1e9,
        true,
      ),
    });
  }
  if (o.now !== undefined && typeof o.now !== 'function') throw new ConfigError('outlier.now', 'must be a function');
  return Object.freeze({
    consecutiveFailures: num('consecutiveFailures', o.consecutiveFailures, DEFAULT_CONSECUTIVE_FAILURES, 1, 1e9, true),
    intervalMs: num('intervalMs', o.intervalMs, DEFAULT_OUTLIER_INTERVAL_MS, 1),
    baseEjectionMs,
    maxEjectionMs,
    maxEjectionPercent: num('maxEjectionPercent', o.maxEjectionPercent, DEFAULT_MAX_EJECTION_PERCENT, 0, 100),
    failOpenPercent: num('failOpenPercent', o.failOpenPercent, DEFAULT_FAIL_OPEN_PERCENT, 0, 100),
    stallMs: o.stallMs === false ? Infinity : num('stallMs', o.stallMs, DEFAULT_STALL_MS, 1),
    successRate,
    failurePercentage,
    now: o.now ?? Date.now,
  });
}
