// Owns an EndpointPool per endpoint, keeps the pools in step with the resolver's set, and publishes the current picker.
import { EventEmitter } from 'node:events';
import type { OutlierDetector, Verdict } from '../balancer/outlier-detector.ts';
import { EMPTY_PICKER, type Picker, type PickContext, type Policy } from '../balancer/picker.ts';
import { buildPicker } from '../balancer/policies.ts';
import { hasAllTags } from '../balancer/tag-filter.ts';
import type { HandshakeRefusedError } from '../conn/errors.ts';
import type { MeshConnection } from '../conn/mesh-connection.ts';
import { ConnState } from '../conn/states.ts';
import type { Endpoint } from '../discovery/endpoint.ts';
import type { MeshError } from '../errors.ts';
import type { Logger } from '../util/logger.ts';
import { closedForOurSilence } from './attempt-outcome.ts';
import { EndpointPool } from './endpoint-pool.ts';

export { EndpointPool };

export interface EndpointStats {
  readonly id: string;
  readonly address: string;
  readonly transport: string;
  readonly state: ConnState;
  readonly outstanding: number;
  readonly ewmaMs: number;
  readonly ejected: boolean;
  /** Attempts answered successfully by this endpoint, and attempts that failed here (since it joined). */
  readonly succeeded: number;
  readonly failed: number;
  /** Attempts written to this endpoint so far (settled or not): grows with every pick of it. */
  readonly attempts: number;
  /** Connections open or opening to this spearlet (more than one only under load). */
  readonly connections: number;
}

export interface EndpointBalancerOptions {
  readonly policy: Policy;
  readonly zone: string | undefined;
  /** Endpoints lacking any of these tags are ignored. */
  readonly requiredTags: readonly string[];
  readonly createConnection: (endpoint: Endpoint) => MeshConnection;
  readonly outlier: OutlierDetector | undefined;
  readonly drainGraceMs: number;
  /** Connections one spearlet may get when the first ones are saturated. */
  readonly maxConnectionsPerSpearlet: number;
  /** Extra connections close after this long without a request (EndpointPool.closeIdle). */
  readonly poolIdleTimeoutMs?: number | undefined;
  readonly logger: Logger;
}

export interface EndpointBalancerEvents {
  /** A new picker was published: waiting requests should try again. */
  picker: [];
  signal: [name: string, body: Buffer, spearletId: string];
  /** A spearlet refused a handshake for a reason retrying with the same token cannot fix. */
  refused: [err: HandshakeRefusedError, spearletId: string];
}

/** A pick request: the policy's context, or a pin to one spearlet id (no balancing, no failover elsewhere). */
export interface RouteContext extends PickContext {
  readonly spearletId?: string | undefined;
}

/** Connection fields whose change needs a new connection (tags, zone and meta changes do not). */
const connKey = (e: Endpoint): string => JSON.stringify([e.address, e.port, e.socketPath ?? null, e.tls]);

export class EndpointBalancer extends EventEmitter<EndpointBalancerEvents> {
  readonly #o: EndpointBalancerOptions;
  readonly #subs = new Map<string, EndpointPool>();
  /** Spearlet ids from WELCOME that differ from their endpoint's id (static endpoints are named 'host:port'). */
  readonly #welcomeIds = new Map<string, string>();
  /** Endpoints that left, finishing their in-flight requests. */
  readonly #retiring = new Set<EndpointPool>();
  #picker: Picker = EMPTY_PICKER;
  #ejectionTimer: NodeJS.Timeout | undefined;
  /** Runs the detector's time-driven checks (stalls, the interval sweep). */
  #checkTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: EndpointBalancerOptions) {
    super();
    this.#o = options;
    const outlier = options.outlier;
    if (outlier !== undefined) {
      outlier.onEject = (e) => {
        options.logger.warn(
          { spearletId: e.id, reason: e.reason, ejectionMs: e.durationMs },
          'endpoint ejected by outlier detection',
        );
      };
      this.#checkTimer = setInterval(() => {
        if (outlier.check()) this.#rebuild();
      }, outlier.checkEveryMs);
      this.#checkTimer.unref();
    }
  }

  /**
   * Whether idempotent attempts should carry their endpoint's move signal: only when stalls are detected, since a
   * spearlet ejected for failures fails its attempts fast anyway (the signal costs a listener per attempt).
   */
  get movesStalledAttempts(): boolean {
    return this.#o.outlier?.detectsStalls === true;
  }

  get size(): number {
    return this.#subs.size;
  }

  /** The hot path: one call into the immutable picker, or a direct lookup for a request pinned to a spearlet. */
  pick(ctx: RouteContext): EndpointPool | undefined {
    if (ctx.spearletId !== undefined) {
      const sub = this.pool(ctx.spearletId);
      return sub?.ready === true ? sub : undefined;
    }
    // Every target of the picker is a EndpointPool: buildPicker only ever sees this.#subs' values.
    return this.#picker.pick(ctx) as EndpointPool | undefined;
  }

  /** The pool for a spearlet, by endpoint id or by the id its spearlet announced in WELCOME. */
  pool(spearletId: string): EndpointPool | undefined {
    const sub = this.#subs.get(spearletId);
    if (sub !== undefined) return sub;
    const endpointId = this.#welcomeIds.get(spearletId);
    return endpointId === undefined ? undefined : this.#subs.get(endpointId);
  }

  /**
   * The handshake refusal that keeps every endpoint `ctx` could go to from serving it (MeshConnection.refusal),
   * or undefined when some endpoint is usable, may become usable, or none is known.
   */
  refusal(ctx: RouteContext): HandshakeRefusedError | undefined {
    const refused = (sub: EndpointPool): HandshakeRefusedError | undefined =>
      sub.state === ConnState.READY ? undefined : sub.primary.refusal;
    if (ctx.spearletId !== undefined) {
      const sub = this.pool(ctx.spearletId);
      return sub === undefined ? undefined : refused(sub);
    }
    let found: HandshakeRefusedError | undefined;
    for (const sub of this.#subs.values()) {
      if (ctx.tags !== undefined && !hasAllTags(sub, ctx.tags)) continue;
      found = refused(sub);
      if (found === undefined) return undefined;
    }
    return found;
  }

  /** Replaces the endpoint set: new endpoints connect at once, gone ones stop being picked now and drain. */
  update(endpoints: readonly Endpoint[]): void {
    if (this.#closed) return;
    const wanted = new Map<string, Endpoint>();
    for (const e of endpoints) if (hasAllTags(e, this.#o.requiredTags)) wanted.set(e.id, e);
    for (const [id, sub] of this.#subs) {
      const next = wanted.get(id);
      if (next === undefined || connKey(next) !== connKey(sub.endpoint))
        this.#retire(sub, next === undefined ? 'left the endpoint set' : 'address changed');
    }
    for (const [id, e] of wanted) {
      const sub = this.#subs.get(id);
      if (sub === undefined) this.#add(e);
      else sub.endpoint = e;
    }
    this.#o.outlier?.setEndpoints(this.#subs.keys());
    this.#rebuild();
  }

  recordSuccess(id: string): void {
    this.#o.outlier?.recordSuccess(id);
  }

  /** A connection to `id` was lost: one failure for outlier detection. */
  recordFailure(id: string): void {
    if (this.#o.outlier?.recordFailure(id) === true) this.#rebuild();
  }

  /** An attempt is about to be written to `sub`. */
  attemptStarted(sub: EndpointPool, nowMs?: number): void {
    sub.attempts++;
    this.#o.outlier?.attemptStarted(sub.id, nowMs);
  }

  /**
   * The attempt ended (`ok`: with a successful response): its latency (undefined when it never ran) feeds the
   * endpoint's peak-EWMA, and its verdict outlier detection.
   */
  attemptEnded(sub: EndpointPool, ok: boolean, verdict: Verdict, latencyMs: number | undefined, nowMs: number): void {
    if (latencyMs !== undefined) sub.observeLatency(latencyMs, nowMs, verdict === 'failure');
    if (ok) sub.succeeded++;
    else sub.failed++;
    if (this.#subs.get(sub.id) !== sub) return;
    if (this.#o.outlier?.attemptEnded(sub.id, verdict, nowMs) === true) this.#rebuild();
  }

  /** Resolves true as soon as any connection is READY, false after `timeoutMs` or once `stop()` says so. */
  whenAnyReady(timeoutMs: number, stop: () => boolean = () => false): Promise<boolean> {
    const anyReady = (): boolean => [...this.#subs.values()].some((s) => s.state === ConnState.READY);
    if (anyReady()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(timer);
        this.off('picker', check);
        resolve(v);
      };
      const check = (): void => {
        if (anyReady() || this.#closed || stop()) done(anyReady());
      };
      // Not unref()ed: the caller awaits this, so it is pending work.
      const timer = setTimeout(() => {
        done(false);
      }, timeoutMs);
      this.on('picker', check);
    });
  }

  /** The current endpoints (not the retiring ones). */
  pools(): IterableIterator<EndpointPool> {
    return this.#subs.values();
  }

  stats(): EndpointStats[] {
    return [...this.#subs.values()].map((s) => ({
      id: s.id,
      address:
        s.endpoint.socketPath !== undefined && s.primary.description.startsWith('unix:')
          ? s.endpoint.socketPath
          : `${s.endpoint.address}:${s.endpoint.port}`,
      transport: s.primary.description.split(':')[0] ?? 'tcp',
      state: s.state,
      connections: s.connections.length,
      outstanding: s.outstanding,
      ewmaMs: Math.round(s.ewmaMs * 1000) / 1000,
      ejected: s.ejected,
      succeeded: s.succeeded,
      failed: s.failed,
      attempts: s.attempts,
    }));
  }

  /** Closes every connection; requests still in flight after `graceMs` reject with `error`. */
  async close(graceMs: number, error: MeshError): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#ejectionTimer !== undefined) clearTimeout(this.#ejectionTimer);
      this.#ejectionTimer = undefined;
      clearInterval(this.#checkTimer);
      this.#checkTimer = undefined;
      for (const sub of this.#subs.values()) this.#retiring.add(sub);
      this.#subs.clear();
      this.#picker = EMPTY_PICKER;
    }
    // close() again on a retiring connection shortens its grace period to ours and sets the error.
    await Promise.all([...this.#retiring].map((sub) => sub.close(graceMs, error)));
  }

  #add(e: Endpoint): void {
    let sub: EndpointPool | undefined = undefined;
    const watch = (conn: MeshConnection): void => {
      conn.on('state', (to, from, err) => {
        if (sub === undefined || this.#subs.get(e.id) !== sub) return;
        if (to === ConnState.READY) {
          this.#o.outlier?.recordSuccess(e.id);
          const announced = conn.welcome?.spearlet;
          if (announced !== undefined && announced !== '' && announced !== e.id) this.#welcomeIds.set(announced, e.id);
        } else if (to === ConnState.TRANSIENT_FAILURE && from !== ConnState.DRAINING && err !== undefined) {
          if (!closedForOurSilence(err)) this.recordFailure(e.id);
        }
        this.#rebuild();
      });
      conn.on('signal', (name, body) => {
        this.emit('signal', name, body, e.id);
      });
      conn.on('refused', (err) => {
        if (sub !== undefined && this.#subs.get(e.id) === sub) this.emit('refused', err, e.id);
      });
    };
    sub = new EndpointPool(e, {
      createConnection: () => this.#o.createConnection(e),
      onConnection: watch,
      maxConnections: this.#o.maxConnectionsPerSpearlet,
      idleTimeoutMs: this.#o.poolIdleTimeoutMs,
    });
    this.#subs.set(e.id, sub);
  }

  #retire(sub: EndpointPool, why: string): void {
    this.#subs.delete(sub.id);
    for (const [announced, endpointId] of this.#welcomeIds)
      if (endpointId === sub.id) this.#welcomeIds.delete(announced);
    this.#o.logger.info({ spearletId: sub.id, why }, 'endpoint retired; in-flight requests may finish');
    this.#retiring.add(sub);
    void sub.close(this.#o.drainGraceMs).finally(() => this.#retiring.delete(sub));
  }

  #rebuild(): void {
    if (this.#closed) return;
    const ejected = this.#o.outlier?.ejected();
    const targets: EndpointPool[] = [];
    for (const sub of this.#subs.values()) {
      const was = sub.ejected;
      sub.ejected = ejected?.has(sub.id) ?? false;
      // Idempotent attempts waiting on a spearlet just ejected move elsewhere now instead of at their deadline.
      if (sub.ejected && !was) sub.moveInFlight();
      if (!sub.ejected) targets.push(sub);
    }
    this.#picker = buildPicker(this.#o.policy, targets, { zone: this.#o.zone });
    if (this.#ejectionTimer !== undefined) clearTimeout(this.#ejectionTimer);
    this.#ejectionTimer = undefined;
    const next = this.#o.outlier?.nextExpiryAt();
    if (next !== undefined) {
      this.#ejectionTimer = setTimeout(
        () => {
          this.#rebuild();
        },
        Math.max(1, next - Date.now()),
      );
      this.#ejectionTimer.unref();
    }
    this.emit('picker');
  }
}
