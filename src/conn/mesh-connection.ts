// One authenticated mesh connection to one spearlet: handshake, request correlation, heartbeats, GOAWAY, reconnect.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { MeshError } from '../errors.ts';
import { PeakEwma } from '../balancer/peak-ewma.ts';
import { Backoff } from '../util/backoff.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import {
  FrameDecoder,
  MESH_MAGIC,
  MessageKind,
  RequestFlag,
  Status,
  decodeMessage,
  encodeCloseFrame,
  encodeControl,
  encodeErrorResponse,
  encodeJson,
  encodeRequest,
  encodeSignal,
  parseJsonPayload,
  type MeshMessage,
} from '../wire/index.ts';
import {
  CancelledError,
  ConnectFailedError,
  ConnectionClosedError,
  DeadlineExceededError,
  HandshakeTimeoutError,
  HeartbeatTimeoutError,
  RemoteError,
  SpearletLostError,
} from './errors.ts';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_TICK_MS,
  FEATURES,
  PROTOCOL_VERSION,
  type ConnRequestOptions,
  type MeshConnectionEvents,
  type MeshConnectionOptions,
} from './connection-options.ts';
import { HeartbeatMonitor } from './heartbeat.ts';
import { PendingTable, type PendingRequest } from './pending-table.ts';
import { canTransition, ConnState } from './states.ts';
import { closeTransport, openTransport, describeTarget, type Transport, type TransportTarget } from './transport.ts';
import { parseGoaway, parseRemoteError, parseWelcome, type WelcomeInfo } from './welcome.ts';

export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_BACKOFF,
  DEFAULT_TICK_MS,
  type ConnRequestOptions,
  type MeshConnectionEvents,
  type MeshConnectionOptions,
} from './connection-options.ts';

const EMPTY = Buffer.alloc(0);

let connCounter = 0;

/**
 * A connection that (re)connects itself until closed. `request()` writes at once when READY and otherwise
 * rejects with CONNECTION_CLOSED (not written, safe to send elsewhere). Requests in flight when the connection dies
 * reject with SPEARLET_LOST. Request ids are u64 on the wire; locally they count up from 1 as safe integers.
 */
export class MeshConnection extends EventEmitter<MeshConnectionEvents> {
  readonly spearletId: string;
  readonly connId: string;
  readonly #target: TransportTarget;
  readonly #tokenProvider: () => Promise<string>;
  readonly #agentName: string | undefined;
  readonly #log: Logger;
  readonly #connectTimeoutMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #tickMs: number;
  readonly #reconnect: boolean;
  readonly #backoff: Backoff;
  readonly #heartbeatMsOption: number | undefined;
  readonly #heartbeatTimeoutMsOption: number | undefined;
  readonly #reauthLeadMs: number | undefined;
  readonly #ewma: PeakEwma;

  #state: ConnState = ConnState.IDLE;
  #generation = 0;
  #transport: Transport | undefined;
  #decoder: FrameDecoder | undefined;
  #welcome: WelcomeInfo | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #retryAfterMs = 0;

  readonly #pending = new PendingTable();
  #nextId = 0;

  readonly #heartbeat = new HeartbeatMonitor();
  #handshakeDeadlineAt = 0;
  #reauthAt = 0;
  #reauthInFlight = false;
  /** The token the spearlet holds for this session (HELLO or the last REAUTH). */
  #token = '';

  #drainWaiters: (() => void)[] = [];
  #endSent = false;
  #closePromise: Promise<void> | undefined;
  #closeError: MeshError | undefined;
  #graceUntil = Infinity;
  #graceTimer: NodeJS.Timeout | undefined;
  #graceDone: (() => void) | undefined;

  constructor(options: MeshConnectionOptions) {
    super();
    this.spearletId = options.spearletId;
    this.connId = `c${++connCounter}`;
    this.#target = options.target;
    this.#tokenProvider = options.tokenProvider;
    this.#agentName = options.agentName;
    this.#log = (options.logger ?? silentLogger()).child({
      component: 'conn',
      spearletId: this.spearletId,
      connId: this.connId,
    });
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.#reconnect = options.reconnect ?? true;
    this.#backoff = new Backoff({ ...DEFAULT_RECONNECT_BACKOFF, ...options.backoff });
    this.#heartbeatMsOption = options.heartbeatMs;
    this.#heartbeatTimeoutMsOption = options.heartbeatTimeoutMs;
    this.#reauthLeadMs = options.reauthLeadMs;
    this.#ewma = new PeakEwma(options.ewmaDecayMs);
    for (const [name, v] of [
      ['connectTimeoutMs', this.#connectTimeoutMs],
      ['handshakeTimeoutMs', this.#handshakeTimeoutMs],
      ['tickMs', this.#tickMs],
    ] as const) {
      if (!(Number.isFinite(v) && v > 0)) throw new TypeError(`${name} must be a positive number`);
    }
  }

  get state(): ConnState {
    return this.#state;
  }

  /** True when a new request would be written now (READY and under the spearlet's maxInFlight). */
  get ready(): boolean {
    return this.#state === ConnState.READY && this.#pending.inFlight < (this.#welcome?.maxInFlight ?? Infinity);
  }

  /** Requests written and not yet answered. */
  get outstanding(): number {
    return this.#pending.inFlight;
  }

  get ewmaMs(): number {
    return this.#ewma.valueMs;
  }

  /** Bytes written by this side and not yet handed to the kernel (0 when not connected). */
  get writeBacklogBytes(): number {
    return this.#transport?.bufferedBytes ?? 0;
  }

  /** What the spearlet announced in its last WELCOME, if the handshake completed. */
  get welcome(): WelcomeInfo | undefined {
    return this.#welcome;
  }

  get description(): string {
    return describeTarget(this.#target);
  }

  /** Starts connecting (from IDLE, or early from TRANSIENT_FAILURE). Progress is reported by 'state' events. */
  connect(): void {
    if (this.#state === ConnState.TRANSIENT_FAILURE) this.#clearReconnectTimer();
    if (this.#transitionTo([ConnState.IDLE, ConnState.TRANSIENT_FAILURE], ConnState.CONNECTING)) void this.#attempt();
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
    if (this.#state !== ConnState.READY || this.#transport === undefined) {
      return Promise.reject(new ConnectionClosedError(this.spearletId, `connection is ${this.#state}`));
    }
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new CancelledError(method, signal.reason));
    const deadlineAt = options.deadlineAt ?? 0;
    let deadlineMs = 0;
    if (deadlineAt > 0) {
      deadlineMs = Math.ceil(deadlineAt - Date.now());
      if (deadlineMs <= 0) return Promise.reject(new DeadlineExceededError(method, 0));
    }
    const id = ++this.#nextId;
    const flags =
      (options.idempotent === true ? RequestFlag.IDEMPOTENT : 0) |
      (options.noReply === true ? RequestFlag.NO_REPLY : 0);
    const frame = encodeRequest(BigInt(id), flags, deadlineMs, method, body);
    if (options.noReply === true) {
      this.#write(frame);
      return Promise.resolve(EMPTY);
    }
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              if (this.#settle(id) === undefined) return;
              this.#write(encodeControl(MessageKind.CANCEL, BigInt(id)));
              reject(new CancelledError(method, signal.reason));
            };
      this.#pending.add(id, {
        method,
        resolve,
        reject,
        startedAt: performance.now(),
        deadlineAt,
        deadlineMs,
        signal,
        onAbort,
        reauth: false,
      });
      if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true });
      this.#write(frame);
    });
  }

  /** Sends a one-way SIGNAL; false when the connection is not READY (nothing was sent). */
  sendSignal(name: string, body: Uint8Array): boolean {
    if (this.#state !== ConnState.READY) return false;
    this.#write(encodeSignal(name, body));
    return true;
  }

  /**
   * Closes for good. With `graceMs` > 0 in-flight requests get that long to finish (no new ones are written);
   * whatever is still pending then rejects with `error` (default SPEARLET_LOST). Idempotent; calling again while
   * the grace period runs can shorten it and replace the error. Resolves once the socket and timers are released.
   */
  close(options: { graceMs?: number; error?: MeshError } = {}): Promise<void> {
    if (options.error !== undefined) this.#closeError = options.error;
    const graceUntil = Date.now() + (options.graceMs ?? 0);
    if (this.#closePromise !== undefined) {
      if (graceUntil < this.#graceUntil) this.#setGraceUntil(graceUntil);
      return this.#closePromise;
    }
    this.#closePromise = this.#close(graceUntil);
    return this.#closePromise;
  }

  async #close(graceUntil: number): Promise<void> {
    if (graceUntil > Date.now() && this.#pending.inFlight > 0) {
      this.#transitionTo([ConnState.READY], ConnState.DRAINING);
      await new Promise<void>((resolve) => {
        this.#graceDone = resolve;
        this.#drainWaiters.push(resolve);
        this.#setGraceUntil(graceUntil);
      });
      if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
    const transport = this.#transport;
    this.#transitionTo(
      [ConnState.IDLE, ConnState.CONNECTING, ConnState.READY, ConnState.DRAINING, ConnState.TRANSIENT_FAILURE],
      ConnState.CLOSED,
    );
    this.#generation++;
    this.#stopTicker();
    this.#clearReconnectTimer();
    this.#rejectAll(this.#closeError ?? new SpearletLostError(this.spearletId, 'connection closed locally'));
    this.#transport = undefined;
    this.#decoder = undefined;
    if (transport !== undefined) await closeTransport(transport);
  }

  #setGraceUntil(until: number): void {
    this.#graceUntil = until;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    const done = this.#graceDone;
    if (done === undefined) return;
    // Not unref()ed: close() is awaited until it fires.
    this.#graceTimer = setTimeout(done, Math.max(0, until - Date.now()));
  }

  // ---- connecting ----------------------------------------------------------------------------------------------

  async #attempt(): Promise<void> {
    const gen = ++this.#generation;
    try {
      const token = await withTimeout(
        this.#tokenProvider(),
        this.#connectTimeoutMs,
        'the token provider did not answer',
      );
      if (gen !== this.#generation) return;
      this.#token = token;
      const transport = await openTransport(this.#target, this.#connectTimeoutMs, {
        onData: (chunk) => {
          this.#onData(gen, chunk);
        },
        onClose: (err) => {
          this.#onTransportClose(gen, err);
        },
      });
      if (gen !== this.#generation) {
        transport.destroy();
        return;
      }
      this.#transport = transport;
      this.#endSent = false;
      this.#decoder = new FrameDecoder({
        onFrame: (body) => {
          this.#onFrame(decodeMessage(body));
        },
        onClose: () => {
          this.#fail(new ConnectionClosedError(this.spearletId, 'the spearlet closed the connection'), 'peer closed');
        },
      });
      const hello = encodeJson(MessageKind.HELLO, 0n, {
        v: PROTOCOL_VERSION,
        token,
        agent: this.#agentName,
        features: FEATURES,
      });
      this.#handshakeDeadlineAt = Date.now() + this.#handshakeTimeoutMs;
      this.#startTicker();
      this.#write(Buffer.concat([MESH_MAGIC, hello]));
    } catch (err) {
      if (gen !== this.#generation) return;
      this.#fail(
        new ConnectFailedError(this.spearletId, err instanceof Error ? err.message : String(err), err),
        'connect failed',
      );
    }
  }

  #onWelcome(payload: Buffer): void {
    const welcome = parseWelcome(payload);
    this.#welcome = welcome;
    const intervalMs = this.#heartbeatMsOption ?? welcome.heartbeatMs;
    const timeoutMs = this.#heartbeatTimeoutMsOption ?? welcome.heartbeatTimeoutMs ?? 3 * intervalMs;
    const now = Date.now();
    this.#heartbeat.reset(intervalMs, timeoutMs, now);
    this.#scheduleReauth(welcome.tokenExp, now);
    this.#backoff.reset();
    this.#retryAfterMs = 0;
    this.#transitionTo([ConnState.CONNECTING], ConnState.READY);
  }

  #scheduleReauth(tokenExp: number | null, now: number): void {
    this.#reauthAt = 0;
    if (tokenExp === null) return;
    const remaining = tokenExp * 1000 - now;
    const lead = this.#reauthLeadMs ?? Math.min(60_000, remaining / 5);
    this.#reauthAt = now + Math.max(0, remaining - lead);
  }

  #reauth(): void {
    if (this.#reauthInFlight) return;
    this.#reauthInFlight = true;
    this.#reauthAt = 0;
    const gen = this.#generation;
    this.#tokenProvider().then(
      (token) => {
        if (gen !== this.#generation || this.#state !== ConnState.READY) {
          this.#reauthInFlight = false;
          return;
        }
        if (token === this.#token) {
          // Nothing to replace (a fixed token): at exp the spearlet sends GOAWAY and the reconnect asks again.
          this.#reauthInFlight = false;
          this.#log.debug('token provider returned the current token; no REAUTH');
          return;
        }
        this.#token = token;
        const id = ++this.#nextId;
        this.#pending.add(id, {
          method: 'REAUTH',
          resolve: (body) => {
            this.#reauthInFlight = false;
            let exp: unknown;
            try {
              exp = parseJsonPayload(body, 'REAUTH response').tokenExp;
            } catch (err) {
              this.#log.warn({ err }, 'unreadable REAUTH response; keeping the old expiry schedule');
            }
            this.#scheduleReauth(typeof exp === 'number' ? exp : null, Date.now());
            this.#log.debug('token replaced by REAUTH');
          },
          reject: (err) => {
            this.#reauthInFlight = false;
            this.#log.warn({ err }, 'REAUTH failed; the spearlet will send GOAWAY at token expiry and we reconnect');
          },
          startedAt: performance.now(),
          deadlineAt: 0,
          deadlineMs: 0,
          signal: undefined,
          onAbort: undefined,
          reauth: true,
        });
        this.#write(encodeJson(MessageKind.REAUTH, BigInt(id), { token }));
      },
      (err: unknown) => {
        this.#reauthInFlight = false;
        this.#log.warn({ err }, 'token provider failed during REAUTH');
      },
    );
  }

  // ---- inbound -------------------------------------------------------------------------------------------------

  #onData(gen: number, chunk: Buffer): void {
    if (gen !== this.#generation) return;
    this.#heartbeat.markReceived();
    try {
      this.#decoder?.push(chunk);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const code = (err as Partial<MeshError>).code ?? 'PROTOCOL_ERROR';
      this.#write(encodeJson(MessageKind.ERROR, 0n, { code, message: e.message }));
      this.#fail(e, 'protocol violation');
    }
  }

  #onFrame(msg: MeshMessage): void {
    if (this.#state === ConnState.CONNECTING) {
      if (msg.kind === MessageKind.WELCOME) this.#onWelcome(msg.payload);
      else if (msg.kind === MessageKind.ERROR) {
        const e = parseRemoteError(this.spearletId, 0, msg.payload, false);
        this.#fail(new ConnectFailedError(this.spearletId, `${e.remoteCode}: ${e.message}`, e), 'handshake refused');
      } else
        throw new RemoteError(
          this.spearletId,
          0,
          'PROTOCOL_ERROR',
          `unexpected ${String(msg.kind)} before WELCOME`,
          false,
        );
      return;
    }
    switch (msg.kind) {
      case MessageKind.RESPONSE: {
        const p = this.#settle(Number(msg.id));
        if (p === undefined) return;
        if (!p.reauth) {
          const now = performance.now();
          this.#ewma.observe(now - p.startedAt, now);
        }
        if (msg.status === Status.OK) p.resolve(msg.body);
        else p.reject(parseRemoteError(this.spearletId, msg.status, msg.body, false));
        return;
      }
      case MessageKind.PING:
        this.#write(encodeControl(MessageKind.PONG, msg.id));
        return;
      case MessageKind.PONG:
        return;
      case MessageKind.SIGNAL:
        this.emit('signal', msg.name, msg.body);
        return;
      case MessageKind.GOAWAY:
        this.#onGoaway(msg.id, msg.payload);
        return;
      case MessageKind.ERROR: {
        const e = parseRemoteError(this.spearletId, 0, msg.payload, false);
        if (msg.id === 0n) {
          this.#fail(e, `spearlet error ${e.remoteCode}`);
          return;
        }
        this.#settle(Number(msg.id))?.reject(e);
        return;
      }
      case MessageKind.REQUEST:
        // This client serves no methods: answer so the spearlet does not wait.
        if ((msg.flags & RequestFlag.NO_REPLY) === 0) {
          this.#write(
            encodeErrorResponse(
              msg.id,
              Status.NOT_FOUND,
              'METHOD_NOT_FOUND',
              `agent serves no method '${msg.method}'`,
              false,
            ),
          );
        }
        return;
      default:
        this.#log.debug({ kind: msg.kind }, 'ignoring unexpected frame from spearlet');
    }
  }

  #onGoaway(lastId: bigint, payload: Buffer): void {
    const info = parseGoaway(lastId, payload);
    this.#retryAfterMs = info.retryAfterMs;
    this.#transitionTo([ConnState.READY], ConnState.DRAINING, undefined, info.reason);
    // Requests that crossed the GOAWAY were not accepted: they did not run, so they may go elsewhere at once.
    for (const p of this.#pending.takeAbove(lastId)) {
      p.reject(new ConnectionClosedError(this.spearletId, `GOAWAY (${info.reason}) crossed the request`));
    }
    this.emit('goaway', info);
    this.#maybeFinishDrain();
  }

  #maybeFinishDrain(): void {
    if (this.#pending.inFlight > 0) return;
    for (const w of this.#drainWaiters.splice(0)) w();
    if (
      this.#state === ConnState.DRAINING &&
      this.#closePromise === undefined &&
      this.#transport !== undefined &&
      !this.#endSent
    ) {
      this.#endSent = true;
      // Drained after GOAWAY: close our side; the transport close then moves us to TRANSIENT_FAILURE.
      this.#write(encodeCloseFrame());
      this.#transport.end();
    }
  }

  #onTransportClose(gen: number, err: Error | undefined): void {
    if (gen !== this.#generation) return;
    const reason =
      this.#state === ConnState.DRAINING ? 'drained' : err === undefined ? 'connection closed' : err.message;
    this.#fail(new ConnectionClosedError(this.spearletId, reason, err), reason);
  }

  // ---- failure, timers, settling ---------------------------------------------------------------------------------

  /** The one path out of CONNECTING/READY/DRAINING on failure: releases the socket and rejects in-flight work. */
  #fail(err: Error, reason: string): void {
    if (
      this.#state === ConnState.CLOSED ||
      this.#state === ConnState.TRANSIENT_FAILURE ||
      this.#state === ConnState.IDLE
    )
      return;
    this.#generation++;
    const transport = this.#transport;
    this.#transport = undefined;
    this.#decoder = undefined;
    this.#stopTicker();
    transport?.destroy();
    this.#transitionTo(
      [ConnState.CONNECTING, ConnState.READY, ConnState.DRAINING],
      ConnState.TRANSIENT_FAILURE,
      err,
      reason,
    );
    this.#rejectAll(new SpearletLostError(this.spearletId, reason, err));
    if (this.#reconnect && this.#closePromise === undefined) {
      const delay = Math.max(this.#backoff.next(), this.#retryAfterMs);
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        this.connect();
      }, delay);
      this.#reconnectTimer.unref();
    }
  }

  #rejectAll(err: Error): void {
    for (const p of this.#pending.takeAll()) p.reject(err);
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  /** Removes a pending entry; when that empties a draining connection, finishes the drain. */
  #settle(id: number): PendingRequest | undefined {
    const p = this.#pending.take(id);
    if (p !== undefined && this.#state === ConnState.DRAINING && this.#pending.inFlight === 0) {
      queueMicrotask(() => {
        this.#maybeFinishDrain();
      });
    }
    return p;
  }

  #write(frame: Buffer): void {
    this.#heartbeat.markSent();
    this.#transport?.write(frame);
  }

  #startTicker(): void {
    this.#stopTicker();
    this.#ticker = setInterval(() => {
      this.#tick();
    }, this.#tickMs);
    this.#ticker.unref();
  }

  #stopTicker(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }

  #tick(): void {
    const now = Date.now();
    if (this.#state === ConnState.CONNECTING) {
      if (now >= this.#handshakeDeadlineAt)
        this.#fail(new HandshakeTimeoutError(this.spearletId, this.#handshakeTimeoutMs), 'handshake timeout');
      return;
    }
    if (this.#state !== ConnState.READY && this.#state !== ConnState.DRAINING) return;
    const verdict = this.#heartbeat.check(now);
    if (verdict === 'dead') {
      this.#fail(new HeartbeatTimeoutError(this.spearletId, this.#heartbeat.silentMs(now)), 'heartbeat timeout');
      return;
    }
    if (verdict === 'ping') this.#transport?.write(encodeControl(MessageKind.PING, this.#heartbeat.nextPingId()));
    if (now >= this.#pending.nextDeadlineAt) this.#expireDeadlines(now);
    if (this.#reauthAt > 0 && now >= this.#reauthAt && this.#state === ConnState.READY) this.#reauth();
  }

  #expireDeadlines(now: number): void {
    for (const [id, p] of this.#pending.takeExpired(now)) {
      this.#write(encodeControl(MessageKind.CANCEL, BigInt(id)));
      p.reject(new DeadlineExceededError(p.method, p.deadlineMs));
    }
    if (this.#state === ConnState.DRAINING && this.#pending.inFlight === 0) this.#maybeFinishDrain();
  }

  /** Guarded transition: does nothing unless the current state is in `from`; logs and emits every change. */
  #transitionTo(from: readonly ConnState[], to: ConnState, err?: Error, reason?: string): boolean {
    const prev = this.#state;
    if (!from.includes(prev) || !canTransition(prev, to)) return false;
    this.#state = to;
    const fields = { from: prev, to, reason, target: this.description };
    if (to === ConnState.TRANSIENT_FAILURE) this.#log.warn({ ...fields, err }, 'connection state change');
    else this.#log.debug(fields, 'connection state change');
    this.emit('state', to, prev, err);
    return true;
  }
}

/** Rejects with an Error(`message`) when `p` has not settled after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${message} within ${ms} ms`));
    }, ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
