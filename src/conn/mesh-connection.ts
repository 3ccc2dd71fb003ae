// The reconnecting connection to one spearlet endpoint: states, backoff, graceful close; one ClientSession per socket.
import { EventEmitter } from 'node:events';
import type { MeshError } from '../errors.ts';
import { Backoff } from '../util/backoff.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { ClientSession, type ClientSessionConfig } from './client-session.ts';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_REFUSED_RETRY_MS,
  DEFAULT_TICK_MS,
  type ConnRequestOptions,
  type MeshConnectionEvents,
  type MeshConnectionOptions,
  type ResponseHandler,
} from './connection-options.ts';
import { ConnectFailedError, ConnectionClosedError, HandshakeRefusedError, SpearletLostError } from './errors.ts';
import { canTransition, ConnState } from './states.ts';
import { closeTransport, openTransport, describeTarget, type TransportTarget } from './transport.ts';
import type { GoawayInfo, WelcomeInfo } from './welcome.ts';
import { ConfigError } from '../errors.ts';

export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_REFUSED_RETRY_MS,
  DEFAULT_TICK_MS,
  type ConnRequestOptions,
  type MeshConnectionEvents,
  type MeshConnectionOptions,
  type ResponseHandler,
} from './connection-options.ts';

let connCounter = 0;

/**
 * A connection that (re)connects itself until closed. `request()` writes at once when READY and otherwise
 * rejects with CONNECTION_CLOSED (not written, safe to send elsewhere). Requests in flight when the connection dies
 * reject with SPEARLET_LOST. Each socket gets its own ClientSession; events from a session that is no longer the
 * current one are ignored, so a late callback cannot touch the next socket.
 */
export class MeshConnection extends EventEmitter<MeshConnectionEvents> {
  readonly spearletId: string;
  readonly connId: string;
  readonly #target: TransportTarget;
  readonly #tokenProvider: () => Promise<string>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #connectTimeoutMs: number;
  readonly #reconnect: boolean;
  readonly #backoff: Backoff;
  readonly #sessionConfig: ClientSessionConfig;
  readonly #refusedRetryMs: number;

  #state: ConnState = ConnState.IDLE;
  /** The session of the current socket (or handshake); undefined between sockets. */
  #session: ClientSession | undefined;
  #welcome: WelcomeInfo | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #retryAfterMs = 0;
  #requestsSent = 0;
  /** The last handshake refusal retrying cannot fix, the token it refused and when; cleared by READY or a new token. */
  #refusal: HandshakeRefusedError | undefined;
  #refusedToken: string | undefined;
  #refusedAt = 0;
  /** A token #checkToken already fetched, for the next attempt to use instead of asking the provider again. */
  #freshToken: string | undefined;
  #idleWaiters: (() => void)[] = [];
  #closePromise: Promise<void> | undefined;
  #closeError: MeshError | undefined;
  #graceUntil = Infinity;
  #graceTimer: NodeJS.Timeout | undefined;
  #graceDone: (() => void) | undefined;
  /** Settles once CLOSED has released the socket. */
  #released: Promise<void> = Promise.resolve();

  constructor(options: MeshConnectionOptions) {
    super();
    this.spearletId = options.spearletId;
    this.connId = `c${++connCounter}`;
    this.#target = options.target;
    this.#tokenProvider = options.tokenProvider;
    this.#log = (options.logger ?? silentLogger()).child({
      component: 'conn',
      spearletId: this.spearletId,
      connId: this.connId,
    });
    this.#now = options.now ?? Date.now;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.#reconnect = options.reconnect ?? true;
    this.#backoff = new Backoff({ ...DEFAULT_RECONNECT_BACKOFF, ...options.backoff });
    this.#refusedRetryMs = options.refusedRetryMs ?? DEFAULT_REFUSED_RETRY_MS;
    for (const [name, v] of [
      ['connectTimeoutMs', this.#connectTimeoutMs],
      ['refusedRetryMs', this.#refusedRetryMs],
      ['handshakeTimeoutMs', handshakeTimeoutMs],
      ['tickMs', tickMs],
    ] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new ConfigError(name, 'must be a positive number');
    }
    this.#sessionConfig = {
      spearletId: this.spearletId,
      agentName: options.agentName,
      tokenProvider: this.#tokenProvider,
      handshakeTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      reauthLeadMs: options.reauthLeadMs,
      tickMs,
      now: this.#now,
      log: this.#log,
    };
  }

  get state(): ConnState {
    return this.#state;
  }

  /** True when a new request would be written now (READY and under the spearlet's maxInFlight). */
  get ready(): boolean {
    return (
      this.#state === ConnState.READY &&
      this.#session !== undefined &&
      this.#session.inFlight < (this.#welcome?.maxInFlight ?? Infinity)
    );
  }

  /** Requests written and not yet answered. */
  get outstanding(): number {
    return this.#session?.inFlight ?? 0;
  }

  /** Requests handed to a session since this connection was created (for idle detection). */
  get requestsSent(): number {
    return this.#requestsSent;
  }

  /** Bytes written by this side and not yet handed to the kernel (0 when not connected). */
  get writeBacklogBytes(): number {
    return this.#session?.bufferedBytes ?? 0;
  }

  /** What the spearlet announced in its last WELCOME, if a handshake completed. */
  get welcome(): WelcomeInfo | undefined {
    return this.#welcome;
  }

  /**
   * Set while the spearlet refuses this connection's token for a reason retrying cannot fix (ISSUER_MISMATCH,
   * TOKEN_EXPIRED, ...): requests waiting for this spearlet should fail with it. Cleared once a handshake succeeds or
   * the token provider returns another token.
   */
  get refusal(): HandshakeRefusedError | undefined {
    return this.#refusal;
  }

  get description(): string {
    return describeTarget(this.#target);
  }

  /** Starts connecting (from IDLE, or early from TRANSIENT_FAILURE). Progress is reported by 'state' events. */
  connect(): void {
    this.#transitionTo([ConnState.IDLE, ConnState.TRANSIENT_FAILURE], ConnState.CONNECTING);
  }

  /** Resolves when the connection is READY; rejects if it fails first (or is closed). */
  whenReady(): Promise<void> {
    if (this.#state === ConnState.READY) return Promise.resolve();
    if (this.#state === ConnState.CLOSED)
      return Promise.reject(new ConnectionClosedError(this.spearletId, 'connection is CLOSED'));
    return new Promise((resolve, reject) => {
      const onState = (to: ConnState, _from: ConnState, err: Error | undefined): void => {
        if (to === ConnState.READY) {
          this.off('state', onState);
          resolve();
        } else if (to === ConnState.TRANSIENT_FAILURE || to === ConnState.CLOSED) {
          this.off('state', onState);
          reject(err ?? new ConnectionClosedError(this.spearletId, `connection is ${to}`));
        }
      };
      this.on('state', onState);
    });
  }

  /**
   * Sends a REQUEST. Resolves with the response body (a view into the received chunk: copy it to keep it long).
   * Rejects with CONNECTION_CLOSED when not written, SPEARLET_LOST when the connection dies after writing,
   * DEADLINE_EXCEEDED, CANCELLED, or a RemoteError for an error RESPONSE.
   */
  request(method: string, body: Uint8Array, options: ConnRequestOptions = {}): Promise<Buffer> {
    const session = this.#session;
    if (this.#state !== ConnState.READY || session === undefined) {
      return Promise.reject(new ConnectionClosedError(this.spearletId, `connection is ${this.#state}`));
    }
    this.#requestsSent++;
    return session.request(method, body, options);
  }

  /**
   * request() without a promise: the outcome goes to `handler` (see ResponseHandler for when each callback runs),
   * with the same values and errors request() would settle with. Throws what request() throws synchronously.
   */
  dispatch(method: string, body: Uint8Array, options: ConnRequestOptions, handler: ResponseHandler): void {
    const session = this.#session;
    if (this.#state !== ConnState.READY || session === undefined) {
      handler.onError(new ConnectionClosedError(this.spearletId, `connection is ${this.#state}`));
      return;
    }
    this.#requestsSent++;
    session.dispatch(method, body, options, handler);
  }

  /** Sends a one-way SIGNAL; false when the connection is not READY (nothing was sent). */
  sendSignal(name: string, body: Uint8Array): boolean {
    if (this.#state !== ConnState.READY || this.#session === undefined) return false;
    this.#session.sendSignal(name, body);
    return true;
  }

  /**
   * Closes for good. With `graceMs` > 0 in-flight requests get that long to finish (no new ones are written);
   * whatever is still pending then rejects with `error` (default SPEARLET_LOST). Idempotent; calling again while
   * the grace period runs can shorten it and replace the error. Resolves once the socket and timers are released.
   */
  close(options: { graceMs?: number; error?: MeshError } = {}): Promise<void> {
    if (options.error !== undefined) this.#closeError = options.error;
    const graceUntil = this.#now() + (options.graceMs ?? 0);
    if (this.#closePromise !== undefined) {
      if (graceUntil < this.#graceUntil) this.#setGraceUntil(graceUntil);
      return this.#closePromise;
    }
    this.#closePromise = this.#close(graceUntil);
    return this.#closePromise;
  }

  async #close(graceUntil: number): Promise<void> {
    const session = this.#session;
    if (graceUntil > this.#now() && session !== undefined && session.inFlight > 0) {
      this.#transitionTo([ConnState.READY], ConnState.DRAINING);
      await new Promise<void>((resolve) => {
        this.#graceDone = resolve;
        this.#idleWaiters.push(resolve);
        this.#setGraceUntil(graceUntil);
        session.watchIdle();
      });
      if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
    const from = [
      ConnState.IDLE,
      ConnState.CONNECTING,
      ConnState.READY,
      ConnState.DRAINING,
      ConnState.TRANSIENT_FAILURE,
    ] as const;
    this.#transitionTo(from, ConnState.CLOSED);
    await this.#released;
  }

  #setGraceUntil(until: number): void {
    this.#graceUntil = until;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    const done = this.#graceDone;
    if (done === undefined) return;
    // Not unref()ed: close() is awaited until it fires.
    this.#graceTimer = setTimeout(done, Math.max(0, until - this.#now()));
  }

  // ---- the guarded transition and what entering each state does -----------------------------------------------

  /**
   * Does nothing unless the current state is in `from` (and the move is allowed); logs and emits every change and
   * runs the new state's entry actions. Returns whether it moved.
   */
  #transitionTo(from: readonly ConnState[], to: ConnState, err?: Error, reason?: string): boolean {
    const prev = this.#state;
    if (!from.includes(prev) || !canTransition(prev, to)) return false;
    this.#state = to;
    const fields = { from: prev, to, reason, target: this.description };
    if (to === ConnState.TRANSIENT_FAILURE) this.#log.warn({ ...fields, err }, 'connection state change');
    else this.#log.debug(fields, 'connection state change');
    switch (to) {
      case ConnState.CONNECTING:
        this.#clearReconnectTimer();
        void this.#attempt();
        break;
      case ConnState.READY:
        this.#backoff.reset();
        this.#retryAfterMs = 0;
        this.#refusal = undefined;
        this.#refusedToken = undefined;
        break;
      case ConnState.TRANSIENT_FAILURE:
        this.#enterTransientFailure(reason ?? 'failed', err);
        break;
      case ConnState.CLOSED:
        this.#released = this.#enterClosed();
        break;
      default:
        break;
    }
    this.emit('state', to, prev, err);
    return true;
  }

  /** Releases the socket, fails what was in flight, schedules the reconnect. */
  #enterTransientFailure(reason: string, err: Error | undefined): void {
    const session = this.#session;
    this.#session = undefined;
    const transport = session?.destroy(new SpearletLostError(this.spearletId, reason, err));
    transport?.destroy();
    this.#releaseIdleWaiters();
    if (!this.#reconnect || this.#closePromise !== undefined) return;
    this.#scheduleReconnect();
  }

  /**
   * After a plain failure: connect again after the backoff. While refused: ask the token provider on the backoff
   * and connect only with another token, or with the same one once refusedRetryMs has passed.
   */
  #scheduleReconnect(): void {
    const delay = Math.max(this.#backoff.next(), this.#retryAfterMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#refusal === undefined || this.#now() - this.#refusedAt >= this.#refusedRetryMs) this.connect();
      else void this.#checkToken();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async #checkToken(): Promise<void> {
    let token: string | undefined;
    try {
      token = await withTimeout(this.#tokenProvider(), this.#connectTimeoutMs, () => undefined);
    } catch (err) {
      this.#log.debug({ err }, 'token provider failed while the spearlet refuses our token');
    }
    if (this.#state !== ConnState.TRANSIENT_FAILURE || this.#reconnectTimer !== undefined) return;
    if (token !== undefined && token !== this.#refusedToken) {
      this.#log.info({ code: this.#refusal?.code }, 'the token provider returned another token: reconnecting');
      this.#refusal = undefined;
      this.#refusedToken = undefined;
      this.#freshToken = token;
      this.connect();
    } else {
      this.#scheduleReconnect();
    }
  }

  async #enterClosed(): Promise<void> {
    this.#clearReconnectTimer();
    const session = this.#session;
    this.#session = undefined;
    const err = this.#closeError ?? new SpearletLostError(this.spearletId, 'connection closed locally');
    const transport = session?.destroy(err);
    this.#releaseIdleWaiters();
    if (transport !== undefined) await closeTransport(transport);
  }

  // ---- connecting ----------------------------------------------------------------------------------------------

  async #attempt(): Promise<void> {
    let session: ClientSession | undefined;
    try {
      const fresh = this.#freshToken;
      this.#freshToken = undefined;
      const token =
        fresh ??
        (await withTimeout(this.#tokenProvider(), this.#connectTimeoutMs, () => {
          throw new Error(`the token provider did not answer within ${this.#connectTimeoutMs} ms`);
        }));
      if (this.#state !== ConnState.CONNECTING) return;
      const s = new ClientSession(
        this.#sessionConfig,
        this.#ownerFor(() => session, token),
        token,
      );
      session = s;
      this.#session = s;
      const transport = await openTransport(this.#target, this.#connectTimeoutMs, {
        onData: (chunk) => {
          s.onData(chunk);
        },
        onClose: (err) => {
          s.onTransportClose(err);
        },
      });
      if (this.#session !== s) {
        transport.destroy();
        return;
      }
      s.start(transport);
    } catch (err) {
      if (session !== undefined && this.#session !== session) return;
      if (session === undefined && this.#state !== ConnState.CONNECTING) return;
      const message = err instanceof Error ? err.message : String(err);
      this.#fail(new ConnectFailedError(this.spearletId, message, err), 'connect failed');
    }
  }

  /** The callbacks of one session; each does nothing once that session is no longer the current one. */
  #ownerFor(self: () => ClientSession | undefined, token: string): ConstructorParameters<typeof ClientSession>[1] {
    const current = (): boolean => self() !== undefined && self() === this.#session;
    return {
      opened: (welcome) => {
        if (!current()) return;
        this.#welcome = welcome;
        this.#transitionTo([ConnState.CONNECTING], ConnState.READY);
      },
      failed: (err, reason) => {
        if (!current()) return;
        if (err instanceof HandshakeRefusedError) {
          this.#refusal = err;
          this.#refusedToken = token;
          this.#refusedAt = this.#now();
          this.#log.warn(
            { code: err.code, retryMs: this.#refusedRetryMs },
            'handshake refused: no reconnect with this token until the token provider returns another one or the retry time passes',
          );
          this.emit('refused', err);
        }
        this.#fail(err, reason);
      },
      goaway: (info: GoawayInfo) => {
        if (!current()) return;
        this.#retryAfterMs = info.retryAfterMs;
        this.#transitionTo([ConnState.READY], ConnState.DRAINING, undefined, info.reason);
        this.emit('goaway', info);
      },
      signal: (name, body) => {
        if (current()) this.emit('signal', name, body);
      },
      idle: () => {
        if (current()) this.#releaseIdleWaiters();
      },
    };
  }

  /** The one path out of CONNECTING/READY/DRAINING on failure. */
  #fail(err: Error, reason: string): void {
    this.#transitionTo(
      [ConnState.CONNECTING, ConnState.READY, ConnState.DRAINING],
      ConnState.TRANSIENT_FAILURE,
      err,
      reason,
    );
  }

  #releaseIdleWaiters(): void {
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }
}
