// A request table entry that settles through a ResponseHandler (MeshConnection.dispatch) instead of a promise.
import type { PendingRequest } from '../protocol/request-table.ts';
import { monotonicNow } from '../util/monotonic.ts';
import type { ResponseHandler } from './connection-options.ts';

export class HandlerEntry implements PendingRequest {
  readonly method: string;
  readonly deadlineAt: number;
  readonly deadlineMs: number;
  readonly signal: AbortSignal | undefined;
  readonly onAbort = undefined;
  readonly reauth = false;
  readonly #handler: ResponseHandler;

  constructor(
    method: string,
    handler: ResponseHandler,
    deadlineAt: number,
    deadlineMs: number,
    signal: AbortSignal | undefined,
  ) {
    this.method = method;
    this.#handler = handler;
    this.deadlineAt = deadlineAt;
    this.deadlineMs = deadlineMs;
    this.signal = signal;
  }

  resolve(body: Buffer, receivedAt?: number): void {
    this.#handler.onResponse(body, receivedAt ?? monotonicNow());
  }

  reject(err: Error): void {
    this.#handler.onError(err);
  }
}
