// One coarse timer for the deadlines of every inbound request of a spearlet: no request gets a timer of its own.
import { performance } from 'node:perf_hooks';

/** Something holding deadlines: expires those due at `now`, and says whether any remain. */
export interface DeadlineOwner {
  expireDeadlines(now: number): boolean;
}

/** How often due deadlines are looked for; a deadline fires at most this late. */
export const DEADLINE_TICK_MS = 20;

/**
 * Runs while some owner has deadlines pending: every `tickMs` it asks each watching owner to expire what is due,
 * and stops the timer once none has any left (an idle spearlet has no deadline timer at all).
 */
export class DeadlineSweep {
  readonly #owners = new Set<DeadlineOwner>();
  readonly #tickMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(tickMs = DEADLINE_TICK_MS, now: () => number = () => performance.now()) {
    this.#tickMs = tickMs;
    this.#now = now;
  }

  /** Starts watching `owner` until its expireDeadlines returns false. */
  watch(owner: DeadlineOwner): void {
    if (this.#closed) return;
    this.#owners.add(owner);
    this.#timer ??= setInterval(() => {
      this.tick(this.#now());
    }, this.#tickMs).unref();
  }

  /** One sweep (the timer calls it; tests call it with a fake clock). */
  tick(now: number): void {
    for (const owner of this.#owners) {
      if (!owner.expireDeadlines(now)) this.#owners.delete(owner);
    }
    if (this.#owners.size === 0) this.#stop();
  }

  get watching(): number {
    return this.#owners.size;
  }

  close(): void {
    this.#closed = true;
    this.#owners.clear();
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
