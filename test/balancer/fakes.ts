// Test fakes for balancer tests: mutable targets and a scripted random source.
import type { PickTarget } from '../../src/balancer/picker.ts';

export interface FakeTarget extends PickTarget {
  outstanding: number;
  ewmaMs: number;
  ready: boolean;
  zone?: string | undefined;
  tags: string[];
}

export function target(id: string, init: Partial<Omit<FakeTarget, 'id'>> = {}): FakeTarget {
  return { id, outstanding: 0, ewmaMs: 0, ready: true, tags: [], ...init };
}

/** Returns the scripted values in order, then repeats the last one. */
export function scripted(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    const v = values[Math.min(i, values.length - 1)] ?? 0;
    i++;
    return v;
  };
}

/** A deterministic PRNG (mulberry32) for tests that need many random values. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
