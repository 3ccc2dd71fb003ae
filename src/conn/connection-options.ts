// Options, defaults and events of a MeshConnection, kept apart so the connection module holds behaviour only.
import type { BackoffOptions } from '../util/backoff.ts';
import type { Logger } from '../util/logger.ts';
import type { HandshakeRefusedError } from './errors.ts';
import type { ConnState } from './states.ts';
import type { TransportTarget } from './transport.ts';
import type { GoawayInfo } from './welcome.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
export const DEFAULT_TICK_MS = 20;
/**
 * After a handshake refusal retrying cannot fix (HandshakeRefusedError), the connection opens no socket with the same
 * token for this long; it asks the token provider again on the reconnect backoff and retries at once with a new token.
 */
export const DEFAULT_REFUSED_RETRY_MS = 30_000;
export const DEFAULT_RECONNECT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  initialMs: 250,
  multiplier: 1.6,
  maxMs: 30_000,
  jitter: 0.2,
});

export interface MeshConnectionOptions {
  /** Names the spearlet in logs and errors (the endpoint id). */
  readonly spearletId: string;
  readonly target: TransportTarget;
  /** Called on every (re)connect and before the token expires (REAUTH). Must not return an expired token. */
  readonly tokenProvider: () => Promise<string>;
  readonly agentName?: string | undefined;
  readonly logger?: Logger | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly handshakeTimeoutMs?: number | undefined;
  /** PING after this long without sending; default: WELCOME's heartbeatMs. */
  readonly heartbeatMs?: number | undefined;
  /** Declare the spearlet dead after this long without receiving; default: WELCOME's, else 3 x heartbeatMs. */
  readonly heartbeatTimeoutMs?: number | undefined;
  /** The one coarse timer per connection: heartbeats, deadlines, handshake timeout and REAUTH are checked on it. */
  readonly tickMs?: number | undefined;
  /** Reconnect after a failure (default true). */
  readonly reconnect?: boolean | undefined;
  readonly backoff?: BackoffOptions | undefined;
  /** How long a refused token is not presented again to this spearlet (default DEFAULT_REFUSED_RETRY_MS). */
  readonly refusedRetryMs?: number | undefined;
  /** Send REAUTH this long before the token's exp; default a fifth of the remaining lifetime, at most 60 s. */
  readonly reauthLeadMs?: number | undefined;
  /** The clock for deadlines, heartbeats and grace periods (tests pass a fake one); default Date.now. */
  readonly now?: (() => number) | undefined;
}

export interface ConnRequestOptions {
  /** The request may run more than once (flag 1). */
  readonly idempotent?: boolean | undefined;
  /** The spearlet sends no RESPONSE (flag 2); the promise resolves once written. */
  readonly noReply?: boolean | undefined;
  /** Absolute Date.now() time by which the answer must arrive; sent to the spearlet as a relative deadline. */
  readonly deadlineAt?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The callback form of a request's outcome (MeshConnection.dispatch): exactly one of the two is called, once.
 * `onResponse` runs inside the socket's read callback, before the connection reads the next frame: it must not throw
 * and must not write to this connection. `onError` may run synchronously inside dispatch() (nothing was sent) or
 * inside the connection's own teardown: whatever it starts next belongs in a microtask.
 */
export interface ResponseHandler {
  /** `receivedAt`: performance.now() when the bytes carrying the RESPONSE were read (one reading per read). */
  onResponse(body: Buffer, receivedAt: number): void;
  onError(err: Error): void;
}

export interface MeshConnectionEvents {
  state: [to: ConnState, from: ConnState, err: Error | undefined];
  signal: [name: string, body: Buffer];
  goaway: [info: GoawayInfo];
  /** The spearlet refused the handshake for a reason retrying with the same token cannot fix. */
  refused: [err: HandshakeRefusedError];
}
