// The requests an agent sent on one session and the spearlet is running: handlers, deadlines, CANCEL, answers.
import { performance } from 'node:perf_hooks';
import { MeshError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../util/logger.ts';
import { Tally, type SpearletMetrics } from '../metrics/spearlet-metrics.ts';
import { HistogramSeries } from '../metrics/tally-histogram.ts';
import {
  RequestFlag,
  Status,
  encodeErrorResponse,
  encodeResponse,
  statusForCode,
  type RequestMessage,
} from '../wire/index.ts';
import type { InPlaceFrame } from '../protocol/frame-writer.ts';
import type { DeadlineOwner, DeadlineSweep } from './deadline-sweep.ts';
import { resultBytes, type Handler, type HandlerRegistry, type HandlerRequest } from './handlers.ts';
import { ResponseFrame } from './response-frame.ts';

/**
 * Encodes OK responses in place. One for the process: sendInPlace encodes it before returning, so no two
 * responses ever share it.
 */
const okResponse = new ResponseFrame();
/** Placeholders until a session counts its first request (#count replaces both before using them). */
const UNUSED_TALLY = new Tally();
const UNUSED_SERIES = new HistogramSeries([]);

export interface InboundHost<S> {
  send(frame: Buffer): void;
  /** Queues a frame that encodes itself into the writer's memory before this returns (FrameWriter.writeInPlace). */
  sendInPlace(frame: InPlaceFrame): void;
  readonly metrics: SpearletMetrics;
  readonly handlers: HandlerRegistry<S>;
  /** The spearlet's one coarse deadline timer. */
  readonly deadlines: DeadlineSweep;
  /** The session's current logger (it gains the agent binding after HELLO). */
  logger(): Logger;
  /** A request left the table: the session may now finish a GOAWAY. */
  settled(): void;
}

/**
 * One request in flight, and what its handler gets (the handler sees the HandlerRequest fields only). One object
 * per request: a class, because a literal with a `signal` getter is built through a slow runtime path.
 */
class InboundRequest<S> implements HandlerRequest<S> {
  readonly body: Buffer;
  readonly method: string;
  readonly agent: string;
  readonly requestId: bigint;
  readonly idempotent: boolean;
  readonly session: S;
  /** performance.now() at receipt. */
  readonly startedAt: number;
  readonly noReply: boolean;
  readonly deadlineMs: number;
  /** performance.now() deadline, 0 for none. */
  readonly deadlineAt: number;
  /** The RESPONSE was sent (or deliberately skipped): whatever the handler does later is dropped. */
  responded = false;
  /** In the session's table: the handler returned a promise (a synchronous answer never enters it). */
  tabled = false;
  /** Created when the handler first reads `signal` (most never do: an AbortSignal costs more than an echo). */
  #controller: AbortController | undefined;
  /** Set once the request is aborted; a controller created later starts aborted with it. */
  #abortReason: MeshError | undefined;

  constructor(msg: RequestMessage, startedAt: number, session: S, agent: string) {
    this.body = msg.body;
    this.method = msg.method;
    this.agent = agent;
    this.requestId = msg.id;
    this.idempotent = (msg.flags & RequestFlag.IDEMPOTENT) !== 0;
    this.session = session;
    this.startedAt = startedAt;
    this.noReply = (msg.flags & RequestFlag.NO_REPLY) !== 0;
    this.deadlineMs = msg.deadlineMs;
    this.deadlineAt = msg.deadlineMs > 0 ? startedAt + msg.deadlineMs : 0;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Aborts once: the first reason wins, as with AbortController.abort. */
  abortWith(reason: MeshError): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}

export class InboundRequests<S> implements DeadlineOwner {
  readonly #host: InboundHost<S>;
  readonly #entries = new Map<bigint, InboundRequest<S>>();
  #lastAccepted = 0n;
  #accepted = 0;
  /** Earliest deadline that may be pending (a lower bound); Infinity when none. */
  #nextDeadlineAt = Infinity;
  /** The deadline sweep is watching this table. */
  #watched = false;
  /** The method label counted last, with its OK count and duration series (see #count). */
  #countedLabel: string | undefined;
  #okCount = UNUSED_TALLY;
  #durations = UNUSED_SERIES;
  /** Between holdTimings() and releaseTimings(): synchronous answers are timed together, at the release. */
  #holding = false;
  /** Synchronous OK answers of #countedLabel counted but not yet timed, all received at #batchStartedAt. */
  #batched = 0;
  #batchStartedAt = 0;

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

  /**
   * The owner is handling one received chunk: until releaseTimings(), requests answered synchronously (which share
   * the chunk's receipt time) are timed together, with one clock reading at the release instead of one each.
   */
  holdTimings(): void {
    this.#holding = true;
  }

  releaseTimings(): void {
    this.#holding = false;
    this.#flushTimings();
  }

  has(id: bigint): boolean {
    return this.#entries.size !== 0 && this.#entries.has(id);
  }

  /** Answers a request that will not run, with an error RESPONSE (unless it asked for no reply). */
  refuse(msg: RequestMessage, startedAt: number, code: ErrorCode, message: string, retryable: boolean): void {
    const status = statusForCode(code);
    this.#count(msg.method, status, startedAt, false);
    if ((msg.flags & RequestFlag.NO_REPLY) === 0) {
      this.#host.send(encodeErrorResponse(msg.id, status, code, message, retryable));
    }
  }

  /**
   * Starts `handler` for an accepted request. A handler that returns a value (not a promise) is answered before
   * run() returns, without entering the table: nothing can cancel, expire or drain a request while its handler runs
   * synchronously, so the table, the in-flight gauge and the deadline sweep only see requests answered later. A
   * promise is answered when it settles, or earlier by the deadline, a CANCEL or a drain.
   */
  run(msg: RequestMessage, startedAt: number, handler: Handler<S>, session: S, agent: string): void {
    if (msg.id > this.#lastAccepted) this.#lastAccepted = msg.id;
    this.#accepted++;
    const req = new InboundRequest(msg, startedAt, session, agent);
    let result: unknown;
    try {
      result = handler(req);
    } catch (err) {
      this.#failed(req, err);
      return;
    }
    if (!isPromiseLike(result)) {
      this.#succeeded(req, result);
      return;
    }
    req.tabled = true;
    this.#entries.set(msg.id, req);
    this.#host.metrics.inFlight.inc();
    if (req.deadlineAt > 0) {
      if (req.deadlineAt < this.#nextDeadlineAt) this.#nextDeadlineAt = req.deadlineAt;
      if (!this.#watched) {
        this.#watched = true;
        this.#host.deadlines.watch(this);
      }
    }
    result.then(
      (value) => {
        this.#succeeded(req, value);
      },
      (err: unknown) => {
        this.#failed(req, err);
      },
    );
  }

  #succeeded(req: InboundRequest<S>, result: unknown): void {
    if (!req.responded) {
      let bytes: Uint8Array;
      try {
        bytes = resultBytes(result);
      } catch (err) {
        this.#failed(req, err);
        return;
      }
      req.responded = true;
      // Not in the table: the handler answered synchronously, so it can be timed with its chunk (see holdTimings).
      this.#count(req.method, Status.OK, req.startedAt, true, !req.tabled);
      if (!req.noReply) {
        if (ResponseFrame.fits(req.requestId, Status.OK, bytes)) {
          okResponse.set(req.requestId, Status.OK, bytes);
          this.#host.sendInPlace(okResponse);
        } else {
          this.#host.send(encodeResponse(req.requestId, Status.OK, bytes));
        }
      }
    }
    this.#settle(req);
  }

  #failed(req: InboundRequest<S>, err: unknown): void {
    if (!req.responded) {
      req.responded = true;
      const e =
        err instanceof MeshError
          ? err
          : new MeshError('HANDLER_ERROR', err instanceof Error ? err.message : 'handler failed', { cause: err });
      if (!(err instanceof MeshError)) this.#host.logger().warn({ err, method: req.method }, 'handler failed');
      const status = statusForCode(e.code);
      this.#count(req.method, status, req.startedAt, true);
      if (!req.noReply) this.#host.send(encodeErrorResponse(req.requestId, status, e.code, e.message, e.retryable));
    }
    this.#settle(req);
  }

  #settle(req: InboundRequest<S>): void {
    if (req.tabled) {
      req.tabled = false;
      this.#entries.delete(req.requestId);
      this.#host.metrics.inFlight.dec();
    }
    this.#host.settled();
  }

  /**
   * Answers DEADLINE_EXCEEDED for every request whose deadline is at or before `now` (the spearlet's coarse
   * deadline sweep calls this); true while deadlines remain pending.
   */
  expireDeadlines(now: number): boolean {
    if (now < this.#nextDeadlineAt) return true;
    let next = Infinity;
    for (const req of this.#entries.values()) {
      if (req.deadlineAt === 0 || req.responded) continue;
      if (req.deadlineAt <= now) {
        this.abort(req.requestId, 'DEADLINE_EXCEEDED', `deadline of ${req.deadlineMs} ms passed`, false);
      } else if (req.deadlineAt < next) next = req.deadlineAt;
    }
    this.#nextDeadlineAt = next;
    this.#watched = next !== Infinity;
    return this.#watched;
  }

  /**
   * Stops one request now: its AbortSignal fires and, unless `code` is CANCELLED (the caller gave up and wants no
   * answer), the client gets an error RESPONSE at once. Unknown or answered ids are ignored.
   */
  abort(id: bigint, code: ErrorCode, message: string, retryable: boolean): void {
    const req = this.#entries.get(id);
    if (req === undefined || req.responded) return;
    req.responded = true;
    const status = statusForCode(code);
    this.#count(req.method, status, req.startedAt, true);
    if (code !== 'CANCELLED' && !req.noReply) {
      this.#host.send(encodeErrorResponse(id, status, code, message, retryable));
    }
    req.abortWith(new MeshError(code, message, { retryable }));
  }

  abortAll(code: ErrorCode, message: string): void {
    for (const id of [...this.#entries.keys()]) this.abort(id, code, message, false);
  }

  /** The connection is gone: every handler is told to stop; nothing can be answered any more. */
  dropAll(): void {
    for (const req of this.#entries.values()) {
      if (!req.responded) {
        req.responded = true;
        this.#count(req.method, statusForCode('CONNECTION_CLOSED'), req.startedAt, true);
      }
      req.abortWith(new MeshError('CONNECTION_CLOSED', 'connection closed'));
    }
  }

  #count(method: string, status: number, startedAt: number, known: boolean, batchable = false): void {
    // Unknown methods share one label so a client cannot grow the metric without bound.
    const label = known || this.#host.handlers.has(method) ? method : '(unknown)';
    const metrics = this.#host.metrics;
    // A session mostly calls one method: its OK count and duration series are kept (the decoder hands out one string
    // per method name, so the comparison is by reference).
    if (label !== this.#countedLabel) {
      this.#flushTimings();
      this.#countedLabel = label;
      this.#okCount = metrics.requests.cell(label, Status.OK);
      this.#durations = metrics.requestDuration.series(label);
    }
    if (status === Status.OK) this.#okCount.value++;
    else metrics.requests.count(label, status);
    if (batchable && this.#holding) {
      if (this.#batched > 0 && startedAt !== this.#batchStartedAt) this.#flushTimings();
      if (this.#batched++ === 0) this.#batchStartedAt = startedAt;
      return;
    }
    this.#durations.observe((performance.now() - startedAt) / 1000);
  }

  /** Observes the batched synchronous answers' duration: from their receipt to now (their chunk is handled). */
  #flushTimings(): void {
    if (this.#batched === 0) return;
    this.#durations.observeMany((performance.now() - this.#batchStartedAt) / 1000, this.#batched);
    this.#batched = 0;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { then?: unknown }).then === 'function' &&
      !(value instanceof Uint8Array))
  );
}
