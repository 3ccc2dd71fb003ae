// Measurement helpers shared by the benchmarks: closed-loop throughput, serial latency, percentiles, ratios.
import { performance } from 'node:perf_hooks';

/** Sends one request and resolves when its answer arrived. */
export type Send = () => Promise<unknown>;

/**
 * `inFlight` loops each keep one request outstanding for `durationMs` (a closed loop, like a client with a fixed
 * concurrency); returns completed requests per second.
 */
export async function throughput(send: Send, inFlight: number, durationMs: number): Promise<number> {
  const { done, elapsedMs } = await closedLoop(send, inFlight, durationMs);
  return (done * 1000) / elapsedMs;
}

/** Latencies (milliseconds) of `n` requests sent one after another, sorted ascending. */
export async function serialLatencies(send: Send, n: number): Promise<Float64Array> {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await send();
    samples[i] = performance.now() - t0;
  }
  return samples.sort();
}

/** The q-quantile (0..1) of an ascending array, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a / b rounded to 3 digits (NaN when b is 0). */
export function ratio(a: number, b: number): number {
  return b === 0 ? NaN : round(a / b, 3);
}

/** Resolves once `cond()` holds, polling every `everyMs`; rejects after `timeoutMs`. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** What a closed-loop run did: completed requests and the wall time they took. */
export interface LoopRun {
  readonly done: number;
  readonly elapsedMs: number;
}

/** Like throughput(), but returns the count and the elapsed time (for CPU per request). */
export async function closedLoop(send: Send, inFlight: number, durationMs: number): Promise<LoopRun> {
  let done = 0;
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await send();
        done++;
      }
    }),
  );
  return { done, elapsedMs: performance.now() - started };
}
