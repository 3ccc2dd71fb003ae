// Retry budget: retries stay under a share of recent requests plus a small per-second floor (as Finagle does).
import { ConfigError } from '../errors.ts';
export const DEFAULT_RETRY_RATIO = 0.2;
export const DEFAULT_MIN_RETRIES_PER_SECOND = 10;
export const DEFAULT_RETRY_WINDOW_MS = 10_000;

export interface RetryBudgetOptions {
  /** Retries allowed per request sent in the window (0.2 = 20%). */
  readonly ratio?: number;
  /** Retries always allowed per second of window, so a quiet client can still retry. */
  readonly minRetriesPerSecond?: number;
  readonly windowMs?: number;
  readonly now?: () => number;
}

const BUCKETS = 10;

/** Counts over a sliding window of BUCKETS buckets; old buckets are zeroed as time moves on. */
class WindowCounter {
  readonly #bucketMs: number;
  readonly #counts = new Float64Array(BUCKETS);
  #epoch = -1;

  constructor(windowMs: number) {
    this.#bucketMs = windowMs / BUCKETS;
  }

  add(now: number, n = 1): void {
    this.#advance(now);
    const i = Math.floor(now / this.#bucketMs) % BUCKETS;
    this.#counts[i] = (this.#counts[i] ?? 0) + n;
  }

  sum(now: number): number {
    this.#advance(now);
    let s = 0;
    for (const c of this.#counts) s += c;
    return s;
  }

  #advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    if (this.#epoch < 0) {
      this.#epoch = epoch;
      return;
    }
    const steps = Math.min(epoch - this.#epoch, BUCKETS);
    for (let k = 1; k <= steps; k++) this.#counts[(this.#epoch + k) % BUCKETS] = 0;
    if (epoch > this.#epoch) this.#epoch = epoch;
  }
}

export class RetryBudget {
  readonly #ratio: number;
  readonly #floor: number;
  readonly #now: () => number;
  readonly #requests: WindowCounter;
  readonly #retries: WindowCounter;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? DEFAULT_RETRY_RATIO;
    const minPerSecond = options.minRetriesPerSecond ?? DEFAULT_MIN_RETRIES_PER_SECOND;
    const windowMs = options.windowMs ?? DEFAULT_RETRY_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    if (!(this.#ratio >= 0)) throw new ConfigError('retryBudget.ratio', 'must be >= 0');
    if (!(minPerSecond >= 0)) throw new ConfigError('retryBudget.minRetriesPerSecond', 'must be >= 0');
    if (!(windowMs >= BUCKETS)) throw new ConfigError('retryBudget.windowMs', `must be >= ${BUCKETS}`);
    this.#floor = (minPerSecond * windowMs) / 1000;
    this.#requests = new WindowCounter(windowMs);
    this.#retries = new WindowCounter(windowMs);
  }

  /** Counts one first attempt (not a retry); `nowMs`: a reading of this budget's clock the caller already took. */
  recordRequest(nowMs?: number): void {
    this.#requests.add(nowMs ?? this.#now());
  }

  /** Takes one retry from the budget: false (and nothing recorded) when the budget is spent. */
  tryRetry(): boolean {
    const now = this.#now();
    if (this.#retries.sum(now) + 1 > this.#ratio * this.#requests.sum(now) + this.#floor) return false;
    this.#retries.add(now);
    return true;
  }

  /** Retries still available right now. */
  available(): number {
    const now = this.#now();
    return Math.max(0, Math.floor(this.#ratio * this.#requests.sum(now) + this.#floor - this.#retries.sum(now)));
  }
}
