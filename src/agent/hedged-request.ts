// Hedging for idempotent requests: when the first attempt has not answered after a delay, one more attempt goes to a
// different spearlet (charged to the retry budget); the first success wins and the other attempt is cancelled.
import { CancelledError } from '../protocol/errors.ts';

/** The abort reason of a hedged attempt that lost the race. */
export const LOST_HEDGE: unique symbol = Symbol('another attempt of this request answered first');

export interface HedgeTarget {
  readonly id: string;
}

export interface HedgeOptions<T extends HedgeTarget> {
  readonly method: string;
  readonly first: T;
  readonly afterMs: number;
  /** Absolute Date.now() deadline of the request, 0 for none: no hedge goes out at or after it. */
  readonly deadlineAt: number;
  readonly signal: AbortSignal | undefined;
  /** Runs one attempt on `target`; aborting `signal` must cancel it (CANCEL) and reject. */
  readonly attempt: (target: T, signal: AbortSignal) => Promise<Buffer>;
  /** Another usable target, never `excludeId`; undefined when there is none. */
  readonly pickOther: (excludeId: string) => T | undefined;
  /** Takes one retry from the budget; false when it is spent (then no hedge is sent). */
  readonly tryBudget: () => boolean;
  /** Called when the hedge is sent. */
  readonly onHedge: (target: T) => void;
  /** Targets whose attempt failed are added here, so the caller's retry loop avoids them. */
  readonly exclude: Set<string>;
}

/**
 * Resolves with the first successful answer; rejects with the first attempt's error once every attempt sent has
 * failed (a first attempt that fails before the hedge is due rejects at once, and no hedge is sent then).
 * Never more than one hedge.
 */
export function hedgedRequest<T extends HedgeTarget>(o: HedgeOptions<T>): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const callerSignal = o.signal;
    if (callerSignal?.aborted === true) {
      reject(new CancelledError(o.method, callerSignal.reason));
      return;
    }
    const controllers: AbortController[] = [];
    let pending = 0;
    let done = false;
    // Attempts reject with Errors only (MeshError, or what the connection threw).
    let firstError: Error | undefined;
    const onCallerAbort = (): void => {
      for (const c of controllers) c.abort(callerSignal?.reason);
    };
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    };
    const launch = (target: T): void => {
      const ctl = new AbortController();
      controllers.push(ctl);
      pending++;
      o.attempt(target, ctl.signal).then(
        (out) => {
          if (done) return;
          finish();
          for (const c of controllers) if (c !== ctl) c.abort(LOST_HEDGE);
          resolve(out);
        },
        (err: unknown) => {
          pending--;
          if (done) return;
          o.exclude.add(target.id);
          firstError ??= err as Error;
          // The other attempt may still answer.
          if (pending > 0) return;
          finish();
          reject(firstError);
        },
      );
    };
    const timer = setTimeout(() => {
      if (done || pending === 0) return;
      if (o.deadlineAt > 0 && Date.now() >= o.deadlineAt) return;
      const other = o.pickOther(o.first.id);
      if (other === undefined || other.id === o.first.id || !o.tryBudget()) return;
      o.onHedge(other);
      launch(other);
    }, o.afterMs);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    launch(o.first);
  });
}
