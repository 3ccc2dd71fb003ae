// The clock of the agent's request path: milliseconds from performance.now(), monotonic and sub-millisecond.
import { performance } from 'node:perf_hooks';

export const monotonicNow = (): number => performance.now();
