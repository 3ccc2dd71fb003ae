// The requests an agent sent on one session and the spearlet is running: handlers, deadlines, CANCEL, answers.
import { performance } from 'node:perf_hooks';
import { MeshError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../util/logger.ts';
import type { SpearletMetrics } from '../metrics/spearlet-metrics.ts';
import {
  RequestFlag,
  Status,
  encodeErrorResponse,
  encodeResponse,
  statusForCode,
  type RequestMessage,
} from '../wire/index.ts';
import { resultBytes, type Handler, type HandlerRegistry, type HandlerRequest } from './handlers.ts';

export interface InboundHost<S> {
  send(frame: Buffer): void;
  readonly metrics: SpearletMetrics;
  readonly handlers: HandlerRegistry<S>;
  /** The session's current logger (it gains the agent binding after HELLO). */
  logger(): Logger;
  /** A request left the table: the session may now finish a GOAWAY. */
  settled(): void;
}

interface InFlight {
  readonly id: bigint;
  readonly method: string;
  /** Created when the handler first reads `signal` (most never do: an AbortSignal costs more than an echo). */
  controller: AbortController | undefined;
  /** Set once the request is aborted; a controller created later starts aborted with it. */
  abortReason: MeshError | undefined;
  readonly startedAt: number;
  readonly noReply: boolean;
  /** The RESPONSE was sent (or deliberately skipped): whatever the handler does later is dropped. */
  responded: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * What a handler gets. A class rather than an object literal: a literal with a `signal` getter is built through a
 * slow runtime path on every request (it showed as 8% of the echo profile); a prototype getter costs nothing.
 */
class InboundRequest<S> implements HandlerRequest<S> {
  readonly body: Buffer;
  readonly method: string;
  readonly agent: string;
  readonly requestId: bigint;
  readonly idempotent: boolean;
  readonly session: S;
  readonly #entry: InFlight;

  constructor(entry: InFlight, msg: RequestMessage, context: { session: S; agent: string }) {
    this.#entry = entry;
    this.body = msg.body;
    this.method = msg.method;
    this.agent = context.agent;
    this.requestId = msg.id;
    this.idempotent = (msg.flags & RequestFlag.IDEMPOTENT) !== 0;
    this.session = context.session;
  }

  get signal(): AbortSignal {
    return signalOf(this.#entry);
  }
}

export class InboundRequests<S> {
  readonly #host: InboundHost<S>;
  readonly #entries = new Map<bigint, InFlight>();
  #lastAccepted = 0n;
  #accepted = 0;

  constructor(host: InboundHost<S>) {
    this.#host = host;
  }

  /** Requests running now. */
  get size(): number {
    return this.#entries.size;
  }
  /** Highest request id accepted so far (GOAWAY carries it). */
  get lastAccepted(): bigint {
    return this.#lastAccepted;
  }
  /** Requests accepted since the session opened. */
  get accepted(): number {
    return this.#accepted;
  }

  has(id: bigint): boolean {
    return this.#entries.has(id);
  }

  /** Answers a request that will not run, with an error RESPONSE (unless it asked for no reply). */
  refuse(msg: RequestMessage, startedAt: number, code: ErrorCode, message: string, retryable: boolean): void {
    const status = statusForCode(code);
    this.#count(msg.method, status, startedAt, false);
    if ((msg.flags & RequestFlag.NO_REPLY) === 0) {
      this.#host.send(encodeErrorResponse(msg.id, status, code, message, retryable));
    }
  }

  /** Starts `handler` for an accepted request; the RESPONSE follows when it settles or the deadline passes. */
  run(msg: RequestMessage, startedAt: number, handler: Handler<S>, context: { session: S; agent: string }): void {
    if (msg.id > this.#lastAccepted) this.#lastAccepted = msg.id;
    this.#accepted++;
    const entry: InFlight = {
      id: msg.id,
      method: msg.method,
      controller: undefined,
      abortReason: undefined,
      startedAt,
      noReply: (msg.flags & RequestFlag.NO_REPLY) !== 0,
      responded: false,
      timer: undefined,
    };
    this.#entries.set(msg.id, entry);
    this.#host.metrics.inFlight.inc();
    if (msg.deadlineMs > 0) {
      entry.timer = setTimeout(() => {
        this.abort(entry.id, 'DEADLINE_EXCEEDED', `deadline of ${msg.deadlineMs} ms passed`, false);
      }, msg.deadlineMs);
    }
    void this.#execute(entry, msg, handler, context);
  }

  async #execute(
    entry: InFlight,
    msg: RequestMessage,
    handler: Handler<S>,
    context: { session: S; agent: string },
  ): Promise<void> {
    try {
      const result = await handler(new InboundRequest(entry, msg, context));
      if (!entry.responded) {
        entry.responded = true;
        const bytes = resultBytes(result);
        this.#count(entry.method, Status.OK, entry.startedAt, true);
        if (!entry.noReply) this.#host.send(encodeResponse(entry.id, Status.OK, bytes));
      }
    } catch (err) {
      if (!entry.responded) {
        entry.responded = true;
        const e =
          err instanceof MeshError
            ? err
            : new MeshError('HANDLER_ERROR', err instanceof Error ? err.message : 'handler failed', { cause: err });
        if (!(err instanceof MeshError)) this.#host.logger().warn({ err, method: entry.method }, 'handler failed');
        const status = statusForCode(e.code);
        this.#count(entry.method, status, entry.startedAt, true);
        if (!entry.noReply) this.#host.send(encodeErrorResponse(entry.id, status, e.code, e.message, e.retryable));
      }
    } finally {
      clearTimeout(entry.timer);
      this.#entries.delete(entry.id);
      this.#host.metrics.inFlight.dec();
      this.#host.settled();
    }
  }

  /**
   * Stops one request now: its AbortSignal fires and, unless `code` is CANCELLED (the caller gave up and wants no
   * answer), the client gets an error RESPONSE at once. Unknown or answered ids are ignored.
   */
  abort(id: bigint, code: ErrorCode, message: string, retryable: boolean): void {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.responded) return;
    entry.responded = true;
    const status = statusForCode(code);
    this.#count(entry.method, status, entry.startedAt, true);
    if (code !== 'CANCELLED' && !entry.noReply) {
      this.#host.send(encodeErrorResponse(id, status, code, message, retryable));
    }
    abortEntry(entry, new MeshError(code, message, { retryable }));
  }

  abortAll(code: ErrorCode, message: string): void {
    for (const id of [...this.#entries.keys()]) this.abort(id, code, message, false);
  }

  /** The connection is gone: every handler is told to stop; nothing can be answered any more. */
  dropAll(): void {
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer);
      if (!entry.responded) {
        entry.responded = true;
        this.#count(entry.method, statusForCode('CONNECTION_CLOSED'), entry.startedAt, true);
      }
      abortEntry(entry, new MeshError('CONNECTION_CLOSED', 'connection closed'));
    }
  }

  #count(method: string, status: number, startedAt: number, known: boolean): void {
    // Unknown methods share one label so a client cannot grow the metric without bound.
    const label = known || this.#host.handlers.has(method) ? method : '(unknown)';
    this.#host.metrics.requests.inc({ method: label, status: String(status) });
    this.#host.metrics.requestDuration.observe({ method: label }, (performance.now() - startedAt) / 1000);
  }
}

function signalOf(entry: InFlight): AbortSignal {
  if (entry.controller === undefined) {
    entry.controller = new AbortController();
    if (entry.abortReason !== undefined) entry.controller.abort(entry.abortReason);
  }
  return entry.controller.signal;
}

/** Aborts once: the first reason wins, as with AbortController.abort. */
function abortEntry(entry: InFlight, reason: MeshError): void {
  if (entry.abortReason !== undefined) return;
  entry.abortReason = reason;
  entry.controller?.abort(reason);
}
