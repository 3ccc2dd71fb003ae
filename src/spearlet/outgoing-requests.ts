// Requests the spearlet sends to an agent over its session (REQUEST is allowed both ways), on the shared request table.
import { MessageKind, Status, encodeControl, encodeRequest, type ResponseMessage } from '../wire/index.ts';
import { CancelledError, parseRemoteError } from '../protocol/errors.ts';
import { RequestTable } from '../protocol/request-table.ts';

export interface OutgoingRequestOptions {
  /** Sent to the agent as the request's deadline; the promise rejects with DEADLINE_EXCEEDED when it passes. */
  deadlineMs?: number;
  /** Aborting sends CANCEL and rejects with CANCELLED. */
  signal?: AbortSignal;
}

/**
 * Deadlines are checked by `expire(now)` on the session's coarse timer (no timer per request), so a deadline fires
 * up to one sweep interval late. Errors are the same typed ones the agent side raises.
 */
export class OutgoingRequests {
  readonly #send: (frame: Buffer) => void;
  readonly #now: () => number;
  readonly #agent: () => string;
  readonly #table = new RequestTable();
  #nextId = 0;

  constructor(send: (frame: Buffer) => void, now: () => number, agent: () => string) {
    this.#send = send;
    this.#now = now;
    this.#agent = agent;
  }

  get size(): number {
    return this.#table.inFlight;
  }

  request(method: string, body: Uint8Array, options: OutgoingRequestOptions = {}): Promise<Buffer> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new CancelledError(method, signal.reason));
    const id = ++this.#nextId;
    const deadlineMs = options.deadlineMs ?? 0;
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              if (this.#table.cancel(id, signal.reason)) this.#cancel(id);
            };
      this.#table.add(id, {
        method,
        resolve,
        reject,
        deadlineAt: deadlineMs > 0 ? this.#now() + deadlineMs : 0,
        deadlineMs,
        signal,
        onAbort,
        reauth: false,
      });
      if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true });
      this.#send(encodeRequest(BigInt(id), 0, deadlineMs, method, body));
    });
  }

  /** A RESPONSE from the agent; ids we do not know are ignored (protocol.md §3.2). */
  onResponse(msg: ResponseMessage): void {
    const p = this.#table.take(Number(msg.id));
    if (p === undefined) return;
    if (msg.status === Status.OK) p.resolve(msg.body);
    else p.reject(parseRemoteError(this.#agent(), msg.status, msg.body, false, 'agent'));
  }

  /** Called on the session's coarse timer: requests past their deadline fail with DEADLINE_EXCEEDED. */
  expire(now: number): void {
    this.#table.expire(now, this.#cancel);
  }

  /** The connection is gone: every request still waiting fails. */
  rejectAll(err: Error): void {
    this.#table.rejectAll(err);
  }

  readonly #cancel = (id: number): void => {
    this.#send(encodeControl(MessageKind.CANCEL, BigInt(id)));
  };
}
