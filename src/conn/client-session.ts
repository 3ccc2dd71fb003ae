// One socket's worth of the agent's side of the protocol: HELLO/WELCOME, request correlation, heartbeats, REAUTH.
import type { MeshError } from '../errors.ts';
import type { Logger } from '../util/logger.ts';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  MESH_MAGIC,
  MessageKind,
  RESPONSE_PREFIX_BYTES,
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
  u16le,
  u64le,
  type MeshMessage,
} from '../wire/index.ts';
import { FEATURES, PROTOCOL_VERSION } from '../protocol/constants.ts';
import { CancelledError, DeadlineExceededError, parseRemoteError, RemoteError } from '../protocol/errors.ts';
import { HeartbeatMonitor } from '../protocol/heartbeat.ts';
import { RequestTable, type PendingRequest } from '../protocol/request-table.ts';
import type { ConnRequestOptions, ResponseHandler } from './connection-options.ts';
import {
  ConnectFailedError,
  ConnectionClosedError,
  HandshakeRefusedError,
  HandshakeTimeoutError,
  HeartbeatTimeoutError,
  NON_RETRYABLE_REFUSALS,
  RequestTooLargeError,
} from './errors.ts';
import { HandlerEntry } from './handler-entry.ts';
import { REQUEST_OVERHEAD_BYTES, RequestFrame } from './request-frame.ts';
import { monotonicNow } from '../util/monotonic.ts';
import type { Transport } from './transport.ts';
import { parseGoaway, parseWelcome, type GoawayInfo, type WelcomeInfo } from './welcome.ts';

const EMPTY = Buffer.alloc(0);

/** What a session reports to the endpoint connection that owns it. Nothing is reported after `destroy()`. */
export interface ClientSessionOwner {
  /** WELCOME arrived: the session is open. */
  opened(welcome: WelcomeInfo): void;
  /** The session is unusable (refused, timed out, protocol error, socket gone); the owner destroys it. */
  failed(err: Error, reason: string): void;
  goaway(info: GoawayInfo): void;
  signal(name: string, body: Buffer): void;
  /** No request is in flight any more (after GOAWAY or while the owner closes gracefully). */
  idle(): void;
}

export interface ClientSessionConfig {
  readonly spearletId: string;
  readonly agentName: string | undefined;
  readonly tokenProvider: () => Promise<string>;
  readonly handshakeTimeoutMs: number;
  readonly heartbeatMs: number | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
  readonly reauthLeadMs: number | undefined;
  readonly tickMs: number;
  readonly now: () => number;
  readonly log: Logger;
}

type Phase = 'handshake' | 'open' | 'draining' | 'closed';

/**
 * Created per socket by MeshConnection. Request ids are u64 on the wire; locally they count up from 1 as safe
 * integers. Deadlines, heartbeats, the handshake deadline and REAUTH all run on one coarse timer.
 */
export class ClientSession {
  readonly #c: ClientSessionConfig;
  readonly #owner: ClientSessionOwner;
  readonly #pending: RequestTable;
  readonly #heartbeat = new HeartbeatMonitor();
  readonly #decoder: FrameDecoder;
  /** Encodes each REQUEST straight into the frame writer's memory. */
  readonly #requestFrame = new RequestFrame();
  #transport: Transport | undefined;
  #phase: Phase = 'handshake';
  #welcome: WelcomeInfo | undefined;
  #nextId = 0;
  #ticker: NodeJS.Timeout | undefined;
  #handshakeDeadlineAt = 0;
  #reauthAt = 0;
  #reauthInFlight = false;
  /** The token the spearlet holds for this session (HELLO or the last REAUTH). */
  #token: string;
  #endSent = false;
  /** The owner waits for the last request to finish (a graceful close). */
  #watchIdle = false;
  /** performance.now() for the chunk being read, taken at its first answer; -1 until then. */
  #receivedAt = -1;

  constructor(config: ClientSessionConfig, owner: ClientSessionOwner, token: string) {
    this.#c = config;
    this.#owner = owner;
    this.#token = token;
    // A request cancelled by its signal (the caller's, or its endpoint's move signal): tell the spearlet.
    this.#pending = new RequestTable({
      onCancelled: (id) => {
        this.#sendCancel(id);
        this.#afterSettle();
      },
    });
    this.#decoder = new FrameDecoder({
      onFrame: (body) => {
        // An answer, the frame a busy connection carries most, is read from its bytes: no message object and no
        // BigInt id (decodeMessage checks the same things: kind, the 12-byte prefix; undefined flags are ignored).
        if (body[0] === MessageKind.RESPONSE && this.#phase !== 'handshake' && body.length >= RESPONSE_PREFIX_BYTES) {
          this.#onResponse(body);
          return;
        }
        this.#onFrame(decodeMessage(body));
      },
      onClose: () => {
        this.#fail(new ConnectionClosedError(this.#c.spearletId, 'the spearlet closed the connection'), 'peer closed');
      },
    });
  }

  get welcome(): WelcomeInfo | undefined {
    return this.#welcome;
  }
  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#pending.inFlight;
  }
  get bufferedBytes(): number {
    return this.#transport?.bufferedBytes ?? 0;
  }

  /** Takes the socket, sends preface and HELLO and starts the coarse timer. */
  start(transport: Transport): void {
    this.#transport = transport;
    const hello = encodeJson(MessageKind.HELLO, 0n, {
      v: PROTOCOL_VERSION,
      token: this.#token,
      agent: this.#c.agentName,
      features: FEATURES,
    });
    this.#handshakeDeadlineAt = this.#c.now() + this.#c.handshakeTimeoutMs;
    this.#ticker = setInterval(() => {
      this.#tick();
    }, this.#c.tickMs);
    this.#ticker.unref();
    this.#write(Buffer.concat([MESH_MAGIC, hello]));
  }

  /** Bytes from the socket. */
  onData(chunk: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#heartbeat.markReceived();
    this.#receivedAt = -1;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const code = (err as Partial<MeshError>).code ?? 'PROTOCOL_ERROR';
      this.#write(encodeJson(MessageKind.ERROR, 0n, { code, message: e.message }));
      this.#fail(e, 'protocol violation');
    }
  }

  /** The socket closed under us. */
  onTransportClose(err: Error | undefined): void {
    if (this.#phase === 'closed') return;
    const reason = this.#phase === 'draining' ? 'drained' : err === undefined ? 'connection closed' : err.message;
    this.#fail(new ConnectionClosedError(this.#c.spearletId, reason, err), reason);
  }

  /** See MeshConnection.request; the owner has checked the session is open. Throws what dispatch() throws. */
  request(method: string, body: Uint8Array, options: ConnRequestOptions): Promise<Buffer> {
    let handler!: ResponseHandler;
    const answered = new Promise<Buffer>((resolve, reject) => {
      handler = { onResponse: resolve, onError: reject };
    });
    this.dispatch(method, body, options, handler);
    return answered;
  }

  /**
   * See MeshConnection.dispatch; the owner has checked the session is open. A refused request (nothing sent) goes to
   * handler.onError at once. Throws the TypeError of a method name the encoder cannot encode.
   */
  dispatch(method: string, body: Uint8Array, options: ConnRequestOptions, handler: ResponseHandler): void {
    const signal = options.signal;
    if (signal?.aborted === true) {
      handler.onError(new CancelledError(method, signal.reason));
      return;
    }
    const deadlineAt = options.deadlineAt ?? 0;
    let deadlineMs = 0;
    if (deadlineAt > 0) {
      deadlineMs = Math.ceil(deadlineAt - this.#c.now());
      if (deadlineMs <= 0) {
        handler.onError(new DeadlineExceededError(method, 0));
        return;
      }
    }
    // The spearlet closes the whole connection on a frame over its limit: refuse this one request here instead.
    // Only a request near the limit pays for the exact size (a UTF-8 byte count is at most 3 per UTF-16 unit).
    const limit = this.#welcome?.maxFrame ?? Infinity;
    if (body.byteLength + REQUEST_OVERHEAD_BYTES + 3 * method.length > limit) {
      const size = REQUEST_OVERHEAD_BYTES + Buffer.byteLength(method, 'utf8') + body.byteLength;
      if (size > limit) {
        handler.onError(new RequestTooLargeError(this.#c.spearletId, `request '${method}'`, size, limit));
        return;
      }
    }
    const id = ++this.#nextId;
    const flags =
      (options.idempotent === true ? RequestFlag.IDEMPOTENT : 0) |
      (options.noReply === true ? RequestFlag.NO_REPLY : 0);
    // Encoded in place, into the frame writer's memory, when the values fit the in-place encoder; otherwise by
    // encodeRequest, which throws the TypeError it always did. Both throw for a method name they cannot encode.
    const frame = RequestFrame.fits(deadlineMs, body)
      ? undefined
      : encodeRequest(BigInt(id), flags, deadlineMs, method, body);
    if (frame === undefined) this.#requestFrame.set(id, flags, deadlineMs, method, body);
    if (options.noReply === true) {
      this.#writeRequest(frame);
      handler.onResponse(EMPTY, monotonicNow());
      return;
    }
    // The table listens to `signal` (one listener per signal, shared by the requests that carry it).
    this.#pending.add(id, new HandlerEntry(method, handler, deadlineAt, deadlineMs, signal));
    this.#writeRequest(frame);
  }

  /** Reports idle() once nothing is in flight (at once when nothing is). */
  watchIdle(): void {
    this.#watchIdle = true;
    this.#maybeIdle();
  }

  /** Throws REQUEST_TOO_LARGE (nothing sent) when the signal exceeds the spearlet's maximum frame size. */
  sendSignal(name: string, body: Uint8Array): void {
    const frame = encodeSignal(name, body);
    const limit = this.#welcome?.maxFrame ?? Infinity;
    if (frame.length - FRAME_HEADER_BYTES > limit)
      throw new RequestTooLargeError(this.#c.spearletId, `signal '${name}'`, frame.length - FRAME_HEADER_BYTES, limit);
    this.#write(frame);
  }

  /** Stops the timer and rejects everything pending with `err`; the caller releases the transport. Idempotent. */
  destroy(err: Error): Transport | undefined {
    if (this.#phase === 'closed') return undefined;
    this.#phase = 'closed';
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#pending.rejectAll(err);
    const transport = this.#transport;
    this.#transport = undefined;
    return transport;
  }

  // ---- inbound -------------------------------------------------------------------------------------------------

  /** A RESPONSE frame body ([u8 kind][u8 flags][u64 LE id][u16 status][body]), at least its 12-byte prefix. */
  #onResponse(frame: Buffer): void {
    if (this.#phase === 'closed') return;
    // The id as a number (rounded above 2^53 as Number(BigInt) rounds it): this side only issues ids up to 2^53.
    this.#answer(u64le(frame, 2), u16le(frame, 10), frame.subarray(RESPONSE_PREFIX_BYTES));
  }

  #answer(id: number, status: number, body: Buffer): void {
    const p = this.#settle(id);
    if (p === undefined) return;
    // One clock reading serves every answer of the chunk (the agent times its attempts with it).
    if (this.#receivedAt < 0) this.#receivedAt = monotonicNow();
    if (status === Status.OK) p.resolve(body, this.#receivedAt);
    else p.reject(parseRemoteError(this.#c.spearletId, status, body, false));
  }

  #onFrame(msg: MeshMessage): void {
    if (this.#phase === 'closed') return;
    if (this.#phase === 'handshake') {
      if (msg.kind === MessageKind.WELCOME) this.#onWelcome(msg.payload);
      else if (msg.kind === MessageKind.ERROR) this.#fail(this.#refusal(msg.payload), 'handshake refused');
      else
        throw new RemoteError(
          this.#c.spearletId,
          0,
          'PROTOCOL_ERROR',
          `unexpected ${String(msg.kind)} before WELCOME`,
          false,
        );
      return;
    }
    switch (msg.kind) {
      case MessageKind.RESPONSE: {
        this.#answer(Number(msg.id), msg.status, msg.body);
        return;
      }
      case MessageKind.PING:
        this.#write(encodeControl(MessageKind.PONG, msg.id));
        return;
      case MessageKind.PONG:
        return;
      case MessageKind.SIGNAL:
        this.#owner.signal(msg.name, msg.body);
        return;
      case MessageKind.GOAWAY:
        this.#onGoaway(msg.id, msg.payload);
        return;
      case MessageKind.ERROR: {
        const e = parseRemoteError(this.#c.spearletId, 0, msg.payload, false);
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
          const message = `agent serves no method '${msg.method}'`;
          this.#write(encodeErrorResponse(msg.id, Status.NOT_FOUND, 'METHOD_NOT_FOUND', message, false));
        }
        return;
      default:
        this.#c.log.debug({ kind: msg.kind }, 'ignoring unexpected frame from spearlet');
    }
  }

  /** The error for an ERROR before WELCOME: HandshakeRefusedError when retrying cannot help, else CONNECT_FAILED. */
  #refusal(payload: Buffer): MeshError {
    const id = this.#c.spearletId;
    const e = parseRemoteError(id, 0, payload, false);
    if (!NON_RETRYABLE_REFUSALS.has(e.remoteCode)) return new ConnectFailedError(id, e.message, e);
    const prefix = `spearlet ${id}: ${e.remoteCode}: `;
    return new HandshakeRefusedError(
      id,
      e.code,
      e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message,
      e,
    );
  }

  #onWelcome(payload: Buffer): void {
    const welcome = parseWelcome(payload);
    this.#welcome = welcome;
    const intervalMs = this.#c.heartbeatMs ?? welcome.heartbeatMs;
    const timeoutMs = this.#c.heartbeatTimeoutMs ?? welcome.heartbeatTimeoutMs ?? 3 * intervalMs;
    const now = this.#c.now();
    this.#heartbeat.reset(intervalMs, timeoutMs, now);
    this.#scheduleReauth(welcome.tokenExp, now);
    this.#phase = 'open';
    this.#owner.opened(welcome);
  }

  #onGoaway(lastId: bigint, payload: Buffer): void {
    const info = parseGoaway(lastId, payload);
    if (this.#phase === 'open') this.#phase = 'draining';
    this.#owner.goaway(info);
    // Requests that crossed the GOAWAY were not accepted: they did not run, so they may go elsewhere at once.
    for (const p of this.#pending.takeAbove(lastId)) {
      p.reject(new ConnectionClosedError(this.#c.spearletId, `GOAWAY (${info.reason}) crossed the request`));
    }
    this.#maybeIdle();
  }

  #maybeIdle(): void {
    if (this.#pending.inFlight > 0 || this.#phase === 'closed') return;
    if (this.#watchIdle || this.#phase === 'draining') this.#owner.idle();
    if (this.#phase === 'draining' && this.#transport !== undefined && !this.#endSent) {
      this.#endSent = true;
      // Drained after GOAWAY: close our side; the transport's close then reports the session as failed ('drained').
      this.#write(encodeCloseFrame());
      this.#transport.end();
    }
  }

  // ---- REAUTH ----------------------------------------------------------------------------------------------------

  #scheduleReauth(tokenExp: number | null, now: number): void {
    this.#reauthAt = 0;
    if (tokenExp === null) return;
    const remaining = tokenExp * 1000 - now;
    const lead = this.#c.reauthLeadMs ?? Math.min(60_000, remaining / 5);
    this.#reauthAt = now + Math.max(0, remaining - lead);
  }

  #reauth(): void {
    if (this.#reauthInFlight) return;
    this.#reauthInFlight = true;
    this.#reauthAt = 0;
    this.#c.tokenProvider().then(
      (token) => {
        if (this.#phase !== 'open') {
          this.#reauthInFlight = false;
          return;
        }
        if (token === this.#token) {
          // Nothing to replace (a fixed token): at exp the spearlet sends GOAWAY and the reconnect asks again.
          this.#reauthInFlight = false;
          this.#c.log.debug('token provider returned the current token; no REAUTH');
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
              this.#c.log.warn({ err }, 'unreadable REAUTH response; keeping the old expiry schedule');
            }
            this.#scheduleReauth(typeof exp === 'number' ? exp : null, this.#c.now());
            this.#c.log.debug('token replaced by REAUTH');
          },
          reject: (err) => {
            this.#reauthInFlight = false;
            this.#c.log.warn({ err }, 'REAUTH failed; the spearlet will send GOAWAY at token expiry and we reconnect');
          },
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
        this.#c.log.warn({ err }, 'token provider failed during REAUTH');
      },
    );
  }

  // ---- timer, settling, writing --------------------------------------------------------------------------------

  #tick(): void {
    const now = this.#c.now();
    if (this.#phase === 'handshake') {
      if (now >= this.#handshakeDeadlineAt)
        this.#fail(new HandshakeTimeoutError(this.#c.spearletId, this.#c.handshakeTimeoutMs), 'handshake timeout');
      return;
    }
    if (this.#phase === 'closed') return;
    const verdict = this.#heartbeat.check(now);
    if (verdict === 'dead') {
      const silent = this.#heartbeat.silentMs(now);
      this.#fail(new HeartbeatTimeoutError(this.#c.spearletId, silent), 'heartbeat timeout');
      return;
    }
    if (verdict === 'ping') this.#transport?.write(encodeControl(MessageKind.PING, this.#heartbeat.nextPingId()));
    if (now >= this.#pending.nextDeadlineAt) {
      this.#pending.expire(now, this.#sendCancel);
      this.#maybeIdle();
    }
    if (this.#reauthAt > 0 && now >= this.#reauthAt && this.#phase === 'open') this.#reauth();
  }

  readonly #sendCancel = (id: number): void => {
    this.#write(encodeControl(MessageKind.CANCEL, BigInt(id)));
  };

  /** Removes a pending entry; when that empties a draining session, reports idle (after the caller settles it). */
  #settle(id: number): PendingRequest | undefined {
    const p = this.#pending.take(id);
    if (p !== undefined) this.#afterSettle();
    return p;
  }

  /** After an entry left the table: when that emptied a draining session, reports idle (in a microtask). */
  #afterSettle(): void {
    if (this.#pending.inFlight === 0 && (this.#phase === 'draining' || this.#watchIdle)) {
      queueMicrotask(() => {
        this.#maybeIdle();
      });
    }
  }

  #fail(err: Error, reason: string): void {
    if (this.#phase === 'closed') return;
    this.#owner.failed(err, reason);
  }

  #write(frame: Buffer): void {
    this.#heartbeat.markSent();
    this.#transport?.write(frame);
  }

  /** Writes `frame`, or (undefined) the REQUEST set in #requestFrame. */
  #writeRequest(frame: Buffer | undefined): void {
    this.#heartbeat.markSent();
    if (frame === undefined) this.#transport?.writeInPlace(this.#requestFrame);
    else this.#transport?.write(frame);
  }
}
