// The requests one end of a connection has written and not yet settled: ids, deadlines on the coarse timer, typed
// errors. Both the agent's connection and the spearlet's session track their outgoing requests here.
import { CancelledError, DeadlineExceededError } from './errors.ts';

export interface PendingRequest {
  readonly method: string;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (err: Error) => void;
  /** performance.now() when written, for latency measurements. */
  readonly startedAt: number;
  /** Absolute Date.now() deadline, 0 for none. */
  readonly deadlineAt: number;
  /** The caller's deadline in ms, for error messages. */
  readonly deadlineMs: number;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  /** REAUTH exchanges share the id space but are not requests: they do not count as in flight. */
  readonly reauth: boolean;
}

/**
 * Owns the pending entries: `take*` methods remove entries and detach their abort listeners, and the caller then
 * settles them. Ids are the local safe-integer form of the u64 wire ids.
 */
export class RequestTable {
  readonly #map = new Map<number, PendingRequest>();
  #inFlight = 0;
  #nextDeadlineAt = Infinity;

  /** Requests (not REAUTHs) written and not settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The earliest deadline that may be pending (Infinity when none); a lower bound, refreshed by takeExpired. */
  get nextDeadlineAt(): number {
    return this.#nextDeadlineAt;
  }

  add(id: number, p: PendingRequest): void {
    this.#map.set(id, p);
    if (!p.reauth) this.#inFlight++;
    if (p.deadlineAt > 0 && p.deadlineAt < this.#nextDeadlineAt) this.#nextDeadlineAt = p.deadlineAt;
  }

  /** Removes one entry; undefined when it was already settled (or never existed). */
  take(id: number): PendingRequest | undefined {
    const p = this.#map.get(id);
    if (p === undefined) return undefined;
    this.#map.delete(id);
    if (!p.reauth) this.#inFlight--;
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort);
    return p;
  }

  /** Removes and returns every entry. */
  takeAll(): PendingRequest[] {
    const out: PendingRequest[] = [];
    for (const id of [...this.#map.keys()]) {
      const p = this.take(id);
      if (p !== undefined) out.push(p);
    }
    this.#nextDeadlineAt = Infinity;
    return out;
  }

  /** Removes and returns the requests (not REAUTHs) with an id above `lastId`: they crossed a GOAWAY. */
  takeAbove(lastId: bigint): PendingRequest[] {
    const out: PendingRequest[] = [];
    for (const [id, p] of [...this.#map]) {
      if (!p.reauth && BigInt(id) > lastId && this.take(id) !== undefined) out.push(p);
    }
    return out;
  }

  /**
   * Rejects every request whose deadline is at or before `now` with DEADLINE_EXCEEDED, after calling
   * `onExpired(id)` (which sends CANCEL). Called from the connection's coarse timer, so no request has a timer.
   */
  expire(now: number, onExpired: (id: number) => void): void {
    if (now < this.#nextDeadlineAt) return;
    for (const [id, p] of this.takeExpired(now)) {
      onExpired(id);
      p.reject(new DeadlineExceededError(p.method, p.deadlineMs));
    }
  }

  /** Cancels one request for its caller: rejects it with CANCELLED; false when it had already settled. */
  cancel(id: number, reason: unknown): boolean {
    const p = this.take(id);
    if (p === undefined) return false;
    p.reject(new CancelledError(p.method, reason));
    return true;
  }

  /** Rejects every entry with `err`. */
  rejectAll(err: Error): void {
    for (const p of this.takeAll()) p.reject(err);
  }

  /** Removes and returns the entries whose deadline is at or before `now`, with their ids. */
  takeExpired(now: number): [number, PendingRequest][] {
    const out: [number, PendingRequest][] = [];
    let next = Infinity;
    for (const [id, p] of [...this.#map]) {
      if (p.deadlineAt === 0) continue;
      if (p.deadlineAt <= now) {
        if (this.take(id) !== undefined) out.push([id, p]);
      } else if (p.deadlineAt < next) next = p.deadlineAt;
    }
    this.#nextDeadlineAt = next;
    return out;
  }
}
