// The spearlet: listeners, connection limits, preface dispatch, sessions, handlers, registration, drain. It knows no
// HTTP: src/admin/serve.ts builds its admin API from it.
import { EventEmitter } from 'node:events';
import type { ErrorCode } from '../errors.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { createTokenVerifier, type TokenVerifier, type VerifiedToken } from '../auth/verify.ts';
import { SpearletMetrics } from '../metrics/spearlet-metrics.ts';
import type { ConsulClient } from '../registry/consul-client.ts';
import type { SpearletRegistration } from '../registry/spearlet-registration.ts';
import { PROTOCOL_VERSION } from '../protocol/constants.ts';
import { VERSION } from '../version.ts';
import { HandlerRegistry, registerBuiltins, type Handler } from './handlers.ts';
import { openListeners, type Listeners } from './listener.ts';
import { ConnectionAcceptor, type LegacyHandler } from './acceptor.ts';
import {
  resolveSpearletOptions,
  type HostPort,
  type ResolvedSpearletOptions,
  type SpearletOptions,
} from './options.ts';
import { MeshSession, type SessionHost, type SessionSnapshot } from './session.ts';
import { startRegistration } from './registration.ts';
import type { FaultHooks } from './fault-hooks.ts';
import { DeadlineSweep } from './deadline-sweep.ts';

export type SpearletState = 'new' | 'starting' | 'running' | 'draining' | 'closed';

export type { LegacyHandler };
export type SignalListener = (session: MeshSession, name: string, body: Buffer) => void;

export interface DrainReport {
  readonly sessions: number;
  /** False when the drain timeout ran out and in-flight requests were aborted. */
  readonly completed: boolean;
  readonly abortedRequests: number;
  readonly durationMs: number;
}

interface SpearletEvents {
  state: [state: SpearletState];
  drained: [report: DrainReport];
}

/** Upper bound for Consul calls made on the way out. */
const REGISTRY_EXIT_TIMEOUT_MS = 3000;
/** After aborting what a drain could not finish, how long sessions get to close before they are cut. */
const DRAIN_ABORT_GRACE_MS = 1000;

/** Whether the spearlet should receive traffic, and why not. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, e.g. ['draining'] or ['registration: unreachable']. */
  readonly reasons: readonly string[];
}

export class Spearlet extends EventEmitter<SpearletEvents> {
  readonly #o: ResolvedSpearletOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly metrics: SpearletMetrics;
  readonly #handlers = new HandlerRegistry<MeshSession>();
  readonly #verifier: TokenVerifier;
  #state: SpearletState = 'new';
  #listeners: Listeners | undefined;
  #adminAddress: HostPort | undefined;
  #registration: SpearletRegistration | undefined;
  #consul: ConsulClient | undefined;
  readonly #acceptor: ConnectionAcceptor;
  readonly #sessions = new Set<MeshSession>();
  readonly #perAgent = new Map<string, number>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #deadlines = new DeadlineSweep();
  #legacy: LegacyHandler | undefined;
  #signalListener: SignalListener | undefined;
  #faults: FaultHooks | undefined;
  #drainPromise: Promise<DrainReport> | undefined;
  #closePromise: Promise<void> | undefined;
  readonly #host: SessionHost;

  constructor(options: SpearletOptions) {
    super();
    this.#o = resolveSpearletOptions(options);
    this.#now = options.now ?? Date.now;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'spearlet', spearletId: this.#o.id });
    this.metrics = new SpearletMetrics({ spearlet: this.#o.id, zone: this.#o.zone });
    if (this.#o.builtins) registerBuiltins(this.#handlers, this);
    const auth = options.auth;
    this.#verifier = 'verifier' in auth ? auth.verifier : createTokenVerifier(auth);
    const o = this.#o;
    const faults = (): FaultHooks | undefined => this.#faults;
    this.#host = {
      spearletId: o.id,
      zone: o.zone,
      config: {
        heartbeatMs: o.heartbeatMs,
        heartbeatTimeoutMs: o.heartbeatTimeoutMs,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        maxFrameSize: o.maxFrameSize,
        maxInFlight: o.maxInFlightPerSession,
        writeHighWaterMark: o.writeHighWaterMarkBytes,
        goAwayGraceMs: o.goAwayGraceMs,
        retryAfterMs: o.retryAfterMs,
      },
      verifier: this.#verifier,
      handlers: this.#handlers,
      metrics: this.metrics,
      logger: this.#log,
      now: this.#now,
      deadlines: this.#deadlines,
      get faults() {
        return faults();
      },
      admit: (session, token) => this.#admit(session, token),
      sessionOpened: (session) => {
        this.#acceptor.handshakeDone(session.socket);
        this.#sessions.add(session);
        this.metrics.sessionsOpen.set(this.#sessions.size);
      },
      sessionClosed: (session) => {
        this.#sessionClosed(session);
      },
      signalReceived: (session, name, body) => {
        if (this.#signalListener !== undefined) this.#signalListener(session, name, body);
        else this.#log.debug({ signal: name }, 'signal with no listener');
      },
    };
    this.#acceptor = new ConnectionAcceptor({
      maxConnections: o.maxConnections,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      maxHelloSize: o.maxHelloSize,
      maxPendingHandshakes: o.maxPendingHandshakes,
      maxPendingHandshakesPerSource: o.maxPendingHandshakesPerSource,
      metrics: this.metrics,
      logger: this.#log,
      now: this.#now,
      accepting: () => this.#state === 'running' || this.#state === 'draining',
      startMesh: (socket, rest, acceptedAt) => {
        new MeshSession(socket, this.#host, rest, acceptedAt);
      },
      legacyHandler: () => this.#legacy,
    });
  }

  get id(): string {
    return this.#o.id;
  }
  get zone(): string | undefined {
    return this.#o.zone;
  }
  get state(): SpearletState {
    return this.#state;
  }
  get tcpAddress(): HostPort | undefined {
    return this.#listeners?.tcpAddress;
  }
  get socketPath(): string | undefined {
    return this.#listeners?.socketPath;
  }
  get adminAddress(): HostPort | undefined {
    return this.#adminAddress;
  }
  get registration(): SpearletRegistration | undefined {
    return this.#registration;
  }
  get metricsContentType(): string {
    return this.metrics.contentType;
  }

  /** The admin API's address, advertised in Consul meta; call before start() (src/admin/serve.ts does). */
  advertiseAdmin(address: HostPort): void {
    this.#adminAddress = address;
  }

  /** Registers (or replaces) a method handler. */
  handle(method: string, handler: Handler<MeshSession>): this {
    this.#handlers.set(method, handler);
    return this;
  }

  /** Plugs in the process runtime's legacy-protocol handler; undefined removes it. */
  setLegacyHandler(handler: LegacyHandler | undefined): void {
    this.#legacy = handler;
  }

  /** Receives SIGNAL frames from agents. */
  onSignal(listener: SignalListener | undefined): void {
    this.#signalListener = listener;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new TypeError(`Spearlet.start() called in state ${this.#state}`);
    this.#transition('starting');
    const o = this.#o;
    try {
      this.#listeners = await openListeners({
        listen: o.listen,
        socketPath: o.socketPath,
        tls: o.tls,
        handshakeTimeoutMs: o.handshakeTimeoutMs,
        onSocket: (socket) => {
          this.#acceptor.accept(socket);
        },
        onTlsError: (err, socket) => {
          this.metrics.connectionsRejected.inc({ reason: 'tls' });
          this.#log.info({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
        },
      });
      const tick = Math.max(20, Math.floor(Math.min(o.heartbeatMs, o.heartbeatTimeoutMs) / 4));
      this.#sweep = setInterval(() => {
        const now = this.#now();
        for (const s of this.#sessions) s.tick(now);
      }, tick).unref();
      if (o.consul !== null) {
        const started = startRegistration({
          options: o,
          consul: o.consul,
          tcp: this.tcpAddress,
          admin: this.#adminAddress,
          socketPath: this.socketPath,
          logger: this.#log,
        });
        this.#registration = started.registration;
        this.#consul = started.client;
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#transition('running');
    this.#log.info(
      { tcp: this.tcpAddress, socket: this.socketPath, admin: this.#adminAddress, tls: o.tls !== undefined },
      'spearlet listening',
    );
  }

  // ---- sessions -----------------------------------------------------------------

  #admit(_session: MeshSession, token: VerifiedToken): { code: ErrorCode; message: string } | undefined {
    if (this.#state !== 'running') return { code: 'DRAINING', message: `spearlet ${this.#o.id} is ${this.#state}` };
    if (this.#acceptor.established >= this.#o.maxConnections) {
      return { code: 'CONNECTION_LIMIT', message: `spearlet has ${this.#o.maxConnections} connections` };
    }
    const count = this.#perAgent.get(token.sub) ?? 0;
    if (count >= this.#o.maxConnectionsPerAgent) {
      return {
        code: 'CONNECTION_LIMIT',
        message: `agent has ${count} sessions (limit ${this.#o.maxConnectionsPerAgent})`,
      };
    }
    this.#perAgent.set(token.sub, count + 1);
    return undefined;
  }

  #sessionClosed(session: MeshSession): void {
    if (!this.#sessions.delete(session)) return;
    this.metrics.sessionsOpen.set(this.#sessions.size);
    const sub = session.agent;
    if (sub === undefined) return;
    const n = (this.#perAgent.get(sub) ?? 1) - 1;
    if (n <= 0) this.#perAgent.delete(sub);
    else this.#perAgent.set(sub, n);
  }

  // ---- views -----------------------------------------------------------------------

  sessions(): SessionSnapshot[] {
    return [...this.#sessions].map((s) => s.snapshot());
  }

  /** Live session objects (for process runtimes and tests). */
  liveSessions(): readonly MeshSession[] {
    return [...this.#sessions];
  }

  info(): Record<string, unknown> {
    let inFlight = 0;
    for (const s of this.#sessions) inFlight += s.inFlight;
    return {
      spearlet: this.#o.id,
      pid: process.pid,
      version: VERSION,
      proto: PROTOCOL_VERSION,
      zone: this.#o.zone ?? null,
      state: this.#state,
      sessions: this.#sessions.size,
      connections: this.#acceptor.size,
      inFlight,
      methods: this.#handlers.names(),
      registration: this.#registration?.state ?? null,
    };
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.#state !== 'running') reasons.push(this.#state);
    const reg = this.#registration?.state;
    if (reg !== undefined && reg !== 'registered') reasons.push(`registration: ${reg}`);
    for (const check of this.#o.readinessChecks) {
      const reason = check();
      if (reason !== undefined) reasons.push(reason);
    }
    return { ready: reasons.length === 0, reasons };
  }

  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  /** Installs drill fault hooks (drill code only; see src/drill); undefined removes them. */
  setFaultHooks(hooks: FaultHooks | undefined): void {
    this.#faults = hooks;
    if (hooks !== undefined) this.#log.warn('drill fault hooks installed');
  }

  // ---- drain and close -------------------------------------------------------------

  /**
   * Planned shutdown: not ready, Consul maintenance, GOAWAY to every session, accepted requests finish (bounded by
   * `timeoutMs`, default drainTimeoutMs; then they are aborted), deregister, close. Idempotent.
   */
  drain(options: { timeoutMs?: number } = {}): Promise<DrainReport> {
    this.#drainPromise ??= this.#doDrain(options.timeoutMs ?? this.#o.drainTimeoutMs);
    return this.#drainPromise;
  }

  async #doDrain(timeoutMs: number): Promise<DrainReport> {
    const started = this.#now();
    if (this.#state === 'closed' || this.#state === 'new') {
      await this.close();
      return { sessions: 0, completed: true, abortedRequests: 0, durationMs: 0 };
    }
    this.#transition('draining');
    const sessions = [...this.#sessions];
    this.#log.info({ sessions: sessions.length, timeoutMs }, 'draining');
    const maintenance = this.#registration?.setMaintenance(true, 'draining');
    if (maintenance !== undefined)
      await withTimeout(
        maintenance.catch(() => undefined),
        REGISTRY_EXIT_TIMEOUT_MS,
        none,
      );
    for (const s of sessions) s.goAway('draining');
    const allClosed = Promise.all(sessions.map((s) => s.closed));
    let completed = await withTimeout(
      allClosed.then(() => true),
      timeoutMs,
      none,
    );
    let aborted = 0;
    if (completed !== true) {
      completed = false;
      for (const s of this.#sessions) {
        aborted += s.inFlight;
        s.abortAll('DRAINING', 'the spearlet drain timed out before the request finished');
      }
      this.#log.warn({ aborted }, 'drain timeout: aborted the requests still running');
      await withTimeout(allClosed, DRAIN_ABORT_GRACE_MS, none);
    }
    await this.close();
    const report: DrainReport = {
      sessions: sessions.length,
      completed,
      abortedRequests: aborted,
      durationMs: this.#now() - started,
    };
    this.#log.info(report, 'drained');
    this.emit('drained', report);
    return report;
  }

  /** Stops everything at once: listeners, sessions (in flight requests are dropped), registration, admin. */
  close(): Promise<void> {
    this.#closePromise ??= this.#doClose();
    return this.#closePromise;
  }

  async #doClose(): Promise<void> {
    this.#transition('closed');
    clearInterval(this.#sweep);
    this.#deadlines.close();
    const listenersClosed = this.#listeners?.close();
    for (const s of this.#sessions) s.destroy();
    this.#acceptor.destroyAll();
    const registration = this.#registration;
    const consul = this.#consul;
    const deregistered = async (): Promise<void> => {
      if (registration !== undefined) {
        await withTimeout(
          registration.close().catch(() => undefined),
          REGISTRY_EXIT_TIMEOUT_MS,
          none,
        );
      }
      consul?.close();
    };
    await Promise.all([listenersClosed, deregistered()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #transition(to: SpearletState): void {
    if (this.#state === to || this.#state === 'closed') return;
    this.#log.debug({ from: this.#state, to }, 'state');
    this.#state = to;
    this.emit('state', to);
  }
}

const none = (): undefined => undefined;
