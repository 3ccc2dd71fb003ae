// A call's first attempt when it needs no async layer (no hedge, a spearlet picked at once): the connection settles
// the call's promise through this handler, with no promise of its own and no continuation in between.
import type { ResponseHandler } from '../conn/connection-options.ts';
import type { EndpointPool } from './endpoint-balancer.ts';
import type { MeshRequestOptions } from './mesh-client-types.ts';

/** The MeshClient's side of a first attempt's end. */
export interface FirstAttemptEnds {
  /**
   * The attempt answered (`receivedAt`: performance.now() when its RESPONSE was read): the attempt's and the call's
   * bookkeeping (the call then resolves with the body).
   */
  succeeded(a: FirstAttempt, receivedAt: number): void;
  /** The attempt failed (`a.started`: it reached a connection): what the call continues with, or ends with. */
  failed(a: FirstAttempt, err: unknown): Promise<Buffer>;
}

export class FirstAttempt implements ResponseHandler {
  readonly promise: Promise<Buffer>;
  readonly sub: EndpointPool;
  readonly method: string;
  readonly body: Uint8Array;
  readonly options: MeshRequestOptions;
  readonly idempotent: boolean;
  readonly deadlineAt: number;
  /** When the call started (monotonicNow()): the attempt's start too, as only the pick came in between. */
  readonly callStartedAt: number;
  /** Whether the attempt reached a connection (then its failure counts against the spearlet). */
  started = false;
  readonly #ends: FirstAttemptEnds;
  #resolve!: (value: Buffer | Promise<Buffer>) => void;
  #reject!: (err: unknown) => void;

  constructor(
    ends: FirstAttemptEnds,
    sub: EndpointPool,
    method: string,
    body: Uint8Array,
    options: MeshRequestOptions,
    deadlineAt: number,
    callStartedAt: number,
  ) {
    this.#ends = ends;
    this.sub = sub;
    this.method = method;
    this.body = body;
    this.options = options;
    this.idempotent = options.idempotent === true;
    this.deadlineAt = deadlineAt;
    this.callStartedAt = callStartedAt;
    this.promise = new Promise<Buffer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Runs inside the socket's read callback: bookkeeping only, and whatever it throws fails this call alone. */
  onResponse(body: Buffer, receivedAt: number): void {
    try {
      this.#ends.succeeded(this, receivedAt);
    } catch (err) {
      this.#reject(err);
      return;
    }
    this.#resolve(body);
  }

  onError(err: Error): void {
    this.fail(err);
  }

  /** Continues in a microtask, as a promise reaction would: retries start outside the connection's code. */
  fail(err: unknown): void {
    queueMicrotask(() => {
      this.#resolve(this.#ends.failed(this, err));
    });
  }
}
