// One endpoint as the policies see it: a small pool of connections to it, grown when the ones it has are saturated.
import { setMaxListeners } from 'node:events';
import { PeakEwma } from '../balancer/peak-ewma.ts';
import type { PickTarget } from '../balancer/picker.ts';
import type { MeshConnection } from '../conn/mesh-connection.ts';
import { ConnState } from '../conn/states.ts';
import type { Endpoint } from '../discovery/endpoint.ts';
import type { MeshError } from '../errors.ts';

export const DEFAULT_MAX_CONNECTIONS_PER_SPEARLET = 4;
/** The abort reason of attempts moved off an ejected endpoint. */
export const MOVED: unique symbol = Symbol('moved off an ejected spearlet');
/** An extra connection closes after this long without a request. */
export const DEFAULT_POOL_IDLE_TIMEOUT_MS = 60_000;
/** The idle check runs at most this far apart (and at least twice per idle timeout). */
const MAX_IDLE_CHECK_INTERVAL_MS = 5_000;
/** A connection counts as saturated at this share of the spearlet's maxInFlight... */
const SATURATION_SHARE = 0.75;
/** ...or with this many bytes queued for writing. */
const SATURATION_BACKLOG_BYTES = 1024 * 1024;

export interface EndpointPoolOptions {
  readonly createConnection: () => MeshConnection;
  /** Peak-EWMA decay for this endpoint's latency estimate (default DEFAULT_EWMA_DECAY_MS). */
  readonly ewmaDecayMs?: number | undefined;
  /** Called with every connection the pool creates, before it connects (the owner subscribes to its events). */
  readonly onConnection: (conn: MeshConnection) => void;
  readonly maxConnections: number;
  /** Extra connections close after this long without a request (default DEFAULT_POOL_IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs?: number | undefined;
}

export class EndpointPool implements PickTarget {
  /** Replaced in place when the resolver reports new tags, zone or meta for the same address. */
  endpoint: Endpoint;
  ejected = false;
  /** Attempts answered successfully by this endpoint, and attempts that failed here (since it joined). */
  succeeded = 0;
  failed = 0;
  /** Attempts written here (settled or not). */
  attempts = 0;
  readonly #o: EndpointPoolOptions;
  /** One latency estimate for the endpoint, fed by every request on any of its connections. */
  readonly #ewma: PeakEwma;
  #moveCtl: AbortController | undefined;
  /** The first connection is the primary: it reconnects forever; extras are added under load. */
  readonly #conns: MeshConnection[] = [];
  /** Per extra connection: its request count at the last idle check, and when that count last changed. */
  readonly #activity = new Map<MeshConnection, { count: number; at: number }>();
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(endpoint: Endpoint, options: EndpointPoolOptions) {
    this.endpoint = endpoint;
    this.#o = options;
    this.#ewma = new PeakEwma(options.ewmaDecayMs);
    this.#grow();
  }

  get id(): string {
    return this.endpoint.id;
  }
  get zone(): string | undefined {
    return this.endpoint.zone;
  }
  get tags(): readonly string[] {
    return this.endpoint.tags;
  }
  get outstanding(): number {
    let n = 0;
    for (const c of this.#conns) n += c.outstanding;
    return n;
  }
  get ewmaMs(): number {
    return this.#ewma.valueMs;
  }

  /**
   * An attempt ended here after `latencyMs` (answered, failed, or timed out: its whole elapsed time), at `nowMs`.
   * Every pooled connection's attempts feed this one estimate. A failure never lowers it: a spearlet that fails
   * fast must not look faster than the ones that answer.
   */
  observeLatency(latencyMs: number, nowMs: number, failed = false): void {
    this.#ewma.observe(failed ? Math.max(latencyMs, this.#ewma.valueMs) : latencyMs, nowMs);
  }

  /**
   * A signal for idempotent attempts sent here: aborted by moveInFlight() when the endpoint is ejected, so they
   * send CANCEL and move elsewhere. One controller per ejection, shared by every attempt (none per request).
   */
  get moveSignal(): AbortSignal {
    if (this.#moveCtl === undefined) {
      this.#moveCtl = new AbortController();
      // Every idempotent attempt in flight here listens on it (each removes its listener when it ends): more than
      // Node's default of 10 at once is normal, not a leak, and must not print MaxListenersExceededWarning.
      setMaxListeners(0, this.#moveCtl.signal);
    }
    return this.#moveCtl.signal;
  }

  /** Cancels the idempotent attempts in flight here (they carry moveSignal); later attempts get a fresh signal. */
  moveInFlight(): void {
    const ctl = this.#moveCtl;
    this.#moveCtl = undefined;
    ctl?.abort(MOVED);
  }
  get ready(): boolean {
    if (this.ejected) return false;
    for (const c of this.#conns) if (c.ready) return true;
    return false;
  }

  get primary(): MeshConnection {
    // The constructor always creates one connection and closeIdle() never removes the first.
    return this.#conns[0] as MeshConnection;
  }

  get connections(): readonly MeshConnection[] {
    return this.#conns;
  }

  /** READY when any connection is, else the primary's state. */
  get state(): ConnState {
    return this.#conns.some((c) => c.state === ConnState.READY) ? ConnState.READY : this.primary.state;
  }

  /**
   * The ready connection with the fewest requests in flight (the primary when none is ready, so the caller gets a
   * clean CONNECTION_CLOSED). Opens one more connection when the chosen one is saturated and none is connecting.
   */
  connection(): MeshConnection {
    let best: MeshConnection | undefined;
    for (const c of this.#conns) if (c.ready && (best === undefined || c.outstanding < best.outstanding)) best = c;
    if (best === undefined) return this.primary;
    if (this.#conns.length < this.#o.maxConnections && saturated(best) && !this.#conns.some(connecting)) this.#grow();
    return best;
  }

  /**
   * Closes extra connections (never the first) that have had nothing in flight and no new request for the idle
   * timeout; returns how many it closed. Runs on a coarse unref()ed timer while the pool has extras.
   */
  closeIdle(now: number = Date.now()): number {
    const idleMs = this.#o.idleTimeoutMs ?? DEFAULT_POOL_IDLE_TIMEOUT_MS;
    let closed = 0;
    for (let i = this.#conns.length - 1; i >= 1; i--) {
      const c = this.#conns[i] as MeshConnection;
      const seen = this.#activity.get(c);
      const count = c.requestsSent;
      if (seen === undefined || seen.count !== count || c.outstanding > 0) {
        this.#activity.set(c, { count, at: now });
        continue;
      }
      if (now - seen.at < idleMs) continue;
      this.#conns.splice(i, 1);
      this.#activity.delete(c);
      void c.close();
      closed++;
    }
    if (this.#conns.length <= 1) this.#stopIdleTimer();
    return closed;
  }

  close(graceMs: number, error?: MeshError): Promise<void> {
    this.#stopIdleTimer();
    return Promise.all(this.#conns.map((c) => c.close({ graceMs, ...(error === undefined ? {} : { error }) }))).then(
      () => undefined,
    );
  }

  #grow(): void {
    const conn = this.#o.createConnection();
    this.#conns.push(conn);
    this.#o.onConnection(conn);
    conn.connect();
    if (this.#conns.length > 1) {
      this.#activity.set(conn, { count: conn.requestsSent, at: Date.now() });
      this.#startIdleTimer();
    }
  }

  #startIdleTimer(): void {
    if (this.#idleTimer !== undefined) return;
    const idleMs = this.#o.idleTimeoutMs ?? DEFAULT_POOL_IDLE_TIMEOUT_MS;
    this.#idleTimer = setInterval(
      () => {
        this.closeIdle();
      },
      Math.min(Math.max(idleMs / 2, 10), MAX_IDLE_CHECK_INTERVAL_MS),
    );
    this.#idleTimer.unref();
  }

  #stopIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

function connecting(c: MeshConnection): boolean {
  return c.state === ConnState.CONNECTING || c.state === ConnState.IDLE;
}

function saturated(c: MeshConnection): boolean {
  const limit = c.welcome?.maxInFlight ?? Infinity;
  return c.outstanding + 1 >= limit * SATURATION_SHARE || c.writeBacklogBytes >= SATURATION_BACKLOG_BYTES;
}
