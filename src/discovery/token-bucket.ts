// A token bucket that paces a loop: at most `burst` immediate passes, then one per `intervalMs` (Consul's advice for
// blocking-query loops, so a churning service cannot make a watcher spin).
import { setTimeout as sleep } from 'node:timers/promises';

export class TokenBucket {
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(options: { intervalMs: number; burst?: number; now?: () => number }) {
    if (!(options.intervalMs >= 0)) throw new TypeError('intervalMs must be >= 0');
    const burst = options.burst ?? 2;
    if (!Number.isInteger(burst) || burst < 1) throw new TypeError('burst must be an integer >= 1');
    this.#intervalMs = options.intervalMs;
    this.#burst = burst;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = burst;
    this.#last = this.#now();
  }

  /** Milliseconds until a token is available (0 = now), after refilling. */
  delayMs(): number {
    this.#refill();
    if (this.#tokens >= 1 || this.#intervalMs === 0) return 0;
    return Math.ceil((1 - this.#tokens) * this.#intervalMs);
  }

  /** Takes a token, waiting (unref'd) for one if needed. Rejects with the signal's reason when aborted. */
  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.delayMs();
      if (wait === 0) {
        this.#tokens = Math.max(0, this.#tokens - 1);
        return;
      }
      await sleep(wait, undefined, { signal, ref: false });
    }
  }

  #refill(): void {
    const now = this.#now();
    if (this.#intervalMs > 0)
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) / this.#intervalMs);
    this.#last = now;
  }
}
