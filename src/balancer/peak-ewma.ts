// Peak-EWMA policy: power of two random choices on latency x load, with the latency tracker connections feed.
import { ConfigError } from '../errors.ts';
import { pickTwoChoices, type Picker, type PickTarget, type Policy, type PolicyOptions } from './picker.ts';

export const DEFAULT_EWMA_DECAY_MS = 10_000;

/** Below this the latency is treated as unmeasured, so the outstanding count still separates targets. */
const MIN_COST_MS = 0.001;

/**
 * Peak-sensitive moving average of round-trip times (the Finagle design): a sample above the average replaces
 * it at once, so a slow endpoint is avoided immediately; lower samples pull it down with a time-based decay.
 */
export class PeakEwma {
  readonly #decayMs: number;
  #value = 0;
  #lastAt = -1;

  constructor(decayMs: number = DEFAULT_EWMA_DECAY_MS) {
    if (!(decayMs > 0)) throw new ConfigError('ewmaDecayMs', 'must be > 0');
    this.#decayMs = decayMs;
  }

  /** The current average in milliseconds; 0 before the first sample. */
  get valueMs(): number {
    return this.#value;
  }

  observe(rttMs: number, nowMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.#lastAt < 0 || rttMs > this.#value) {
      this.#value = rttMs;
    } else {
      const elapsed = Math.max(0, nowMs - this.#lastAt);
      const w = Math.exp(-elapsed / this.#decayMs);
      this.#value = this.#value * w + rttMs * (1 - w);
    }
    this.#lastAt = nowMs;
  }
}

export const peakEwmaCost = (t: PickTarget): number => Math.max(t.ewmaMs, MIN_COST_MS) * (t.outstanding + 1);

export function peakEwmaPolicy(options: PolicyOptions = {}): Policy {
  const random = options.random ?? Math.random;
  return {
    name: 'peak-ewma',
    build: (targets): Picker => ({ pick: (ctx) => pickTwoChoices(targets, ctx, random, peakEwmaCost) }),
  };
}
