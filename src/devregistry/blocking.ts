// Wake-ups for blocking queries: readers wait on topics, writers notify them. One resolve per waiter, no polling.
import type { Clock } from './clock.ts';
import type { QueryMeta } from './query.ts';

interface Waiter {
  readonly wake: () => void;
}

/** "The client went away": a much cheaper stand-in for AbortSignal, created once per request. */
export class ClientGone {
  #aborted = false;
  #listener: (() => void) | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  /** One listener at a time (a request waits on one thing at a time). */
  listen(fn: (() => void) | undefined): void {
    this.#listener = fn;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const fn = this.#listener;
    this.#listener = undefined;
    fn?.();
  }
}

export class WatchHub {
  readonly #topics = new Map<string, Set<Waiter>>();
  #closed = false;

  /** Wakes every waiter on each topic. */
  notify(topics: Iterable<string>): void {
    const woken = new Set<Waiter>();
    for (const topic of topics) {
      const set = this.#topics.get(topic);
      if (set === undefined) continue;
      for (const w of set) woken.add(w);
    }
    for (const w of woken) w.wake();
  }

  /**
   * Resolves on the first of: a notify on any topic, `ms` elapsed on `clock`, `signal` aborted, or close().
   * Always cleans up its registrations.
   */
  wait(topics: readonly string[], ms: number, clock: Clock, signal: ClientGone): Promise<void> {
    if (this.#closed || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let done = false;
      const waiter: Waiter = {
        wake: () => {
          if (done) return;
          done = true;
          timer.cancel();
          signal.listen(undefined);
          for (const t of topics) {
            const set = this.#topics.get(t);
            if (set === undefined) continue;
            set.delete(waiter);
            if (set.size === 0) this.#topics.delete(t);
          }
          resolve();
        },
      };
      const timer = clock.setTimeout(() => {
        waiter.wake();
      }, ms);
      signal.listen(waiter.wake);
      for (const t of topics) {
        let set = this.#topics.get(t);
        if (set === undefined) {
          set = new Set();
          this.#topics.set(t, set);
        }
        set.add(waiter);
      }
    });
  }

  /** Number of registered waiters (each counted once per topic). */
  get waiting(): number {
    let n = 0;
    for (const s of this.#topics.values()) n += s.size;
    return n;
  }

  /** Releases every waiter now and makes future waits return at once. */
  close(): void {
    this.#closed = true;
    const all = new Set<Waiter>();
    for (const s of this.#topics.values()) for (const w of s) all.add(w);
    for (const w of all) w.wake();
  }

  get closed(): boolean {
    return this.#closed;
  }
}

export const DEFAULT_QUERY_MS = 300_000;
export const MAX_QUERY_MS = 600_000;

/** Consul's query timeout: default 5 m when ≤ 0, capped at 10 m, plus up to wait/16 of jitter. */
export function queryTimeoutMs(waitMs: number, random: () => number = Math.random): number {
  let t = waitMs;
  if (t > MAX_QUERY_MS) t = MAX_QUERY_MS;
  if (t <= 0) t = DEFAULT_QUERY_MS;
  return t + Math.floor(random() * (t / 16));
}

export interface BlockingSource {
  /** The index this read would report now (before coercing 0 to 1). */
  index(): number;
  /** Topics whose notify may change the index. Re-read after every wake. */
  topics(): readonly string[];
}

/**
 * Consul's blockingquery loop: returns at once when index is 0 (non-blocking) or the current index is already
 * past it; otherwise waits for a relevant change or the timeout, and returns the index to report (never 0).
 */
export async function blockUntilChanged(
  hub: WatchHub,
  clock: Clock,
  meta: QueryMeta,
  source: BlockingSource,
  signal: ClientGone,
): Promise<number> {
  const current = (): number => Math.max(1, source.index());
  if (meta.minIndex === 0n) return current();
  const deadline = clock.now() + queryTimeoutMs(meta.waitMs);
  for (;;) {
    const idx = current();
    if (BigInt(idx) > meta.minIndex) return idx;
    const left = deadline - clock.now();
    if (left <= 0 || hub.closed || signal.aborted) return idx;
    await hub.wait(source.topics(), left, clock, signal);
  }
}
