// Least-outstanding policy: power of two random choices on the number of requests in flight.
import { pickTwoChoices, type Picker, type PickTarget, type Policy, type PolicyOptions } from './picker.ts';

const outstandingCost = (t: PickTarget): number => t.outstanding;

export function leastOutstandingPolicy(options: PolicyOptions = {}): Policy {
  const random = options.random ?? Math.random;
  return {
    name: 'least-outstanding',
    build: (targets): Picker => ({ pick: (ctx) => pickTwoChoices(targets, ctx, random, outstandingCost) }),
  };
}
