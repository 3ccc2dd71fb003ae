// Bounded FIFO of requests waiting for a usable spearlet, served on every picker change, expired on a coarse timer.
import type { PickContext } from '../balancer/picker.ts';
import { CancelledError } from '../conn/errors.ts';
import type { MeshError } from '../errors.ts';
import { NoSpearletAvailableError, QueueFullError } from './errors.ts';

interface Waiter<T, C> {
  readonly ctx: C;
  readonly method: string;
  readonly enqueuedAt: number;
  /** Absolute Date.now() time after which the waiter fails with NO_SPEARLET_AVAILABLE. */
  readonly expiresAt: number;
  readonly resolve: (target: T) => void;
  readonly reject: (err: Error) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

export interface WaitQueueOptions<T, C extends PickContext> {
  readonly maxSize: number;
  readonly tickMs: number;
  /** Tries to find a target for a waiter; called on serve() and on every tick. */
  readonly pick: (ctx: C) => T | undefined;
  /** How many endpoints are known, for the error message. */
  readonly knownEndpoints: () => number;
  /**
   * Why no target will come for `ctx` however long it waits (a handshake refusal, a registry that never answered):
   * the waiter fails with it at once, on wait() and on every serve(). Undefined: keep waiting.
   */
  readonly blocked?: ((ctx: C) => MeshError | undefined) | undefined;
  /** The error for a waiter whose time ran out, when there is a better one than NO_SPEARLET_AVAILABLE. */
  readonly expired?: ((method: string, waitedMs: number) => MeshError | undefined) | undefined;
  /** The clock expiresAt is measured on (default Date.now; tests pass a fake one). */
  readonly now?: (() => number) | undefined;
}

export class WaitQueue<T, C extends PickContext = PickContext> {
  readonly #o: WaitQueueOptions<T, C>;
  readonly #waiters = new Set<Waiter<T, C>>();
  #ticker: NodeJS.Timeout | undefined;
  #closedWith: MeshError | undefined;
  readonly #now: () => number;

  constructor(options: WaitQueueOptions<T, C>) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Waits until `pick` finds a target for `ctx`, or rejects: QUEUE_FULL, NO_SPEARLET_AVAILABLE (or `expired`'s
   * error), CANCELLED, or `blocked`'s error.
   */
  wait(ctx: C, method: string, expiresAt: number, signal: AbortSignal | undefined): Promise<T> {
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    if (signal?.aborted === true) return Promise.reject(new CancelledError(method, signal.reason));
    const blocked = this.#o.blocked?.(ctx);
    if (blocked !== undefined) return Promise.reject(blocked);
    if (this.#waiters.size >= this.#o.maxSize) return Promise.reject(new QueueFullError(method, this.#o.maxSize));
    return new Promise<T>((resolve, reject) => {
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              if (this.#remove(waiter)) reject(new CancelledError(method, signal.reason));
            };
      const waiter: Waiter<T, C> = {
        ctx,
        method,
        enqueuedAt: this.#now(),
        expiresAt,
        resolve,
        reject,
        signal,
        onAbort,
      };
      this.#waiters.add(waiter);
      if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#ticker === undefined) {
        this.#ticker = setInterval(() => {
          this.#tick();
        }, this.#o.tickMs);
        // Deliberately not unref()ed: a waiting request is pending work, and the process must not exit under it.
        // The timer exists only while someone waits and is cleared on close.
      }
    });
  }

  /** Hands targets to waiters in arrival order; call when the set of usable targets may have grown. */
  serve(): void {
    for (const w of this.#waiters) {
      const target = this.#o.pick(w.ctx);
      if (target !== undefined) {
        if (this.#remove(w)) w.resolve(target);
        continue;
      }
      const blocked = this.#o.blocked?.(w.ctx);
      if (blocked !== undefined && this.#remove(w)) w.reject(blocked);
    }
  }

  /** Rejects every waiter with `err`, and every later wait() too. */
  close(err: MeshError): void {
    this.#closedWith = err;
    for (const w of this.#waiters) {
      this.#remove(w);
      w.reject(err);
    }
  }

  #tick(): void {
    this.serve();
    const now = this.#now();
    for (const w of this.#waiters) {
      if (now >= w.expiresAt && this.#remove(w)) {
        const waitedMs = now - w.enqueuedAt;
        w.reject(
          this.#o.expired?.(w.method, waitedMs) ??
            new NoSpearletAvailableError(w.method, waitedMs, this.#o.knownEndpoints()),
        );
      }
    }
  }

  #remove(w: Waiter<T, C>): boolean {
    if (!this.#waiters.delete(w)) return false;
    if (w.onAbort !== undefined) w.signal?.removeEventListener('abort', w.onAbort);
    if (this.#waiters.size === 0 && this.#ticker !== undefined) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
    return true;
  }
}
