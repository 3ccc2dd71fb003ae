// One mesh connection on the spearlet side: handshake, request dispatch, heartbeats, GOAWAY, REAUTH, close.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { MeshError, type ErrorCode } from '../errors.ts';
import type { VerifiedToken } from '../auth/verify.ts';
import {
  FrameDecoder,
  MESSAGE_HEADER_BYTES,
  MessageKind,
  Status,
  decodeMessage,
  encodeCloseFrame,
  encodeControl,
  encodeErrorResponse,
  encodeJson,
  encodeResponse,
  encodeSignal,
  statusForCode,
  type JsonMessage,
  type MeshMessage,
  type RequestMessage,
} from '../wire/index.ts';
import { HeartbeatMonitor } from '../protocol/heartbeat.ts';
import { parseRemoteError } from '../protocol/errors.ts';
import type { HandshakeResult } from '../metrics/spearlet-metrics.ts';
import { checkHello, checkReauth, welcomeFrame } from './hello.ts';
import { SessionLog, newSessionId } from './session-log.ts';
import { PreWelcomeQueue } from './hello-gate.ts';
import { InboundRequests } from './inbound-requests.ts';
import { dispatchRequest } from './request-dispatch.ts';
import { PartitionHold } from './fault-hooks.ts';
import { SessionOutput } from './session-output.ts';
import type { SessionConfig, SessionHost, SessionSnapshot, SessionState } from './session-types.ts';

export type { SessionConfig, SessionHost, SessionSnapshot, SessionState } from './session-types.ts';
import { OutgoingRequests, type OutgoingRequestOptions } from './outgoing-requests.ts';

/** After ending our side, how long the peer gets to close before the socket is destroyed. */
const END_GRACE_MS = 2_000;

export class MeshSession {
  readonly id: string = newSessionId();
  readonly socket: Socket;
  readonly remote: string;
  readonly #host: SessionHost;
  readonly #config: SessionConfig;
  readonly #logs: SessionLog;
  readonly #decoder: FrameDecoder;
  #state: SessionState = 'handshake';
  #token: VerifiedToken | undefined;
  #agentName: string | undefined;
  /** Frames that arrived while HELLO was being verified. */
  #queued: PreWelcomeQueue | null = null;
  /**
   * performance.now() when the chunk being handled arrived, read at its first REQUEST (-1 until then): the requests of
   * one chunk arrived together and share one clock reading.
   */
  #arrivedAt = -1;
  readonly #inbound: InboundRequests<MeshSession>;
  /** Requests this side sent to the agent; created by the first one (most sessions never send any). */
  #outgoingTable: OutgoingRequests | undefined;
  readonly #heartbeat = new HeartbeatMonitor();
  readonly #out: SessionOutput;
  #handshakeTimer: NodeJS.Timeout | undefined;
  /** When the token expires (ms since the epoch; 0 for never): checked on the sweep tick, then GOAWAY. */
  #tokenExpiresAt = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #endTimer: NodeJS.Timeout | undefined;
  #goAwayAt = 0;
  #peerClosed = false;
  readonly #hold = new PartitionHold();
  readonly #openedAt = Date.now();
  /** Created when someone waits for the close (a drain does); most sessions never need it. */
  #closedPromise: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;

  constructor(socket: Socket, host: SessionHost, rest: Buffer, acceptedAt: number) {
    this.socket = socket;
    this.#host = host;
    this.#config = host.config;
    this.remote = socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort ?? ''}` : 'unix';
    this.#logs = new SessionLog(host.logger, this.id);
    this.#inbound = new InboundRequests<MeshSession>({
      send: (frame) => {
        this.#out.send(frame);
      },
      sendInPlace: (frame) => {
        this.#out.sendInPlace(frame);
      },
      metrics: host.metrics,
      handlers: host.handlers,
      deadlines: host.deadlines,
      logger: () => this.#logs.log,
      settled: () => {
        this.#maybeFinish();
      },
    });
    this.#out = new SessionOutput({
      socket,
      heartbeat: this.#heartbeat,
      bytesOut: host.metrics.bytesOut,
      faults: host.faults,
      hold: this.#hold,
      writeHighWaterMark: this.#config.writeHighWaterMark,
    });
    // A peer that pings gets PONGs, which already serve as its liveness: then this side does not ping too.
    this.#heartbeat.reset(this.#config.heartbeatMs, this.#config.heartbeatTimeoutMs, host.now(), true);
    this.#decoder = new FrameDecoder(
      {
        onFrame: (body) => {
          this.#onFrame(body);
        },
        onClose: () => {
          this.#onPeerClose();
        },
      },
      { maxFrameSize: this.#config.maxFrameSize },
    );
    const remaining = Math.max(0, this.#config.handshakeTimeoutMs - (host.now() - acceptedAt));
    this.#handshakeTimer = setTimeout(() => {
      this.#onHandshakeTimeout();
    }, remaining).unref();
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
    socket.on('drain', () => {
      this.#out.onDrain();
    });
    socket.on('error', (err) => {
      if (this.#logs.enabled('debug')) this.#logs.log.debug({ err: err.message }, 'socket error');
      // Node leaves a TLS socket open after a fatal post-handshake error; it would linger until the heartbeat timeout.
      socket.destroy();
    });
    socket.on('close', () => {
      this.#finalize();
    });
    if (rest.length > 0) this.#onData(rest);
    // sniffPreface left the socket paused so no byte was lost between owners.
    socket.resume();
  }

  get state(): SessionState {
    return this.#state;
  }
  get agent(): string | undefined {
    return this.#token?.sub;
  }
  get token(): VerifiedToken | undefined {
    return this.#token;
  }
  get inFlight(): number {
    return this.#inbound.size;
  }
  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    if (this.#closedPromise === undefined) {
      if (this.#state === 'closed') return Promise.resolve();
      this.#closedPromise = new Promise((resolve) => {
        this.#resolveClosed = resolve;
      });
    }
    return this.#closedPromise;
  }

  snapshot(): SessionSnapshot {
    return {
      session: this.id,
      agent: this.#token?.sub,
      agentName: this.#agentName,
      remote: this.remote,
      state: this.#state,
      inFlight: this.#inbound.size,
      requests: this.#inbound.accepted,
      tokenExp: this.#token?.exp ?? null,
      openedAt: new Date(this.#openedAt).toISOString(),
      lastReceivedMsAgo: this.#heartbeat.silentMs(this.#host.now()),
      missedHeartbeats: this.#heartbeat.missed,
    };
  }

  // ---- inbound ----------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    if (this.#hold.active || this.#host.faults?.partitioned === true) {
      this.#hold.hold(this.socket, chunk);
      return;
    }
    this.#host.metrics.bytesIn.inc(chunk.length);
    // What the frames of this chunk answer at once (PONGs, synchronous replies) leaves in one write at the end; the
    // synchronous replies are timed together there too.
    this.#out.hold();
    this.#inbound.holdTimings();
    this.#arrivedAt = -1;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#inbound.releaseTimings();
      this.#out.release();
    }
  }

  #onFrame(body: Buffer): void {
    // Liveness counts complete frames only: a peer trickling the bytes of one endless frame is not alive.
    this.#heartbeat.markReceived();
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (this.#queued !== null) {
      this.#queued.push(body);
      return;
    }
    // A PING, the one frame an idle connection carries, is answered from its bytes: the PONG takes its id as it is,
    // with no message object and no BigInt (decodeMessage accepts the same frames: header complete, trailing bytes
    // ignored).
    if (body[0] === MessageKind.PING && body.length >= MESSAGE_HEADER_BYTES && this.#state !== 'handshake') {
      this.#heartbeat.markPeerPing();
      this.#out.sendPong(body);
      return;
    }
    const msg = decodeMessage(body);
    if (this.#state === 'handshake') {
      if (msg.kind !== MessageKind.HELLO) throw new MeshError('PROTOCOL_ERROR', 'the first frame must be HELLO');
      this.#queued = new PreWelcomeQueue();
      this.#onHello(msg).catch((err: unknown) => {
        this.#fail(err);
      });
      return;
    }
    this.#onMessage(msg);
  }

  #onMessage(msg: MeshMessage): void {
    switch (msg.kind) {
      case MessageKind.REQUEST:
        this.#onRequest(msg);
        return;
      case MessageKind.RESPONSE:
        this.#outgoingTable?.onResponse(msg);
        return;
      case MessageKind.CANCEL:
        this.#inbound.abort(msg.id, 'CANCELLED', 'the caller cancelled the request', false);
        return;
      case MessageKind.PING:
        this.#heartbeat.markPeerPing();
        this.#out.send(encodeControl(MessageKind.PONG, msg.id));
        return;
      case MessageKind.PONG:
        return;
      case MessageKind.SIGNAL:
        this.#host.signalReceived(this, msg.name, msg.body);
        return;
      case MessageKind.REAUTH:
        this.#onReauth(msg).catch((err: unknown) => {
          this.#fail(err);
        });
        return;
      case MessageKind.ERROR: {
        if (msg.id === 0n) {
          const e = parseRemoteError(this.agent ?? 'unknown', 0, msg.payload, false, 'agent');
          this.#logs.log.info({ code: e.remoteCode, error: e.message }, 'peer reported a fatal error');
          this.destroy();
        }
        return;
      }
      default:
        throw new MeshError('PROTOCOL_ERROR', `unexpected message kind ${msg.kind} from a client`);
    }
  }

  async #onHello(msg: JsonMessage): Promise<void> {
    const outcome = await checkHello(this.#host, msg.payload);
    if (this.#state !== 'handshake') return; // timed out or closed while verifying
    if (!outcome.ok) {
      this.#refuse(outcome.result, outcome.code, outcome.message);
      return;
    }
    const verified = outcome.token;
    this.#token = verified;
    this.#agentName = outcome.agentName;
    const refusal = this.#host.admit(this, verified);
    if (refusal !== undefined) {
      this.#token = undefined;
      this.#refuse(refusal.code === 'DRAINING' ? 'draining' : 'limit', refusal.code, refusal.message);
      return;
    }
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#transitionTo(['handshake'], 'open');
    this.#logs.setAgent(verified.sub);
    this.#host.metrics.handshakes.inc({ result: 'ok' });
    this.#out.send(welcomeFrame(this.#host, this.id, verified));
    this.#tokenExpiresAt = (verified.exp ?? 0) * 1000;
    this.#host.sessionOpened(this);
    if (this.#logs.enabled('info')) this.#logs.log.info({ agentName: this.#agentName }, 'session open');
    const queued = this.#queued?.take() ?? [];
    this.#queued = null;
    this.#arrivedAt = -1;
    for (const body of queued) {
      if (this.state === 'closing' || this.state === 'closed') break;
      try {
        this.#onMessage(decodeMessage(body));
      } catch (err) {
        this.#fail(err);
        break;
      }
    }
  }

  #onRequest(msg: RequestMessage): void {
    if (msg.id === 0n) throw new MeshError('PROTOCOL_ERROR', 'request id 0 is reserved');
    if (this.#inbound.has(msg.id)) throw new MeshError('PROTOCOL_ERROR', `request id ${msg.id} is already in flight`);
    if (this.#arrivedAt < 0) this.#arrivedAt = performance.now();
    dispatchRequest(msg, this.#arrivedAt, this.#inbound, this.#host, this.#state === 'open', this.#token, this);
  }

  /**
   * Stops one request now: its AbortSignal fires and, unless `code` is CANCELLED, the client gets an error
   * RESPONSE at once (the handler's eventual result is dropped).
   */
  abortRequest(id: bigint, code: ErrorCode, message: string, retryable: boolean): void {
    this.#inbound.abort(id, code, message, retryable);
  }

  /** Aborts every request in flight (a bounded drain ran out). */
  abortAll(code: ErrorCode, message: string): void {
    this.#inbound.abortAll(code, message);
  }

  async #onReauth(msg: JsonMessage): Promise<void> {
    if (msg.id === 0n) throw new MeshError('PROTOCOL_ERROR', 'REAUTH needs a non-zero id');
    const outcome = await checkReauth(this.#host, msg.payload, this.#token?.sub);
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (!outcome.ok) {
      const { code, message } = outcome;
      this.#out.send(encodeErrorResponse(msg.id, statusForCode(code), code, message, false));
      return;
    }
    const verified = outcome.token;
    this.#token = verified;
    this.#tokenExpiresAt = (verified.exp ?? 0) * 1000;
    this.#out.send(encodeResponse(msg.id, Status.OK, Buffer.from(JSON.stringify({ tokenExp: verified.exp ?? null }))));
    if (this.#logs.enabled('debug')) this.#logs.log.debug({ tokenExp: verified.exp }, 'token replaced');
  }

  #onPeerClose(): void {
    this.#peerClosed = true;
    this.#transitionTo(['open'], 'going_away');
    this.#maybeFinish();
  }

  // ---- outbound -----------------------------------------------------------------

  /** Sends a SIGNAL to the agent. */
  signal(name: string, body: Uint8Array = EMPTY): void {
    if (this.#state !== 'open' && this.#state !== 'going_away')
      throw new MeshError('CONNECTION_CLOSED', 'session is not open');
    this.#out.send(encodeSignal(name, body));
  }

  /** Sends a REQUEST to the agent and resolves with the RESPONSE body. */
  request(method: string, body: Uint8Array, options: OutgoingRequestOptions = {}): Promise<Buffer> {
    if (this.#state !== 'open' && this.#state !== 'going_away') {
      return Promise.reject(new MeshError('CONNECTION_CLOSED', 'session is not open'));
    }
    this.#outgoingTable ??= new OutgoingRequests(
      (frame) => {
        this.#out.send(frame);
      },
      this.#host.now,
      () => this.#token?.sub ?? 'unknown',
    );
    return this.#outgoingTable.request(method, body, options);
  }

  /**
   * No new requests on this connection: sends GOAWAY; accepted requests finish, then the connection closes
   * (after a short grace so requests crossing the GOAWAY get a DRAINING answer rather than silence).
   */
  goAway(reason: 'draining' | 'token_expired' | 'shutdown', retryAfterMs = this.#config.retryAfterMs): void {
    if (!this.#transitionTo(['open'], 'going_away')) return;
    this.#goAwayAt = this.#host.now();
    this.#host.metrics.goaways.inc({ reason });
    this.#logs.log.info({ reason, inFlight: this.#inbound.size }, 'GOAWAY');
    this.#out.send(encodeJson(MessageKind.GOAWAY, this.#inbound.lastAccepted, { reason, retryAfterMs }));
    this.#graceTimer = setTimeout(() => {
      this.#maybeFinish();
    }, this.#config.goAwayGraceMs).unref();
  }

  /** Called by the spearlet's sweep: PING when idle, close a silent peer, expire outgoing deadlines. */
  tick(now: number): void {
    if (this.#state !== 'open' && this.#state !== 'going_away') return;
    if (this.#host.faults?.partitioned === true) {
      this.#hold.hold(this.socket);
      return;
    }
    if (this.#hold.active) this.#healPartition(now);
    if (this.#tokenExpiresAt > 0 && now >= this.#tokenExpiresAt && this.#state === 'open') this.goAway('token_expired');
    this.#outgoingTable?.expire(now);
    const missed = this.#heartbeat.missed;
    const verdict = this.#heartbeat.check(now);
    if (verdict === 'dead') {
      const silentMs = this.#heartbeat.silentMs(now);
      this.#host.metrics.heartbeatTimeouts.inc();
      this.#logs.log.warn({ silentMs, missed }, 'heartbeat timeout: closing a silent peer');
      this.#closeWithError('HEARTBEAT_TIMEOUT', `nothing received for ${silentMs} ms`);
      return;
    }
    if (verdict === 'ping') {
      if (this.#heartbeat.missed > missed) this.#host.metrics.heartbeatsMissed.inc();
      this.#out.send(encodeControl(MessageKind.PING, this.#heartbeat.nextPingId()));
    }
  }

  /** Closes at once, dropping whatever is in flight. Idempotent. */
  destroy(): void {
    this.#out.writable = false;
    // Hand what this tick wrote to the kernel before the socket goes.
    this.#out.flush();
    this.socket.destroy();
  }

  /** A drill partition began: stop reading; what already arrived is read once it heals. */
  #healPartition(now: number): void {
    const held = this.#hold.release();
    this.#heartbeat.touch(now);
    for (const chunk of held) this.#onData(chunk);
    // Reading the held chunks may have met a new partition, which pauses the socket again.
    if (!this.#out.paused && !this.#hold.active) this.socket.resume();
  }

  /** The one place the state changes: nothing happens unless the current state is in `from`. */
  #transitionTo(from: readonly SessionState[], to: SessionState): boolean {
    if (!from.includes(this.#state)) return false;
    if (this.#logs.enabled('debug')) this.#logs.log.debug({ from: this.#state, to }, 'session state');
    this.#state = to;
    return true;
  }

  #maybeFinish(): void {
    if (this.#state !== 'going_away' || this.#inbound.size > 0) return;
    if (!this.#peerClosed && this.#host.now() - this.#goAwayAt < this.#config.goAwayGraceMs) return;
    this.#endOrderly();
  }

  #endOrderly(): void {
    if (!this.#transitionTo(['handshake', 'open', 'going_away'], 'closing')) return;
    this.#out.send(encodeCloseFrame());
    this.#end();
  }

  #end(): void {
    this.#out.end();
    this.#endTimer = setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
  }

  #closeWithError(code: ErrorCode, message: string): void {
    if (!this.#transitionTo(['handshake', 'open', 'going_away'], 'closing')) return;
    this.#out.send(encodeJson(MessageKind.ERROR, 0n, { code, message }));
    this.#end();
  }

  #refuse(result: HandshakeResult, code: ErrorCode, message: string): void {
    if (this.#state !== 'handshake') return;
    this.#host.metrics.handshakes.inc({ result });
    this.#logs.log.info({ code, result }, 'handshake refused');
    this.#queued = null;
    this.#closeWithError(code, message);
  }

  #onHandshakeTimeout(): void {
    this.#handshakeTimer = undefined;
    if (this.#state !== 'handshake') return;
    this.#host.metrics.handshakes.inc({ result: 'timeout' });
    this.#logs.log.info('handshake timeout');
    this.#closeWithError('HANDSHAKE_TIMEOUT', `no HELLO within ${this.#config.handshakeTimeoutMs} ms`);
  }

  #fail(err: unknown): void {
    const e = err instanceof MeshError ? err : new MeshError('PROTOCOL_ERROR', 'protocol error', { cause: err });
    if (!(err instanceof MeshError)) this.#logs.log.warn({ err }, 'unexpected error on a session');
    else this.#logs.log.info({ code: e.code, msg: e.message }, 'closing on protocol violation');
    if (this.#state === 'handshake') this.#host.metrics.handshakes.inc({ result: 'invalid' });
    this.#closeWithError(e.code, e.message);
  }

  #finalize(): void {
    const wasOpen = this.#state !== 'handshake' && this.#token !== undefined;
    if (!this.#transitionTo(['handshake', 'open', 'going_away', 'closing'], 'closed')) return;
    this.#out.writable = false;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#endTimer);
    this.#inbound.dropAll();
    // An error (with its stack) only when a request is there to receive it: most closes are orderly.
    if (this.#outgoingTable !== undefined && this.#outgoingTable.size > 0) {
      this.#outgoingTable.rejectAll(new MeshError('CONNECTION_CLOSED', 'connection closed', { retryable: true }));
    }
    if (wasOpen && this.#logs.enabled('info')) {
      this.#logs.log.info({ requests: this.#inbound.accepted }, 'session closed');
    }
    this.#host.sessionClosed(this);
    this.#resolveClosed?.();
  }
}

const EMPTY = new Uint8Array(0);
