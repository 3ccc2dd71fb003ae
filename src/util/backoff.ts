// Exponential backoff with jitter, shared by reconnects, registry retries and watch loops.
export const DEFAULT_BACKOFF_INITIAL_MS = 1000;
export const DEFAULT_BACKOFF_MULTIPLIER = 1.6;
export const DEFAULT_BACKOFF_MAX_MS = 120_000;
export const DEFAULT_BACKOFF_JITTER = 0.2;

export interface BackoffOptions {
  initialMs?: number;
  multiplier?: number;
  maxMs?: number;
  /** Fraction of the delay added or removed at random: 0.2 means +/-20%. */
  jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #multiplier: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #nextBaseMs: number;
  #attempts = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.#multiplier = options.multiplier ?? DEFAULT_BACKOFF_MULTIPLIER;
    this.#maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.#jitter = options.jitter ?? DEFAULT_BACKOFF_JITTER;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs > 0)) throw new TypeError('backoff initialMs must be > 0');
    if (!(this.#multiplier >= 1)) throw new TypeError('backoff multiplier must be >= 1');
    if (!(this.#maxMs >= this.#initialMs)) throw new TypeError('backoff maxMs must be >= initialMs');
    if (!(this.#jitter >= 0 && this.#jitter < 1)) throw new TypeError('backoff jitter must be in [0, 1)');
    this.#nextBaseMs = this.#initialMs;
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The next delay in milliseconds; each call grows the base delay up to maxMs. */
  next(): number {
    const base = this.#nextBaseMs;
    this.#nextBaseMs = Math.min(base * this.#multiplier, this.#maxMs);
    this.#attempts++;
    const spread = base * this.#jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.round(base + spread));
  }

  /** Back to the initial delay, after a success. */
  reset(): void {
    this.#nextBaseMs = this.#initialMs;
    this.#attempts = 0;
  }
}
