// MeshClient: resolver -> balancer -> picker -> connections, with failover, retry budget, deadlines and a wait queue.
import { EventEmitter } from 'node:events';
import { OutlierDetector } from '../balancer/outlier-detector.ts';
import { createPolicy } from '../balancer/policies.ts';
import { RetryBudget } from '../balancer/retry-budget.ts';
import { DeadlineExceededError, CancelledError } from '../conn/errors.ts';
import { MeshConnection } from '../conn/mesh-connection.ts';
import { ConsulResolver } from '../discovery/consul-resolver.ts';
import type { Resolver, ResolverState } from '../discovery/resolver.ts';
import { StaticResolver } from '../discovery/static-resolver.ts';
import type { Endpoint } from '../discovery/endpoint.ts';
import { ConfigError, MeshError } from '../errors.ts';
import { createConsulClient, type ConsulClient } from '../registry/consul-client.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { monotonicNow } from '../util/monotonic.ts';
import { ClientMetrics } from './client-metrics.ts';
import { transportTargetFor } from './endpoint-target.ts';
import { attemptVerdict, classifyFailure } from './attempt-outcome.ts';
import { EndpointBalancer, type RouteContext, type EndpointPool } from './endpoint-balancer.ts';
import { FirstAttempt, type FirstAttemptEnds } from './first-attempt.ts';
import { hedgedRequest } from './hedged-request.ts';
import { ClientClosedError } from './errors.ts';
import {
  DEFAULT_CLIENT_TICK_MS,
  resolveClientOptions,
  type MeshClientOptions,
  type ResolvedClientOptions,
} from './options.ts';
import { RegistryWait } from './registry-wait.ts';
import { WaitQueue } from './wait-queue.ts';
import {
  attemptOptions,
  routeOf,
  type MeshClientEvents,
  type MeshClientStats,
  type MeshRequestOptions,
} from './mesh-client-types.ts';

export type { MeshClientEvents, MeshClientStats, MeshRequestOptions } from './mesh-client-types.ts';

/** The options of a request given none: one shared object, not a new `{}` per call. */
const NO_OPTIONS: MeshRequestOptions = Object.freeze({});

export class MeshClient extends EventEmitter<MeshClientEvents> {
  readonly #o: ResolvedClientOptions;
  readonly #log: Logger;
  readonly #resolver: Resolver;
  readonly #ownsResolver: boolean;
  readonly #consul: ConsulClient | undefined;
  readonly #balancer: EndpointBalancer;
  readonly #queue: WaitQueue<EndpointPool, RouteContext>;
  readonly #budget: RetryBudget;
  readonly #onUpdate: (eps: readonly Endpoint[]) => void;
  readonly #onResolverState: (state: ResolverState, err?: Error) => void;
  readonly #metrics: ClientMetrics | undefined;
  readonly #registryWait: RegistryWait;
  #requests = 0;
  #succeeded = 0;
  #failed = 0;
  #retried = 0;
  #rerouted = 0;
  #hedges = 0;
  #inFlight = 0;
  #closed = false;
  #closePromise: Promise<void> | undefined;

  /** Builds the client, starts discovery and waits (up to readyTimeoutMs) for a first READY connection. */
  static async connect(options: MeshClientOptions): Promise<MeshClient> {
    const client = new MeshClient(options);
    try {
      await client.#start();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  private constructor(options: MeshClientOptions) {
    super();
    const o = resolveClientOptions(options);
    this.#o = o;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'mesh-client' });
    if (options.resolver !== undefined) {
      this.#resolver = options.resolver;
      this.#ownsResolver = false;
    } else if (options.endpoints !== undefined) {
      this.#resolver = new StaticResolver(options.endpoints);
      this.#ownsResolver = true;
    } else {
      const consul = createConsulClient(options.consul ?? {});
      try {
        this.#resolver = new ConsulResolver({ consul, service: o.service, tags: [...o.tags], logger: this.#log });
      } catch (err) {
        consul.close();
        throw err;
      }
      this.#consul = consul;
      this.#ownsResolver = true;
    }
    // The budget and the detector read the request path's clock, so one reading serves them all.
    this.#budget = new RetryBudget({ ...options.retryBudget, now: monotonicNow });
    const outlier =
      options.outlier === false ? undefined : new OutlierDetector({ ...options.outlier, now: monotonicNow });
    this.#balancer = new EndpointBalancer({
      policy: createPolicy(o.policy, { random: options.random }),
      zone: o.zone,
      requiredTags: o.tags,
      outlier,
      drainGraceMs: o.drainGraceMs,
      maxConnectionsPerSpearlet: o.maxConnectionsPerSpearlet,
      poolIdleTimeoutMs: o.poolIdleTimeoutMs,
      logger: this.#log,
      createConnection: (e) =>
        new MeshConnection({
          spearletId: e.id,
          target: transportTargetFor(e, { preferUnixSocket: o.preferUnixSocket, tls: o.tls }),
          tokenProvider: o.tokenProvider,
          agentName: options.agentName,
          logger: this.#log,
          heartbeatMs: o.heartbeatMs,
          heartbeatTimeoutMs: o.heartbeatTimeoutMs,
          connectTimeoutMs: o.connectTimeoutMs,
          backoff: o.reconnectBackoff,
        }),
    });
    this.#queue = new WaitQueue<EndpointPool, RouteContext>({
      maxSize: o.queueMaxSize,
      tickMs: DEFAULT_CLIENT_TICK_MS,
      pick: (ctx) => this.#balancer.pick(ctx),
      knownEndpoints: () => this.#balancer.size,
      blocked: (ctx) => this.#blocked(ctx),
      expired: (method, waitedMs) =>
        this.#balancer.size === 0 ? this.#registryWait.expired(method, waitedMs) : undefined,
    });
    this.#registryWait = new RegistryWait(o.registryWaitMs, () => {
      this.#log.warn({ waitMs: o.registryWaitMs }, 'the registry has not answered: failing requests that wait for it');
      // Re-evaluates the (empty) set: publishes a picker, so waiting requests and connect() see the registry error.
      this.#balancer.update(this.#resolver.current());
    });
    this.#metrics =
      options.metricsRegistry === undefined
        ? undefined
        : new ClientMetrics(options.metricsRegistry, () => this.stats());
    this.#balancer.on('picker', () => {
      this.#queue.serve();
      this.#metrics?.endpointsChanged(this.#balancer.stats());
    });
    this.#balancer.on('signal', (name, body, id) => {
      this.emit('signal', name, body, id);
    });
    this.#balancer.on('refused', (err, id) => {
      this.emit('refused', err, id);
    });
    this.#onUpdate = (eps) => {
      this.#balancer.update(eps);
    };
    this.#onResolverState = (state, err) => {
      this.#registryWait.onState(state, err);
      if (state === 'stale') this.#log.warn({ err }, 'registry unreachable: keeping the last known spearlets');
      else this.#log.debug({ state }, 'resolver state');
    };
  }

  async #start(): Promise<void> {
    this.#resolver.on('update', this.#onUpdate);
    this.#resolver.on('state', this.#onResolverState);
    this.#resolver.start();
    this.#registryWait.start(this.#resolver.state);
    this.#balancer.update(this.#resolver.current());
    const ready = await this.#balancer.whenAnyReady(this.#o.readyTimeoutMs, () => this.#blocked({}) !== undefined);
    if (!ready) this.#log.warn({ endpoints: this.#balancer.size }, 'no spearlet ready yet; requests will wait for one');
  }

  /** Why requests for `ctx` cannot be served however long they wait: the registry never answered, or refusals. */
  #blocked(ctx: RouteContext): MeshError | undefined {
    if (this.#balancer.size === 0) return this.#registryWait.error;
    return this.#balancer.refusal(ctx);
  }

  /**
   * Sends `method` with `body` to one spearlet and resolves with the response body. Failures reject with a
   * MeshError: SPEARLET_LOST (non-idempotent request in flight on a lost connection: it may have run),
   * NO_SPEARLET_AVAILABLE, REGISTRY_UNAVAILABLE (the registry has not answered since start, see registryWaitMs), a
   * handshake refusal's own code (TOKEN_EXPIRED, ISSUER_MISMATCH, ...: every spearlet it could use refused the
   * token), REQUEST_TOO_LARGE (over the spearlet's maximum frame size; nothing was sent), QUEUE_FULL,
   * RETRY_BUDGET_EXHAUSTED, DEADLINE_EXCEEDED, CANCELLED, CLIENT_CLOSED, or the spearlet's own error code (a
   * RemoteError with `status`).
   */
  request(method: string, body: Uint8Array | string, options: MeshRequestOptions = NO_OPTIONS): Promise<Buffer> {
    let bytes: Uint8Array;
    let deadlineAt: number;
    try {
      if (this.#closed) throw new ClientClosedError();
      if (typeof method !== 'string' || method === '') throw new ConfigError('method', 'must be a non-empty string');
      const deadlineMs = options.deadlineMs;
      if (deadlineMs !== undefined && !(Number.isFinite(deadlineMs) && deadlineMs > 0))
        throw new ConfigError('deadlineMs', 'must be a positive number');
      bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      deadlineAt = deadlineMs === undefined ? 0 : Date.now() + deadlineMs;
    } catch (err) {
      return rejection(err);
    }
    this.#requests++;
    this.#inFlight++;
    const startedAt = monotonicNow();
    this.#budget.recordRequest(startedAt);
    let first: Promise<Buffer> | undefined;
    try {
      first = this.#firstAttempt(method, bytes, options, deadlineAt, startedAt);
    } catch (err) {
      return this.#settled(rejection(err), startedAt);
    }
    return first ?? this.#settled(this.#run(method, bytes, options, deadlineAt, 0, undefined), startedAt);
  }

  /**
   * The usual request without async layers: no hedge, and a spearlet to pick now. Its one attempt settles the call
   * directly; a failed attempt continues in #run's loop at attempt 1, as if #run had made it. Undefined when the
   * request needs #run from the start (a hedge, or nothing to pick: it waits in the queue).
   */
  #firstAttempt(
    method: string,
    body: Uint8Array,
    o: MeshRequestOptions,
    deadlineAt: number,
    callStartedAt: number,
  ): Promise<Buffer> | undefined {
    const idempotent = o.idempotent === true;
    if (idempotent && this.#o.hedgeAfterMs !== undefined && o.spearletId === undefined) return undefined;
    const sub = this.#balancer.pick(routeOf(o));
    if (sub === undefined) return undefined;
    const movable = idempotent && this.#balancer.movesStalledAttempts;
    const signal = movable && o.signal === undefined ? sub.moveSignal : o.signal;
    const a = new FirstAttempt(this.#firstAttemptEnds, sub, method, body, o, deadlineAt, callStartedAt);
    try {
      const conn = sub.connection();
      // The call's own start serves as the attempt's: nothing but the pick came in between.
      this.#balancer.attemptStarted(sub, callStartedAt);
      a.started = true;
      conn.dispatch(method, body, attemptOptions(idempotent, deadlineAt, signal), a);
    } catch (err) {
      a.fail(err);
    }
    return a.promise;
  }

  /** How a first attempt ends: its success is counted where the answer is read; its failure continues in #run. */
  readonly #firstAttemptEnds: FirstAttemptEnds = {
    succeeded: (a, receivedAt) => {
      this.#attemptSucceeded(a.sub, a.callStartedAt, receivedAt);
      this.#countSuccess(a.callStartedAt, receivedAt);
    },
    failed: (a, err) => {
      if (a.started) this.#attemptFailed(a.sub, a.callStartedAt, err);
      let exclude: Set<string>;
      try {
        exclude = this.#afterFailure(err, a.sub, a.method, a.idempotent, 0, a.options, a.deadlineAt, undefined);
      } catch (final) {
        return this.#settled(rejection(final), a.callStartedAt);
      }
      return this.#settled(this.#run(a.method, a.body, a.options, a.deadlineAt, 1, exclude), a.callStartedAt);
    },
  };

  /** The call's own bookkeeping once `p` (its attempts) settles. */
  #settled(p: Promise<Buffer>, startedAt: number): Promise<Buffer> {
    return p.then(
      (out) => this.#callSucceeded(out, startedAt),
      (err: unknown) => this.#callFailed(err, startedAt),
    );
  }

  #callSucceeded(out: Buffer, startedAt: number): Buffer {
    this.#countSuccess(startedAt, this.#metrics === undefined ? 0 : monotonicNow());
    return out;
  }

  #countSuccess(startedAt: number, now: number): void {
    this.#succeeded++;
    this.#metrics?.call(startedAt, undefined, now);
    this.#inFlight--;
  }

  #callFailed(err: unknown, startedAt: number): never {
    this.#failed++;
    this.#metrics?.call(startedAt, err, monotonicNow());
    this.#inFlight--;
    throw err;
  }

  /** The attempt loop from attempt `firstAttempt` on, avoiding the spearlets in `excluded`. */
  async #run(
    method: string,
    body: Uint8Array,
    o: MeshRequestOptions,
    deadlineAt: number,
    firstAttempt: number,
    excluded: Set<string> | undefined,
  ): Promise<Buffer> {
    const idempotent = o.idempotent === true;
    const base: RouteContext = { affinityKey: o.affinityKey, tags: o.tags, spearletId: o.spearletId };
    let exclude = excluded;
    let ctx: RouteContext = exclude === undefined ? base : { ...base, exclude };
    // At most one hedge per request: only its first attempt may be hedged.
    let mayHedge = firstAttempt === 0 && idempotent && this.#o.hedgeAfterMs !== undefined && o.spearletId === undefined;
    const movable = idempotent && this.#balancer.movesStalledAttempts;
    for (let attempt = firstAttempt; ; attempt++) {
      let sub = this.#balancer.pick(ctx);
      // Everything left was excluded: going back to an excluded spearlet beats waiting when it is usable again.
      if (sub === undefined && exclude !== undefined) sub = this.#balancer.pick(base);
      if (sub === undefined) {
        if (this.#closed) throw new ClientClosedError();
        const expiresAt = deadlineAt > 0 ? deadlineAt : Date.now() + this.#o.queueTimeoutMs;
        // Wait for any usable spearlet (base, not ctx): when every spearlet was excluded, none would ever match ctx.
        sub = await this.#queue.wait(base, method, expiresAt, o.signal);
      }
      try {
        if (mayHedge) {
          mayHedge = false;
          return await hedgedRequest({
            method,
            first: sub,
            afterMs: this.#o.hedgeAfterMs ?? 0,
            deadlineAt,
            signal: o.signal,
            exclude: (exclude ??= new Set()),
            attempt: (target, signal) => this.#attempt(target, method, body, true, deadlineAt, signal),
            pickOther: (id) =>
              this.#balancer.pick({ affinityKey: o.affinityKey, tags: o.tags, exclude: new Set([id]) }),
            tryBudget: () => this.#budget.tryRetry(),
            onHedge: () => this.#hedges++,
          });
        }
        // Idempotent attempts carry the endpoint's move signal, so an ejection (of a stalled spearlet) moves them at
        // once instead of at their deadline.
        const signal = movable && o.signal === undefined ? sub.moveSignal : o.signal;
        return await this.#attempt(sub, method, body, idempotent, deadlineAt, signal);
      } catch (err) {
        exclude = this.#afterFailure(err, sub, method, idempotent, attempt, o, deadlineAt, exclude);
        ctx = { ...base, exclude };
      }
    }
  }

  /**
   * After attempt number `attempt` failed on `sub`: throws the error the call ends with, or counts the retry or
   * reroute and returns the spearlets the next attempt avoids (`exclude` plus `sub`).
   */
  #afterFailure(
    err: unknown,
    sub: EndpointPool,
    method: string,
    idempotent: boolean,
    attempt: number,
    o: MeshRequestOptions,
    deadlineAt: number,
    exclude: Set<string> | undefined,
  ): Set<string> {
    if (this.#closed) throw err;
    const outcome = classifyFailure(err, {
      method,
      idempotent,
      attempt,
      maxReroutes: this.#o.maxReroutes,
      budget: this.#budget,
      callerSignal: o.signal,
    });
    if (outcome === 'retry') this.#retried++;
    else this.#rerouted++;
    this.#log.debug(
      { spearletId: sub.id, method, outcome, code: (err as MeshError).code },
      'request moves to another spearlet',
    );
    const next = exclude ?? new Set<string>();
    next.add(sub.id);
    if (o.signal?.aborted === true) throw new CancelledError(method, o.signal.reason);
    if (deadlineAt > 0 && Date.now() >= deadlineAt) throw new DeadlineExceededError(method, o.deadlineMs ?? 0);
    return next;
  }

  /** One attempt on one endpoint, with its outcome and latency reported to the balancer. */
  async #attempt(
    sub: EndpointPool,
    method: string,
    body: Uint8Array,
    idempotent: boolean,
    deadlineAt: number,
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    const conn = sub.connection();
    const startedAt = monotonicNow();
    this.#balancer.attemptStarted(sub, startedAt);
    try {
      const out = await conn.request(method, body, attemptOptions(idempotent, deadlineAt, signal));
      this.#attemptSucceeded(sub, startedAt, monotonicNow());
      return out;
    } catch (err) {
      this.#attemptFailed(sub, startedAt, err);
      throw err;
    }
  }

  #attemptSucceeded(sub: EndpointPool, startedAt: number, now: number): void {
    this.#balancer.attemptEnded(sub, true, 'success', now - startedAt, now);
    this.#metrics?.attempt(sub.id, startedAt, undefined, now);
  }

  #attemptFailed(sub: EndpointPool, startedAt: number, err: unknown): void {
    const now = monotonicNow();
    const verdict = attemptVerdict(err);
    // A cancelled attempt ran for its elapsed time (a lower bound of its latency); other neutral ones never ran.
    const ran = verdict !== 'none' || (err instanceof MeshError && err.code === 'CANCELLED');
    this.#balancer.attemptEnded(sub, false, verdict, ran ? now - startedAt : undefined, now);
    this.#metrics?.attempt(sub.id, startedAt, err, now);
  }

  /** Decides what a failed attempt means: send it elsewhere for free, retry it on the budget, or give up (throws). */
  /**
   * Sends a one-way SIGNAL to one spearlet (`spearletId`: its endpoint id or the id from its WELCOME) or to every
   * READY one. Returns how many got it; a spearlet that is not READY gets nothing (signals are not queued or
   * retried). Throws REQUEST_TOO_LARGE when the signal exceeds a spearlet's maximum frame size.
   */
  signal(name: string, body: Uint8Array | string, options: { spearletId?: string } = {}): number {
    if (this.#closed) throw new ClientClosedError();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    let sent = 0;
    const pinned = options.spearletId === undefined ? undefined : this.#balancer.pool(options.spearletId);
    if (options.spearletId !== undefined && pinned === undefined) return 0;
    for (const sub of pinned === undefined ? this.#balancer.pools() : [pinned]) {
      if (sub.connection().sendSignal(name, bytes)) sent++;
    }
    return sent;
  }

  stats(): MeshClientStats {
    return {
      requests: this.#requests,
      succeeded: this.#succeeded,
      failed: this.#failed,
      retried: this.#retried,
      rerouted: this.#rerouted,
      hedged: this.#hedges,
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      retryBudgetAvailable: this.#budget.available(),
      resolver: this.#resolver.state,
      endpoints: this.#balancer.stats(),
    };
  }

  /**
   * Stops taking requests (CLIENT_CLOSED), fails queued ones, gives in-flight ones closeGraceMs to finish, then
   * releases every socket and timer. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#registryWait.close();
    this.#metrics?.close();
    this.#queue.close(new ClientClosedError());
    this.#resolver.off('update', this.#onUpdate);
    this.#resolver.off('state', this.#onResolverState);
    if (this.#ownsResolver) await this.#resolver.close();
    this.#consul?.close();
    await this.#balancer.close(
      this.#o.closeGraceMs,
      new ClientClosedError('the MeshClient closed while the request was in flight'),
    );
  }
}

/** A promise rejected with whatever was thrown, as an async function's would be. */
function rejection(err: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows what the caller's code threw, unchanged
  return Promise.reject(err);
}
