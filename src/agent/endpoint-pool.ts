// One endpoint as the policies see it: a small pool of connections to it, grown when the ones it has are saturated.
import { PeakEwma } from '../balancer/peak-ewma.ts';
import type { PickTarget } from '../balancer/picker.ts';
import type { MeshConnection } from '../conn/mesh-connection.ts';
import { ConnState } from '../conn/states.ts';
import type { Endpoint } from '../discovery/endpoint.ts';
import type { MeshError } from '../errors.ts';

export const DEFAULT_MAX_CONNECTIONS_PER_SPEARLET = 4;
/** The abort reason of attempts moved off an ejected endpoint. */
export const MOVED: unique symbol = Symbol('moved off an ejected spearlet');
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
    this.#moveCtl ??= new AbortController();
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
    // The constructor always creates one connection and none is ever removed.
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

  close(graceMs: number, error?: MeshError): Promise<void> {
    return Promise.all(this.#conns.map((c) => c.close({ graceMs, ...(error === undefined ? {} : { error }) }))).then(
      () => undefined,
    );
  }

  #grow(): void {
    const conn = this.#o.createConnection();
    this.#conns.push(conn);
    this.#o.onConnection(conn);
    conn.connect();
  }
}

function connecting(c: MeshConnection): boolean {
  return c.state === ConnState.CONNECTING || c.state === ConnState.IDLE;
}

function saturated(c: MeshConnection): boolean {
  const limit = c.welcome?.maxInFlight ?? Infinity;
  return c.outstanding + 1 >= limit * SATURATION_SHARE || c.writeBacklogBytes >= SATURATION_BACKLOG_BYTES;
}
