// What a failed attempt means: what it says about its spearlet (outlier detection, peak-EWMA), and whether the
// request goes again (to another spearlet, free or on the retry budget) or fails.
import { verdictOf, type Verdict } from '../balancer/outlier-detector.ts';
import type { RetryBudget } from '../balancer/retry-budget.ts';
import { SpearletLostError } from '../conn/errors.ts';
import { MeshError } from '../errors.ts';
import { RemoteError } from '../protocol/errors.ts';
import { MOVED } from './endpoint-pool.ts';
import { RetryBudgetExhaustedError } from './errors.ts';

/**
 * Whether `err` is the spearlet closing the connection because it heard nothing from this process for its heartbeat
 * timeout: our event loop was paused or starved (a long GC, SIGSTOP, a crowded machine), not the spearlet at fault.
 */
export function closedForOurSilence(err: unknown): boolean {
  const e = err instanceof SpearletLostError ? err.cause : err;
  return e instanceof RemoteError && e.remoteCode === 'HEARTBEAT_TIMEOUT';
}

/** The verdict of an attempt that ended with `err`: nothing for a connection the spearlet closed for our silence. */
export function attemptVerdict(err: unknown): Verdict {
  if (closedForOurSilence(err)) return 'none';
  return verdictOf(err instanceof MeshError ? err.code : undefined);
}

export interface FailedAttempt {
  readonly method: string;
  readonly idempotent: boolean;
  /** Attempts made so far, this one included. */
  readonly attempt: number;
  readonly maxReroutes: number;
  readonly budget: RetryBudget;
  readonly callerSignal: AbortSignal | undefined;
}

/**
 * 'reroute' (it did not run, or it may run again without costing the spearlets anything: free) or 'retry' (charged
 * to the retry budget); throws the error to give to the caller otherwise.
 */
export function classifyFailure(err: unknown, a: FailedAttempt): 'reroute' | 'retry' {
  if (!(err instanceof MeshError)) throw err;
  if (a.attempt >= a.maxReroutes) throw err;
  // Not written, crossed a GOAWAY, or refused by a draining spearlet: it did not run anywhere.
  if (err.code === 'CONNECTION_CLOSED' || err.code === 'DRAINING') return 'reroute';
  // Dropped by a spearlet that heard nothing from us (our own pause): nothing is wrong with the spearlets, and
  // charging the budget would fail the burst of requests that a paused process sends when it resumes.
  if (a.idempotent && closedForOurSilence(err)) return 'reroute';
  // Moved off a spearlet that was ejected while the attempt waited there: it may have run.
  const moved = err.code === 'CANCELLED' && err.cause === MOVED && a.callerSignal?.aborted !== true;
  // A spearlet failure (lost in flight, or its handler crashed) on a request the caller said may run again.
  if (moved || (a.idempotent && (err.code === 'SPEARLET_LOST' || err.code === 'HANDLER_ERROR'))) {
    if (!a.budget.tryRetry()) throw new RetryBudgetExhaustedError(a.method, err);
    return 'retry';
  }
  if (err.code === 'SPEARLET_LOST') throw err;
  // The spearlet said it did not run the request (for example OVERLOADED): safe anywhere, but budgeted.
  if (err.retryable && err.code !== 'DEADLINE_EXCEEDED' && err.code !== 'CANCELLED') {
    if (!a.budget.tryRetry()) throw new RetryBudgetExhaustedError(a.method, err);
    return 'retry';
  }
  throw err;
}
