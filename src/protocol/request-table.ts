// The requests one end of a connection has written and not yet settled: ids, deadlines on the coarse timer, typed
// errors. Both the agent's connection and the spearlet's session track their outgoing requests here.
import { CancelledError, DeadlineExceededError } from './errors.ts';
import { IdSlots } from './id-slots.ts';

/**
 * One entry. The table and its owner settle it exactly once, as `p.resolve(body, receivedAt)` or `p.reject(err)`
 * (`receivedAt`: the owner's performance.now() reading for the bytes that carried the answer, when it took one).
 */
export interface PendingRequest {
  readonly method: string;
  resolve(body: Buffer, receivedAt?: number): void;
  reject(err: Error): void;
  /** Absolute Date.now() deadline, 0 for none. */
  readonly deadlineAt: number;
  /** The caller's deadline in ms, for error messages. */
  readonly deadlineMs: number;
  /**
   * The caller's abort signal. With `onAbort` the caller listens itself (the table removes that listener when it takes
   * the entry); without it the table listens, with one listener per signal however many entries carry it, and
   * cancels them all when it aborts (see RequestTableOptions.onCancelled).
   */
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  /** REAUTH exchanges share the id space but are not requests: they do not count as in flight. */
  readonly reauth: boolean;
}

export interface RequestTableOptions {
  /**
   * An entry was rejected with CANCELLED because its signal (one the table listens to) aborted; for example to send
   * CANCEL for `id`.
   */
  readonly onCancelled?: (id: number) => void;
}

/** One abort signal the table listens to: the ids of the entries that carry it, and its one listener. */
interface SignalWatch {
  readonly ids: Set<number>;
  readonly listener: () => void;
}

/**
 * Owns the pending entries: `take*` methods remove entries and detach their abort listeners, and the caller then
 * settles them. Ids are the local safe-integer form of the u64 wire ids: positive, handed out in increasing order.
 */
export class RequestTable {
  readonly #map = new IdSlots<PendingRequest>();
  readonly #onCancelled: ((id: number) => void) | undefined;
  /**
   * The signals of entries without their own listener. A signal many requests share (an endpoint's move signal)
   * gets one listener while any of them is pending, not one added and removed per request.
   */
  readonly #watches = new Map<AbortSignal, SignalWatch>();
  #inFlight = 0;
  #nextDeadlineAt = Infinity;

  constructor(options: RequestTableOptions = {}) {
    this.#onCancelled = options.onCancelled;
  }

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
    if (p.signal !== undefined && p.onAbort === undefined) this.#watch(p.signal, id);
  }

  /** Removes one entry; undefined when it was already settled (or never existed). */
  take(id: number): PendingRequest | undefined {
    const p = this.#map.take(id);
    if (p === undefined) return undefined;
    if (!p.reauth) this.#inFlight--;
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort);
    else if (p.signal !== undefined) this.#unwatch(p.signal, id);
    return p;
  }

  #watch(signal: AbortSignal, id: number): void {
    const w = this.#watches.get(signal);
    if (w !== undefined) {
      w.ids.add(id);
      return;
    }
    const ids = new Set<number>([id]);
    const listener = (): void => {
      this.#watches.delete(signal);
      for (const aborted of [...ids]) {
        if (this.cancel(aborted, signal.reason)) this.#onCancelled?.(aborted);
      }
    };
    this.#watches.set(signal, { ids, listener });
    signal.addEventListener('abort', listener, { once: true });
  }

  #unwatch(signal: AbortSignal, id: number): void {
    const w = this.#watches.get(signal);
    if (w === undefined || !w.ids.delete(id) || w.ids.size > 0) return;
    this.#watches.delete(signal);
    signal.removeEventListener('abort', w.listener);
  }

  /** Removes and returns every entry. */
  takeAll(): PendingRequest[] {
    const out: PendingRequest[] = [];
    for (const [id] of this.#map.entries()) {
      const p = this.take(id);
      if (p !== undefined) out.push(p);
    }
    this.#nextDeadlineAt = Infinity;
    return out;
  }

  /** Removes and returns the requests (not REAUTHs) with an id above `lastId`: they crossed a GOAWAY. */
  takeAbove(lastId: bigint): PendingRequest[] {
    const out: PendingRequest[] = [];
    for (const [id, p] of this.#map.entries()) {
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
    for (const [id, p] of this.#map.entries()) {
      if (p.deadlineAt === 0) continue;
      if (p.deadlineAt <= now) {
        if (this.take(id) !== undefined) out.push([id, p]);
      } else if (p.deadlineAt < next) next = p.deadlineAt;
    }
    this.#nextDeadlineAt = next;
    return out;
  }
}
