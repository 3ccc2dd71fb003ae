// Outlier ejection: endpoints with consecutive failures sit out for a period that doubles with each repeat.
import { ConfigError } from '../errors.ts';

export const DEFAULT_CONSECUTIVE_FAILURES = 5;
export const DEFAULT_BASE_EJECTION_MS = 2_000;
export const DEFAULT_MAX_EJECTION_MS = 60_000;
export const DEFAULT_MAX_EJECTION_PERCENT = 50;
export const DEFAULT_FAIL_OPEN_PERCENT = 50;

export interface OutlierDetectorOptions {
  /** Failures in a row that eject an endpoint. */
  readonly consecutiveFailures?: number;
  /** First ejection lasts this long; the k-th repeat lasts base * 2^k, capped at maxEjectionMs. */
  readonly baseEjectionMs?: number;
  readonly maxEjectionMs?: number;
  /** Never more than this share (0-100) of the known endpoints is ejected at once. */
  readonly maxEjectionPercent?: number;
  /**
   * When more than this share (0-100) of the endpoints look bad (ejected or at the failure threshold), the
   * problem is probably on our side: nothing is treated as ejected until that changes.
   */
  readonly failOpenPercent?: number;
  readonly now?: () => number;
}

interface EndpointHealth {
  consecutive: number;
  /** How many times this endpoint was ejected; sets the next ejection's length. */
  ejections: number;
  ejectedUntil: number;
  lastEjectionEnd: number;
}

export class OutlierDetector {
  readonly #threshold: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #maxPercent: number;
  readonly #failOpenPercent: number;
  readonly #now: () => number;
  readonly #health = new Map<string, EndpointHealth>();

  constructor(options: OutlierDetectorOptions = {}) {
    this.#threshold = options.consecutiveFailures ?? DEFAULT_CONSECUTIVE_FAILURES;
    this.#baseMs = options.baseEjectionMs ?? DEFAULT_BASE_EJECTION_MS;
    this.#maxMs = options.maxEjectionMs ?? DEFAULT_MAX_EJECTION_MS;
    this.#maxPercent = options.maxEjectionPercent ?? DEFAULT_MAX_EJECTION_PERCENT;
    this.#failOpenPercent = options.failOpenPercent ?? DEFAULT_FAIL_OPEN_PERCENT;
    this.#now = options.now ?? Date.now;
    if (!(Number.isInteger(this.#threshold) && this.#threshold >= 1))
      throw new ConfigError('outlier.consecutiveFailures', 'must be an integer >= 1');
    if (!(this.#baseMs > 0 && this.#maxMs >= this.#baseMs))
      throw new ConfigError('outlier.baseEjectionMs', 'must satisfy 0 < baseEjectionMs <= maxEjectionMs');
    if (!(this.#maxPercent >= 0 && this.#maxPercent <= 100))
      throw new ConfigError('outlier.maxEjectionPercent', 'must be in [0, 100]');
    if (!(this.#failOpenPercent >= 0 && this.#failOpenPercent <= 100))
      throw new ConfigError('outlier.failOpenPercent', 'must be in [0, 100]');
  }

  /** Keeps state only for these endpoints; new ones start healthy. */
  setEndpoints(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.#health.keys()) if (!keep.has(id)) this.#health.delete(id);
    for (const id of keep)
      if (!this.#health.has(id))
        this.#health.set(id, { consecutive: 0, ejections: 0, ejectedUntil: 0, lastEjectionEnd: 0 });
  }

  recordSuccess(id: string): void {
    const h = this.#health.get(id);
    if (h === undefined) return;
    h.consecutive = 0;
    const now = this.#now();
    // A long healthy stretch after the last ejection forgets the history, so old trouble stops doubling.
    if (h.ejections > 0 && h.ejectedUntil <= now && now - h.lastEjectionEnd >= this.#maxMs) h.ejections = 0;
  }

  /** Counts a failure; returns true when this failure ejected the endpoint. */
  recordFailure(id: string): boolean {
    const h = this.#health.get(id);
    if (h === undefined) return false;
    const now = this.#now();
    if (h.ejectedUntil > now) return false;
    h.consecutive++;
    if (h.consecutive < this.#threshold) return false;
    const maxEjected = Math.floor((this.#health.size * this.#maxPercent) / 100);
    if (this.#countEjected(now) >= maxEjected) return false;
    const duration = Math.min(this.#baseMs * 2 ** h.ejections, this.#maxMs);
    h.ejections++;
    h.ejectedUntil = now + duration;
    h.lastEjectionEnd = h.ejectedUntil;
    h.consecutive = 0;
    return true;
  }

  /** The endpoints to leave out of picking now: empty when failing open. */
  ejected(): ReadonlySet<string> {
    const now = this.#now();
    const out = new Set<string>();
    let bad = 0;
    for (const [id, h] of this.#health) {
      if (h.ejectedUntil > now) {
        out.add(id);
        bad++;
      } else if (h.consecutive >= this.#threshold) {
        bad++;
      }
    }
    if (this.#health.size > 0 && (bad * 100) / this.#health.size > this.#failOpenPercent) return new Set();
    return out;
  }

  isEjected(id: string): boolean {
    return this.ejected().has(id);
  }

  /** When the earliest current ejection ends, so the owner can rebuild its picker then; undefined if none. */
  nextExpiryAt(): number | undefined {
    const now = this.#now();
    let next: number | undefined;
    for (const h of this.#health.values()) {
      if (h.ejectedUntil > now && (next === undefined || h.ejectedUntil < next)) next = h.ejectedUntil;
    }
    return next;
  }

  #countEjected(now: number): number {
    let n = 0;
    for (const h of this.#health.values()) if (h.ejectedUntil > now) n++;
    return n;
  }
}
