// Round-robin policy: each pick takes the next eligible target in order.
import { eligible, type Picker, type PickTarget, type Policy, type PolicyOptions } from './picker.ts';

class RoundRobinPicker implements Picker {
  readonly #targets: readonly PickTarget[];
  #next: number;

  constructor(targets: readonly PickTarget[], start: number) {
    this.#targets = targets;
    this.#next = start;
  }

  pick(ctx: Parameters<Picker['pick']>[0]): PickTarget | undefined {
    const n = this.#targets.length;
    for (let k = 0; k < n; k++) {
      const idx = (this.#next + k) % n;
      const t = this.#targets[idx];
      if (t !== undefined && eligible(t, ctx)) {
        this.#next = (idx + 1) % n;
        return t;
      }
    }
    return undefined;
  }
}

/** Starts each new picker at a random offset so rebuilds do not all hammer the first target (as grpc-js does). */
export function roundRobinPolicy(options: PolicyOptions = {}): Policy {
  const random = options.random ?? Math.random;
  return {
    name: 'round-robin',
    build: (targets) => new RoundRobinPicker(targets, Math.floor(random() * Math.max(1, targets.length))),
  };
}
